"""A recipe's `search:` sources against loopback Openverse and Commons fakes, run as a user runs it
(`visinstruct run recipe.yaml`): images for two catalog domains found by their keywords, license and
attribution on every exported row, an image found twice stored and written about once, dead links
recorded with their reasons, and each provider's 429 honoured."""

from __future__ import annotations

import io
import json
import random
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from fake_search import FakeSearch
from PIL import Image, ImageDraw

from visinstruct.domains import builtin_domains
from visinstruct.store import RunStore

LICENSES = {"cc0", "by", "by-sa"}
EXPORTS = {
    "jsonl": "out/data.jsonl",
    "llava": "out/llava.json",
    "sharegpt": "out/train.json",
    "internvl": "out/internvl.jsonl",
    "parquet": "out/data.parquet",
    "dataengine": "out/dataengine.json",
}


def picture(seed: int, fmt: str = "JPEG") -> bytes:
    """A small picture unlike the others: random blocks and shapes from `seed`."""
    rng = random.Random(seed)
    img = Image.new("RGB", (320, 240), tuple(rng.randrange(256) for _ in range(3)))
    d = ImageDraw.Draw(img)
    for _ in range(12):
        x, y = rng.randrange(300), rng.randrange(220)
        box = [x, y, x + rng.randrange(20, 160), y + rng.randrange(20, 120)]
        colour = tuple(rng.randrange(256) for _ in range(3))
        (d.ellipse if rng.random() < 0.5 else d.rectangle)(box, fill=colour)
    buf = io.BytesIO()
    img.save(buf, fmt)
    return buf.getvalue()


def plant(fake: FakeSearch) -> dict[str, bytes]:
    """Results for two keywords of `landmark` and of `artwork` on each provider."""
    landmark, artwork = builtin_domains()["landmark"].keywords, builtin_domains()["artwork"].keywords
    eiffel, wall, colosseum = "Eiffel Tower", "Great Wall of China", "Colosseum Rome"
    assert {eiffel, wall, colosseum} <= set(landmark)
    oil, impressionist, cubist = artwork[0], artwork[1], "cubist portrait"
    assert cubist in artwork
    pics = {
        name: picture(i) for i, name in enumerate(["tower1", "tower2", "wall", "oil", "impr", "colosseum"])
    }
    pics["cubist"] = picture(99, "PNG")
    ov = "openverse"
    fake.add(ov, eiffel, "tower1.jpg", pics["tower1"], license="by", creator="Ann Lee", title="Tower at dusk")
    fake.add(ov, eiffel, "tower2.jpg", pics["tower2"], license="cc0", version="1.0", creator="Bo Chen")
    fake.add(ov, eiffel, "tower2-mirror.jpg", pics["tower2"], license="cc0", version="1.0", creator="Bo Chen")
    fake.add(ov, eiffel, "nc.jpg", picture(50), license="by-nc")  # not under the recipe's licenses
    fake.add(ov, eiffel, "dead.jpg", status=404, license="by")  # the file is gone
    fake.add(ov, eiffel, "page.jpg", b"<html>a page</html>", content_type="text/html", license="by-sa")
    fake.add(ov, wall, "wall.jpg", pics["wall"], license="by-sa", version="2.0", creator="Cy Diaz")
    fake.add(ov, wall, "tower1.jpg", license="by", creator="Ann Lee")  # the same result again
    fake.add(ov, oil, "oil.jpg", pics["oil"], license="cc0", version="1.0", creator="Dee Eco")
    fake.add(ov, impressionist, "impr.jpg", pics["impr"], license="by", creator="Eva Fox")
    cm = "commons"
    fake.add(cm, colosseum, "Colosseum.jpg", pics["colosseum"], license="by-sa", creator="Fay Gil")
    fake.add(cm, colosseum, "Gfdl.jpg", picture(51), license="GFDL", version=None)  # filtered here
    fake.add(cm, colosseum, "Tower copy.jpg", pics["tower2"], license="cc0", version="1.0", creator="Gus")
    fake.add(cm, cubist, "Cubist.png", pics["cubist"], license="cc0", version="1.0", content_type="image/png")
    fake.throttle |= {(ov, wall, 1), (cm, colosseum, 1)}
    return pics


