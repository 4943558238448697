"""Licensed image search: license codes, the providers' requests and responses, the one client
(pagination, license filter, 429 with Retry-After, retries, the page cache) against loopback
Openverse and Commons fakes, keys from the environment, providers of one's own, recipe errors."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path

import pytest
from fake_search import FakeSearch

from visinstruct.domains import builtin_domains, load_catalog
from visinstruct.errors import RecipeError
from visinstruct.recipe import SearchSpec, parse_recipe
from visinstruct.runner import preflight
from visinstruct.sources.search import (
    SearchError,
    SearchPage,
    SearchProvider,
    SearchRequest,
    SearchResult,
    expand_licenses,
    normalise_license,
    provider_class,
    register,
    retry_after,
    search_items,
)
from visinstruct.sources.search.cache import search_counts, search_failures
from visinstruct.sources.search.commons import Commons
from visinstruct.sources.search.openverse import Openverse

CATALOG = builtin_domains()
ROOT = Path(__file__).resolve().parents[1]


def spec(**kw) -> SearchSpec:
    return SearchSpec(**{"min_interval": 0, **kw})


def collect(s: SearchSpec, db=None, env=None, catalog=CATALOG) -> list:
    async def go():
        return [(place, item) async for place, item in search_items(s, catalog, db, None, env or {})]

    return asyncio.run(go())


@pytest.fixture
def fake():
    with FakeSearch(token="ov-secret") as f:
        yield f


# -- licenses ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("texts", "want"),
    [
        (("https://creativecommons.org/licenses/by-sa/4.0",), ("by-sa", "4.0")),
        (("https://creativecommons.org/publicdomain/zero/1.0/",), ("cc0", "1.0")),
        (("https://creativecommons.org/publicdomain/mark/1.0/",), ("pdm", "1.0")),
        (("CC BY-SA 4.0",), ("by-sa", "4.0")),
        (("cc-by-nc-nd-3.0",), ("by-nc-nd", "3.0")),
        (("cc-zero",), ("cc0", "1.0")),
        (("CC0",), ("cc0", None)),
        (("by",), ("by", None)),
        (("Public domain",), ("pdm", None)),
        (("GFDL",), (None, None)),
        ((None, "", "CC BY 2.0"), ("by", "2.0")),
    ],
)
def test_licenses_are_read_from_urls_codes_and_names(texts, want):
    assert normalise_license(*texts) == want


def test_license_groups_expand_and_unknown_names_are_refused():
    assert expand_licenses(["public-domain", "by"]) == ["cc0", "pdm", "by"]
    assert "by-nc" not in expand_licenses(["commercial"]) and "by-nd" in expand_licenses(["commercial"])
    with pytest.raises(ValueError, match="unknown license 'cc-by'"):
        expand_licenses(["cc-by"])


def test_retry_after_reads_seconds_and_http_dates():
    assert retry_after("12") == 12.0
    now = datetime(2025, 1, 1, tzinfo=timezone.utc)
    later = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert retry_after(later, now=now.timestamp()) == pytest.approx(30)
    assert retry_after(format_datetime(now - timedelta(seconds=5), usegmt=True), now=now.timestamp()) == 0
    assert retry_after("soon") is None and retry_after(None) is None


# -- the providers' own halves -----------------------------------------------------------------


def test_openverse_request_and_documented_response():
    ov = Openverse(base_url="https://mirror.example/v1/", source="flickr")
    req = ov.request("Eiffel Tower", ["cc0", "by"], 20, None)
    assert req.url == "https://mirror.example/v1/images/"
    assert req.params == {
        "q": "Eiffel Tower",
        "page": "1",
        "page_size": "20",
        "license": "cc0,by",
        "source": "flickr",
    }
    body = {
        "result_count": 3, "page_count": 2, "page_size": 2, "page": 1,
        "results": [
            {"id": "a1", "title": "Tower", "foreign_landing_url": "https://flickr.example/p/1",
             "url": "https://live.example/1.jpg", "creator": "Ann", "creator_url": None, "license": "by-sa",
             "license_version": "2.0", "license_url": "https://creativecommons.org/licenses/by-sa/2.0/",
             "provider": "flickr", "source": "flickr", "filetype": "jpg",
             "attribution": '"Tower" by Ann is licensed under CC BY-SA 2.0.'},
            {"id": "a2", "title": None, "url": None, "license": "by"},  # no file: passed over
        ],
    }  # fmt: skip
    page = ov.parse(body)
    [r] = page.results
    assert (r.license, r.license_version, r.creator, r.source_page) == (
        "by-sa",
        "2.0",
        "Ann",
        "https://flickr.example/p/1",
    )
    assert (
        r.provider == "openverse/flickr" and r.mime == "image/jpeg" and r.credit.startswith('"Tower" by Ann')
    )
    assert page.next == 2 and page.total == 3
    assert ov.parse({**body, "page": 2}).next is None
    with pytest.raises(ValueError, match="not an Openverse search response"):
        ov.parse({"detail": "x"})


def test_commons_parses_extmetadata_in_both_format_versions():
    page = {
        "pageid": 81754323, "ns": 6, "title": "File:Lone Tree.jpg", "index": 2,
        "imageinfo": [{
            "url": "https://upload.example/orig.jpg", "thumburl": "https://upload.example/1280px.jpg",
            "thumbwidth": 1280, "thumbheight": 720, "mime": "image/jpeg",
            "descriptionurl": "https://commons.example/wiki/File:Lone_Tree.jpg",
            "extmetadata": {
                "Artist": {"value": '<a href="//commons.example/wiki/User:PtrQs">PtrQs</a>'},
                "License": {"value": "cc-by-sa-4.0"}, "LicenseShortName": {"value": "CC BY-SA 4.0"},
                "LicenseUrl": {"value": "https://creativecommons.org/licenses/by-sa/4.0"},
                "ObjectName": {"value": "Lone Tree"},
            },
        }],
    }  # fmt: skip
    first = {"pageid": 1, "title": "File:First.png", "index": 1,
             "imageinfo": [{"url": "https://upload.example/first.png", "mime": "image/png",
                            "extmetadata": {"License": {"value": "pd"}}}]}  # fmt: skip
    for pages in ([page, first], {"81754323": page, "1": first}):  # formatversion 2 and 1
        got = Commons().parse(
            {"continue": {"gsroffset": 2, "continue": "gsroffset||"}, "query": {"pages": pages}}
        )
        assert [r.title for r in got.results] == ["First", "Lone Tree"]  # in search rank
        r = got.results[1]
        assert (r.url, r.license, r.license_version) == ("https://upload.example/1280px.jpg", "by-sa", "4.0")
        assert (r.creator, r.creator_url) == ("PtrQs", "https://commons.example/wiki/User:PtrQs")
        assert r.source_page.endswith("File:Lone_Tree.jpg") and r.width == 1280
        assert got.results[0].license == "pdm" and got.next == {"gsroffset": 2, "continue": "gsroffset||"}
    req = Commons().request("Lone tree", ["by"], 10, {"gsroffset": 10, "continue": "gsroffset||"})
    assert req.params["gsrsearch"] == "Lone tree filetype:bitmap" and req.params["gsroffset"] == "10"
    assert req.params["iiurlwidth"] == "1280" and "extmetadata" in req.params["iiprop"].split("|")
    with pytest.raises(ValueError, match="MediaWiki API error badparams"):
        Commons().parse({"error": {"code": "badparams", "info": "x"}})


# -- the client against the fakes --------------------------------------------------------------


def test_pages_are_followed_filtered_by_license_and_kept_in_the_run(fake):
    for i in range(5):
        fake.add("openverse", "harbour", f"h{i}.jpg", b"x", license="by" if i != 1 else "by-nc")
    fake.add("commons", "harbour", "c0.jpg", b"x", license="GFDL", version=None)
    for i in range(1, 4):
        fake.add("commons", "harbour", f"c{i}.jpg", b"x", license="by-sa")
    fake.add("commons", "harbour", "drawing.svg", b"x", license="cc0", content_type="image/svg+xml")
    db = sqlite3.connect(":memory:")
    ov = collect(spec(provider="openverse", queries=["harbour"], per_keyword=3, page_size=2,
                      base_url=fake.openverse_url), db)  # fmt: skip
    assert [i.url.rsplit("/", 1)[1] for _, i in ov] == ["h0.jpg", "h2.jpg", "h3.jpg"]
    assert [p for p, _ in ov] == [0, 1, 2]
    assert [pg for a, _, pg, _ in fake.log] == [1, 2]  # by-nc filtered by Openverse itself
    cm = collect(spec(provider="commons", queries=["harbour"], per_keyword=5, page_size=2,
                      base_url=fake.commons_url), db)  # fmt: skip
    assert [i.url.rsplit("/", 1)[1] for _, i in cm] == ["c1.jpg", "c2.jpg", "c3.jpg"]  # no GFDL, no SVG
    prov = cm[0][1].provenance
    assert prov["license"] == "by-sa" and prov["query"] == "harbour" and prov["source"] == "search"
    assert prov["search_provider"] == "commons" and prov["source_page"].startswith(fake.url)
    asked = len(fake.log)
    collect(
        spec(provider="commons", queries=["harbour"], per_keyword=5, page_size=2, base_url=fake.commons_url),
        db,
    )
    assert len(fake.log) == asked, "cached pages are not asked again"
    assert {c.provider: (c.pages, c.requests, c.retries) for c in search_counts(db)} == {
        "openverse": (2, 2, 0),
        "commons": (3, 3, 0),
    }


def test_429_is_honoured_as_a_retry_and_a_url_found_twice_is_taken_once(fake):
    fake.add("openverse", "a", "one.jpg", b"x")
    fake.add("openverse", "b", "one.jpg", b"x")
    fake.add("openverse", "b", "two.jpg", b"x")
    fake.throttle.add(("openverse", "b", 1))
    db = sqlite3.connect(":memory:")
    got = collect(
        spec(provider="openverse", queries=["a", "b"], per_keyword=5, base_url=fake.openverse_url), db
    )
    assert [i.url.rsplit("/", 1)[1] for _, i in got] == ["one.jpg", "two.jpg"]
    assert [p for p, _ in got] == [0, 10_001], "a result keeps its place in its query's slot"
    assert fake.log == [("openverse", "a", 1, 200), ("openverse", "b", 1, 429), ("openverse", "b", 1, 200)]
    assert fake.early == 0
    assert [(c.requests, c.retries, c.failed) for c in search_counts(db)] == [(3, 1, 0)]


def test_a_page_that_fails_is_recorded_and_asked_again_by_the_next_run(fake):
    fake.add("commons", "q1", "a.jpg", b"x")
    fake.add("commons", "q2", "b.jpg", b"x")
    fake.errors[("commons", "q1", 1)] = [500, 502]
    db = sqlite3.connect(":memory:")
    s = spec(provider="commons", queries=["q1", "q2"], base_url=fake.commons_url, retries=1)
    got = collect(s, db)
    assert [i.url.rsplit("/", 1)[1] for _, i in got] == ["b.jpg"], "the other query goes on"
    [(provider, query, page, reason)] = search_failures(db)
    assert (provider, query, page) == ("commons", "q1", 1)
    assert reason == "HTTP 502, after 1 retries"
    got = collect(s, db)
    assert [i.url.rsplit("/", 1)[1] for _, i in got] == ["a.jpg", "b.jpg"]
    assert [p for p, _ in got] == [0, 10_000]
    assert search_failures(db) == []


def test_a_retry_after_longer_than_max_wait_fails_the_page_at_once(fake):
    fake.add("openverse", "q", "a.jpg", b"x")
    fake.throttle.add(("openverse", "q", 1))
    db = sqlite3.connect(":memory:")
    assert (
        collect(spec(provider="openverse", queries=["q"], base_url=fake.openverse_url, max_wait=0.5), db)
        == []
    )
    [(_, _, _, reason)] = search_failures(db)
    assert "HTTP 429: Request was throttled" in reason and "more than max_wait (0.5 s)" in reason
    assert len(fake.log) == 1


def test_openverse_key_comes_from_the_environment_and_allows_larger_pages(fake):
    for i in range(30):
        fake.add("openverse", "q", f"{i}.jpg", b"x")
    db = sqlite3.connect(":memory:")
    s = spec(provider="openverse", queries=["q"], per_keyword=30, page_size=30, base_url=fake.openverse_url)
    assert collect(s, db) == []  # anonymous: a page of 30 is refused
    [(_, _, _, reason)] = search_failures(db)
    assert reason.startswith("HTTP 401: Ensure this value is less than or equal to 20")
    got = collect(s, db, env={"OPENVERSE_API_TOKEN": "ov-secret"})
    assert len(got) == 30 and fake.auth[-1] == "Bearer ov-secret" and fake.auth[0] is None
    assert "ov-secret" not in json.dumps(list(db.execute("SELECT * FROM search_pages")))
    # anonymous by default the page size stays within the anonymous limit
    fake.log.clear()
    collect(spec(provider="openverse", queries=["q"], per_keyword=25, base_url=fake.openverse_url))
    assert [pg for _, _, pg, _ in fake.log] == [1, 2]
    named = spec(provider="openverse", queries=["q"], key_env="MY_OPENVERSE_KEY", base_url=fake.openverse_url)
    with pytest.raises(SearchError, match="MY_OPENVERSE_KEY \\(key_env\\) is not set"):
        collect(named)


# -- providers of one's own ---------------------------------------------------------------------


class OwnSearch(SearchProvider):
    """A search API of one's own: GET <base>/find?text=…&from=… → {"hits": [...], "more": bool}."""

    name = "own"

    def request(self, query, licenses, page_size, cursor):
        return SearchRequest(f"{self.endpoint}/find", {"text": query, "from": str(cursor or 0)})

    def parse(self, body):
        hits = [
            SearchResult(url=h["src"], license=h["lic"], creator=h["by"], provider="own")
            for h in body["hits"]
        ]
        return SearchPage(hits, body["next"])


def test_a_provider_of_ones_own_plugs_in_by_name_or_module_path(tmp_path):
    from aiohttp import web

    async def find(request):
        start = int(request.query["from"])
        hits = [{"src": f"https://img.example/{request.query['text']}/{i}.jpg", "lic": "by", "by": "me"}
                for i in range(start, start + 2)]  # fmt: skip
        return web.json_response({"hits": hits, "next": start + 2 if start < 2 else None})

    async def go(provider: str) -> list:
        app = web.Application()
        app.router.add_get("/find", find)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        s = spec(provider=provider, queries=["boats"], per_keyword=5, base_url=f"http://127.0.0.1:{port}")
        try:
            return [i async for _, i in search_items(s, CATALOG, None, None, {})]
        finally:
            await runner.cleanup()

    got = asyncio.run(go("test_search:OwnSearch"))
    assert [i.url.rsplit("/", 1)[1] for i in got] == ["0.jpg", "1.jpg", "2.jpg", "3.jpg"]
    register(OwnSearch)
    assert provider_class("own") is OwnSearch
    assert len(asyncio.run(go("own"))) == 4
    with pytest.raises(SearchError, match="unknown search provider 'nope'"):
        provider_class("nope")
    with pytest.raises(SearchError, match="is not a SearchProvider class"):
        provider_class("json:dumps")