def recipe(fake: FakeSearch, server) -> dict:
    common = {"domains": ["landmark", "artwork"], "licenses": ["cc0", "by", "by-sa"], "min_interval": 0}
    endpoint = {"base_url": server.base_url, "provider": "vllm", "api_key_env": "VISINSTRUCT_TEST_KEY"}
    return {
        "name": "collect",
        "seed": 3,
        "languages": ["en"],
        "sources": [
            {"search": {"provider": "openverse", "base_url": fake.openverse_url, "per_keyword": 5,
                        "page_size": 2, **common}},
            {"search": {"provider": "commons", "base_url": fake.commons_url, "per_keyword": 3,
                        "contact": "data-team@example.org", **common}},
        ],
        "endpoints": {"vlm": {"model": "fake-vlm", **endpoint}, "llm": {"model": "fake-model", **endpoint}},
        "caption": {"endpoint": "vlm", "languages": ["en"]},
        "instructions": {"endpoint": "llm"},
        "export": [{"format": f, "out": out.removeprefix("out/")} for f, out in EXPORTS.items()],
    }  # fmt: skip


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "visinstruct.cli", *args], capture_output=True, text=True, cwd=cwd, timeout=300
    )


def attribution_ok(entries: list, where: str) -> None:
    assert isinstance(entries, list) and entries, where
    for a in entries:
        assert a["license"] in LICENSES, (where, a)
        assert a["creator"] and a["source_page"].startswith("http") and a["query"] and a["provider"], (
            where,
            a,
        )
        assert a["license_url"].startswith("https://creativecommons.org/"), (where, a)
        assert a["credit"] and a["url"].startswith("http"), (where, a)


@pytest.fixture(autouse=True)
def key(monkeypatch):
    monkeypatch.setenv("VISINSTRUCT_TEST_KEY", "sk-test")
    monkeypatch.delenv("OPENVERSE_API_TOKEN", raising=False)