# -- recipes -------------------------------------------------------------------------------------


def recipe_with(search: dict, **source) -> dict:
    ep = {"model": "m", "base_url": "http://127.0.0.1:9/v1"}
    return {"sources": [{"search": search, **source}], "endpoints": {"vlm": ep, "llm": ep}}


@pytest.mark.parametrize(
    ("search", "message"),
    [
        ({"provider": "openverse"}, "sources.0.search: give `domains:`"),
        (
            {"provider": "openverse", "queries": ["x"], "licenses": ["cc-by"]},
            "licenses: unknown license 'cc-by'",
        ),
        ({"provider": "openverse", "queries": [" "]}, "sources.0.search.queries: a query is empty"),
        ({"provider": "openverse", "queries": ["x"], "per_keyword": 20_000}, "per_keyword"),
        ({"provider": "openverse", "queries": ["x"], "api_key": "sk-1"}, "search.api_key: unknown field"),
    ],
)
def test_a_wrong_search_source_is_one_line_naming_the_field(search, message):
    with pytest.raises(RecipeError, match=message.replace("(", "\\(")):
        parse_recipe(recipe_with(search))


def test_preflight_names_unknown_domains_domains_without_keywords_and_providers(tmp_path):
    def fails(search: dict, **kw) -> str:
        rec = parse_recipe({**recipe_with(search), **kw})
        with pytest.raises(RecipeError) as e:
            preflight(rec, tmp_path)
        return str(e.value)

    assert "sources.0.search: search domain 'castles' is not in the domain catalog" in fails(
        {"provider": "openverse", "domains": ["castles"]}
    )
    mine = tmp_path / "domains"
    mine.mkdir()
    text = (ROOT / "src/visinstruct/domains/catalog/landmark.yaml").read_text("utf-8")
    (mine / "landmark.yaml").write_text(
        "\n".join(line for line in text.splitlines() if not line.startswith("keywords:")), "utf-8"
    )
    assert "landmark" in load_catalog([mine]) and not load_catalog([mine])["landmark"].keywords
    assert "has no `keywords:`" in fails(
        {"provider": "commons", "domains": ["landmark"]}, domains_dir=[str(mine)]
    )
    assert "unknown search provider 'bing'" in fails({"provider": "bing", "queries": ["x"]})
    assert "base_url 'file:///etc' is not an http(s) URL" in fails(
        {"provider": "commons", "queries": ["x"], "base_url": "file:///etc"}
    )
    assert "environment variable NO_SUCH_MIRROR is not set" in fails(
        {"provider": "commons", "queries": ["x"], "base_url": "${NO_SUCH_MIRROR}/w/api.php"}
    )
    colour = fails({"provider": "openverse", "queries": ["x"], "options": {"colour": "red"}})
    assert "options: unknown option 'colour' of openverse (known: source," in colour