def test_search_recipe_collects_licensed_images_for_two_domains(fake_openai, tmp_path):
    with FakeSearch() as fake:
        plant(fake)
        path = tmp_path / "recipe.yaml"
        path.write_text(yaml.safe_dump(recipe(fake, fake_openai)), "utf-8")
        run_dir = tmp_path / "run"
        p = cli("run", str(path), "--run-dir", str(run_dir), "--workers", "1", cwd=tmp_path)
        assert p.returncode == 0, p.stdout + p.stderr

        # each provider's 429 was honoured: asked again only after Retry-After, a retry, not a failure
        for api, query in (("openverse", "Great Wall of China"), ("commons", "Colosseum Rome")):
            asks = [status for a, q, page, status in fake.log if (a, q, page) == (api, query, 1)]
            assert asks == [429, 200], (api, asks)
        assert fake.early == 0
        said = p.stdout + p.stderr
        assert "search openverse:" in said and "retried (429" in said
        # both providers were asked for every keyword of both domains (most found nothing)
        keywords = {k for d in ("landmark", "artwork") for k in builtin_domains()[d].keywords}
        for api in ("openverse", "commons"):
            assert {q for a, q, _, _ in fake.log if a == api} == keywords
        eiffel = [page for a, q, page, s in fake.log if (a, q, s) == ("openverse", "Eiffel Tower", 200)]
        assert eiffel == [1, 2, 3]  # five results, two a page

        with RunStore(run_dir, create=False) as store:
            inputs = {ref: (image_id, domain, error) for _, ref, image_id, domain, error in
                      store.db.execute("SELECT seq, ref, image_id, domain, error FROM inputs")}  # fmt: skip
            rows = list(store.db.execute("SELECT query, retries, error FROM search_pages"))
            n_images = store.count_images()
            samples = list(store.iter_samples())
        names = {ref.rsplit("/", 1)[-1]: v for ref, v in inputs.items()}
        # licenses: by-nc (Openverse's filter) and GFDL (filtered here) never taken in
        assert "nc.jpg" not in names and "Gfdl.jpg" not in names
        assert set(names) == {"tower1.jpg", "tower2.jpg", "tower2-mirror.jpg", "dead.jpg", "page.jpg",
                              "wall.jpg", "oil.jpg", "impr.jpg", "Colosseum.jpg", "Tower%20copy.jpg",
                              "Cubist.png"}  # fmt: skip
        # dead links and non-images recorded with their reasons
        assert "HTTP 404" in names["dead.jpg"][2]
        assert "not an image (content type text/html)" in names["page.jpg"][2]
        # the catalog domain of the keyword that found each image
        assert names["tower1.jpg"][1] == names["Colosseum.jpg"][1] == "landmark"
        assert names["oil.jpg"][1] == names["Cubist.png"][1] == "artwork"
        # the same picture at two addresses (two providers) is stored once and written about once
        assert names["Tower%20copy.jpg"][0] == names["tower2-mirror.jpg"][0] == names["tower2.jpg"][0]
        assert n_images == 7
        by_image: dict[str, set[str]] = {}
        for s in samples:
            by_image.setdefault(s.images[0], set()).add(s.provenance["source"])
        assert len(by_image) == 7 and all(len(refs) == 1 for refs in by_image.values())
        assert by_image[names["tower2.jpg"][0]] == {next(r for r in inputs if r.endswith("/tower2.jpg"))}
        assert {s.domain for s in samples} == {"landmark", "artwork"}
        assert {s.type for s in samples} == {"judgement", "multiple_choice", "short_vqa", "long_vqa"}
        assert sum(r[1] for r in rows) == 2 and not any(r[2] for r in rows)

        check_exports(
            run_dir / "exports", tmp_path, len([s for s in samples if s.status in ("accepted", "edited")])
        )

        status = cli("status", str(run_dir), cwd=tmp_path)
        assert status.returncode == 0, status.stderr
        assert "source images: 9 stored (2 found again" in status.stdout
        assert "dead.jpg: HTTP 404" in status.stdout and "page.jpg: not an image" in status.stdout
        report = cli("report", str(run_dir), cwd=tmp_path)
        assert report.returncode == 0, report.stderr
        html = (run_dir / "report.html").read_text("utf-8")
        assert 'id="sources"' in html and "dead.jpg: HTTP 404" in html and "Ann Lee" in html
        assert "CC BY-SA 2.0" in html and "Tower at dusk" in html

        # running again asks nothing and downloads nothing: result pages are kept in the run
        asked, downloads = len(fake.log), sum(fake.file_requests.values())
        again = cli("run", str(path), "--run-dir", str(run_dir), "--workers", "1", cwd=tmp_path)
        assert again.returncode == 0, again.stdout + again.stderr
        assert len(fake.log) == asked and sum(fake.file_requests.values()) == downloads
        with RunStore(run_dir, create=False) as store:
            assert store.count_samples() == len(samples)