def test_a_dry_run_counts_what_a_search_may_bring_without_searching(fake):
    from visinstruct.stages.estimate import requests

    data = recipe_with(
        {"provider": "openverse", "domains": ["landmark"], "queries": ["harbour"], "per_keyword": 2,
         "base_url": fake.openverse_url},
        domain="landmark",
    )  # fmt: skip
    rec = parse_recipe({**data, "types": ["judgement", "short_vqa"]})
    reqs = requests(rec, Path.cwd())
    n = (1 + len(CATALOG["landmark"].keywords)) * 2  # queries × per_keyword
    assert len(reqs) == n * (1 + 2)  # a caption and two types each
    assert fake.log == [], "nothing is searched for an estimate"
    limited = parse_recipe({**data, "sources": [{**data["sources"][0], "limit": 3}]})
    assert len(requests(limited, Path.cwd())) == 3 * (1 + 4)


def test_the_shipped_collect_recipe_is_valid_and_searches_two_domains(monkeypatch):
    from visinstruct.recipe import load_recipe

    monkeypatch.delenv("VISINSTRUCT_CONTACT", raising=False)
    rec = load_recipe(ROOT / "recipes/collect.yaml")
    preflight(rec, ROOT)
    providers = [s.search.provider for s in rec.sources]
    assert providers == ["openverse", "commons"]
    assert all(s.search.domains == ["landmark", "artwork"] for s in rec.sources)
    assert all(set(s.search.licenses) == {"cc0", "pdm", "by", "by-sa"} for s in rec.sources)