def check_exports(out: Path, tmp_path: Path, n: int) -> None:
    """Every export's every row carries its images' license and attribution, read back by the
    loaders their consumers use."""
    datasets = pytest.importorskip("datasets")
    rows = {}
    rows["jsonl"] = [json.loads(x) for x in (out / "data.jsonl").read_text("utf-8").splitlines()]
    rows["llava"] = json.loads((out / "llava.json").read_text("utf-8"))
    rows["internvl"] = [json.loads(x) for x in (out / "internvl.jsonl").read_text("utf-8").splitlines()]
    rows["dataengine"] = json.loads((out / "dataengine.json").read_text("utf-8"))
    # LLaMA-Factory loads its files with `datasets` (json), then keeps the columns dataset_info maps
    rows["sharegpt"] = list(
        datasets.load_dataset(
            "json", data_files=str(out / "train.json"), split="train", cache_dir=str(tmp_path / "hf")
        )
    )
    parquet = datasets.load_dataset(
        "parquet", data_files=str(out / "data.parquet"), split="train", cache_dir=str(tmp_path / "hf")
    )
    rows["parquet"] = [{**r, "attribution": json.loads(r["attribution"])} for r in parquet]
    assert isinstance(parquet.features["images"].feature, datasets.Image)
    for fmt, got in rows.items():
        expected = (
            sum(1 for r in rows["jsonl"] if r["type"] == "multiple_choice") if fmt == "dataengine" else n
        )
        assert len(got) == expected > 0, fmt
        for r in got:
            attribution_ok(r["attribution"], f"{fmt} {r['id']}")
    for r in rows["jsonl"]:
        assert len(r["attribution"]) == len(r["image_ids"])


def test_attribution_is_exported_only_for_licensed_images_and_escaped_in_the_report(tmp_path):
    from visinstruct.export import FORMATS, export
    from visinstruct.records import ImageRecord, Sample, Turn
    from visinstruct.report import write_report
    from visinstruct.store import write_image_file

    store = RunStore(tmp_path / "run")
    records = []
    for seed, prov in [
        (1, {"source": "folder"}),
        (2, {"source": "search", "license": "by", "license_version": "4.0", "creator": "<script>x()</script>",
             "source_page": "javascript:alert(1)", "title": "Pier", "provider": "commons", "query": "pier",
             "url": "https://img.example/pier.jpg", "credit": "Pier by someone"}),
    ]:  # fmt: skip
        image_id, rel = write_image_file(store.dir, picture(seed), "jpg")
        records.append(ImageRecord(image_id, rel, 320, 240, "jpeg", prov))
    mine, found = records
    samples = [
        Sample(
            "own",
            [mine.id],
            "landmark",
            "short_vqa",
            "en",
            [Turn("What is it?", "A pier.")],
            short_answer="pier",
        ),
        Sample(
            "found",
            [found.id],
            "landmark",
            "short_vqa",
            "en",
            [Turn("What is it?", "A pier.")],
            short_answer="pier",
        ),
        Sample(
            "both", [mine.id, found.id], "landmark", "long_vqa", "en", [Turn("Compare them.", "Both piers.")]
        ),
    ]
    store.add_samples("u", 0, samples, records)
    store.db.executemany("INSERT INTO inputs VALUES (?, ?, ?, ?, NULL)", [(0, "a", mine.id, "landmark"),
                         (1, "b", found.id, "landmark")])  # fmt: skip
    store.db.commit()
    for fmt in FORMATS:
        if fmt not in ("parquet", "dataengine"):
            export(store, fmt, tmp_path / fmt / f"data.{'jsonl' if fmt in ('jsonl', 'internvl') else 'json'}")
    rows = [json.loads(x) for x in (tmp_path / "jsonl" / "data.jsonl").read_text("utf-8").splitlines()]
    got = {r["id"]: r.get("attribution") for r in rows}
    assert got["own"] is None, "an image without a license adds no key"
    assert got["found"][0]["creator"] == "<script>x()</script>" and got["found"][0]["license"] == "by"
    assert got["both"][0] is None and got["both"][1]["query"] == "pier"
    llava = {r["id"]: r for r in json.loads((tmp_path / "llava" / "data.json").read_text("utf-8"))}
    assert "attribution" not in llava["own"] and llava["found"]["attribution"][0]["license_version"] == "4.0"
    html = write_report(store, tmp_path / "report.html").read_text("utf-8")
    assert "<script>x()" not in html and "&lt;script&gt;x()" in html
    assert 'href="javascript' not in html
    assert "CC BY 4.0" in html and "Pier by someone" in html
    store.close()
