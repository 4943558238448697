"""Caption samples: each source image's caption becomes a `caption` sample per language, its
instruction drawn from the caption request pool; the second language written by the VLM or
translated by the LLM; the caption checks send bad captions to review; every export format
loads them. Against the loopback server (tests/fake_openai.py)."""

from __future__ import annotations

import base64
import io
import json
import os
import random
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image
from test_export import FILE_NAMES, LOADERS
from test_mminstruct import recipe_for

from visinstruct.captions.requests import bundled_pool, request_id
from visinstruct.captions.samples import caption_id, draw_request
from visinstruct.checks.captions import (
    caption_checks,
    caption_duplicates,
    caption_language,
    caption_length,
    caption_talk,
    similarity,
)
from visinstruct.errors import RecipeError
from visinstruct.export import export
from visinstruct.recipe import parse_recipe
from visinstruct.review.db import ReviewDB
from visinstruct.runner import run_recipe as run
from visinstruct.store import RunStore

ALL_TYPES = ["judgement", "multiple_choice", "short_vqa", "long_vqa", "caption"]
CAPTION_SYSTEMS = ("You are an expert image annotator", "你是一名专业的图像标注员")
TRANSLATE_SYSTEMS = ("You are a professional translator", "你是一名专业的图像描述翻译")


@pytest.fixture(autouse=True)
def key(monkeypatch):
    monkeypatch.setenv("VISINSTRUCT_TEST_KEY", "sk-test")


def tile(path: Path, index: int) -> Path:
    """A 96×96 PNG: seeded noise (so perceptual hashes differ), the image's number in the red and
    green of its top-left block (which the server reads back)."""
    rng = random.Random(index)
    img = Image.new("RGB", (96, 96))
    img.putdata([(rng.randrange(256), rng.randrange(256), rng.randrange(256)) for _ in range(96 * 96)])
    img.paste((index % 32 * 8, index // 32 * 8, 200), (0, 0, 24, 24))
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, "PNG")
    return path


def folder(root: Path, n: int, domain: str = "landmark") -> Path:
    for i in range(n):
        tile(root / domain / f"img{i:03d}.png", i)
    return root


def words(seed: object, n: int) -> str:
    """`n` made-up words: captions of different images share next to no shingles."""
    r = random.Random(str(seed))
    return " ".join(
        "".join(r.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(r.randint(3, 8))) for _ in range(n)
    )


def hanzi(seed: object, n: int) -> str:
    r = random.Random(str(seed))
    return "".join(chr(r.randint(0x4E00, 0x4E00 + 3000)) for _ in range(n))


def en_caption(i: int, n: int = 220) -> str:
    return f"The picture shows {words(i, n)}."


def zh_caption(i: int, n: int = 320) -> str:
    return f"图中{hanzi(i, n)}。"


def system(req: dict) -> str:
    s = req["messages"][0]["content"]
    return s if isinstance(s, str) else ""


def image_number(req: dict) -> int | None:
    for part in req["messages"][-1]["content"] if isinstance(req["messages"][-1]["content"], list) else []:
        if part.get("type") == "image_url":
            data = base64.b64decode(part["image_url"]["url"].split(",", 1)[1])
            with Image.open(io.BytesIO(data)) as im:
                r, g, _ = im.convert("RGB").getpixel((4, 4))
                return round(r / 8) + 32 * round(g / 8)
    return None


class Captioner:
    """Answers caption requests per image number and language (`captions[(i, lang)]`, else a
    good caption) and translations (`translate(text)`); counts what it was asked."""

    def __init__(self, fake, captions: dict | None = None) -> None:
        self.captions = captions or {}
        self.seen: Counter[str] = Counter()
        self.refuse_translations = 0
        self.lock = threading.Lock()
        fake.responder = self.reply

    def reply(self, req: dict) -> str | None:
        s = system(req)
        if s.startswith(CAPTION_SYSTEMS):
            lang = "zh" if s.startswith(CAPTION_SYSTEMS[1]) else "en"
            i = image_number(req)
            with self.lock:
                self.seen[f"caption:{lang}"] += 1
            return self.captions.get((i, lang)) or (zh_caption(i) if lang == "zh" else en_caption(i))
        if s.startswith(TRANSLATE_SYSTEMS):
            text = req["messages"][1]["content"]
            with self.lock:
                self.seen["translate"] += 1
                if self.refuse_translations:
                    self.refuse_translations -= 1
                    return "I'm sorry, I can't help with that."
            return "以下是译文：\n" + translation(text.rsplit("\n\n", 1)[-1])
        with self.lock:
            self.seen["other"] += 1
        return None


def translation(english: str) -> str:
    """The fake LLM's "Chinese translation" of a caption: Chinese text seeded by it."""
    return "图片显示" + hanzi(english, 330) + "。"


def recipe(server, images: Path, **extra) -> dict:
    base = {"types": ALL_TYPES, "assign_domains": False}
    base.update(extra)
    return recipe_for(server, images, **base)


def caption_samples(run_dir: Path) -> list:
    with RunStore(run_dir, create=False) as store:
        return [s for s in store.iter_samples() if s.type == "caption"]


# -- one sample per image and language -------------------------------------------------------


def test_each_caption_becomes_one_sample_per_image_and_language(fake_openai, tmp_path):
    images = folder(tmp_path / "images", 3)
    server = Captioner(fake_openai)
    rec = parse_recipe(recipe(fake_openai, images))
    assert rec.caption.languages == ["en", "zh"]  # zh is written directly: the VLM is asked for it
    summary = run(rec, tmp_path / "run", workers=1)
    assert summary.failed == 0 and summary.stages["caption_samples"].done == 6
    assert server.seen["caption:en"] == server.seen["caption:zh"] == 3 and server.seen["translate"] == 0

    pool = bundled_pool()
    with RunStore(tmp_path / "run", create=False) as store:
        samples = list(store.iter_samples())
        stored = {i: store.contexts_of(i, "caption") for _, _, i, _ in store.iter_inputs()}
    caps = [s for s in samples if s.type == "caption"]
    assert {t for t in Counter(s.type for s in samples)} == set(ALL_TYPES)
    assert Counter((s.images[0], s.language) for s in caps) == {
        (i, lang): 1 for i in stored for lang in ("en", "zh")
    }
    for s in caps:
        [turn] = s.turns
        assert turn.question in pool.templates[("detailed", s.language)]
        assert turn.answer == stored[s.images[0]][s.language][0]  # the VLM's own caption in that language
        drawn = draw_request(pool, rec.seed, s.images[0], s.language)
        assert (
            s.provenance["caption_request"] == drawn.id == request_id("detailed", s.language, turn.question)
        )
        assert s.provenance["caption_model"] == "fake-vlm" and s.provenance["caption_prompt"] == "caption@v1"
        assert s.provenance["generator"] == "vlm/caption" and "translation" not in s.provenance
        assert (s.category, s.options, s.answer_letter, s.short_answer) == ("detailed", [], None, None)
        assert s.status == "accepted", s.checks
        assert {"caption_length", "caption_talk", "caption_language", "caption_duplicate"} <= set(s.checks)
    # the caption samples sit with their image's other samples, in source order
    order = [s.images[0] for s in samples]
    assert all(order.index(s.images[0]) <= n for n, s in enumerate(samples))

    # every export format takes them as one turn, instruction → caption; MLLM-DataEngine rows are
    # multiple choice only
    for fmt, name in FILE_NAMES.items():
        out = tmp_path / "exports" / fmt / name
        with RunStore(tmp_path / "run", create=False) as store:
            res = export(store, fmt, out)
        if fmt == "dataengine":
            assert res.n_samples == sum(
                s.type == "multiple_choice" and s.status == "accepted" for s in samples
            )
            continue
        got = LOADERS[fmt](out, tmp_path)
        assert res.n_samples == sum(s.status == "accepted" for s in samples)
        for s in caps:
            assert got[s.id]["turns"] == [(s.turns[0].question, s.turns[0].answer)]
            assert len(got[s.id]["images"]) == 1

    # a finished run sends nothing again and makes the same samples
    fake_openai.reset()
    run(rec, tmp_path / "run", workers=1)
    assert fake_openai.requests == 0
    assert [s.to_dict() for s in caption_samples(tmp_path / "run")] == [s.to_dict() for s in caps]


def test_instructions_are_drawn_seeded_and_varied_over_many_images():
    pool = bundled_pool()
    ids = [f"{i:064x}" for i in range(120)]
    for lang in ("en", "zh"):
        drawn = [draw_request(pool, 7, i, lang) for i in ids]
        assert drawn == [draw_request(pool, 7, i, lang) for i in ids]  # per image and language
        first = Counter(r.text for r in drawn[:100])
        assert len(first) >= 6 and max(first.values()) <= 25
        other = [draw_request(pool, 8, i, lang) for i in ids]
        assert sum(a != b for a, b in zip(drawn, other, strict=True)) > 60  # the recipe's seed counts


def test_a_run_over_a_hundred_images_draws_many_requests(fake_openai, tmp_path):
    images = folder(tmp_path / "images", 100)
    Captioner(fake_openai)
    rec = parse_recipe(
        recipe(fake_openai, images, types=["caption"], languages=["en"], checks={"image_dedup": False})
    )
    run(rec, tmp_path / "run", workers=1)
    caps = caption_samples(tmp_path / "run")
    assert len(caps) == 100 and {s.status for s in caps} == {"accepted"}
    drawn = Counter(s.turns[0].question for s in caps)
    assert len(drawn) >= 6 and max(drawn.values()) <= 25
    assert len({s.provenance["caption_request"] for s in caps}) == len(drawn)


# -- translations ------------------------------------------------------------------------------


def test_translated_second_language_records_its_provenance(fake_openai, tmp_path):
    images = folder(tmp_path / "images", 3)
    server = Captioner(fake_openai)
    server.refuse_translations = 1  # the first translation is refused: that unit fails, asked again
    rec = parse_recipe(recipe(fake_openai, images, types=["caption"], caption_samples={"zh": "translate"}))
    assert rec.caption.languages == ["en"]  # the VLM writes English only
    first = run(rec, tmp_path / "run", workers=1)
    assert server.seen["caption:zh"] == 0 and server.seen["caption:en"] == 3
    assert first.stages["caption_samples"].failed == 1 and server.seen["translate"] == 3
    again = run(rec, tmp_path / "run", workers=1)
    assert again.failed == 0 and server.seen["translate"] == 4  # only the refused one again

    with RunStore(tmp_path / "run", create=False) as store:
        caps = [s for s in store.iter_samples() if s.type == "caption"]
        en = {s.images[0]: s for s in caps if s.language == "en"}
        zh = {s.images[0]: s for s in caps if s.language == "zh"}
        assert set(en) == set(zh) and len(zh) == 3
        for image_id, s in zh.items():
            source = store.contexts_of(image_id, "caption")["en"][0]
            stored, meta = store.contexts_of(image_id, "caption_translation")["zh"]
            assert s.turns[0].answer == stored == translation(source)  # the preamble left out
            assert s.turns[0].question in bundled_pool().templates[("detailed", "zh")]
            t = s.provenance["translation"]
            assert t == meta
            assert (t["model"], t["prompt"], t["from"]) == ("fake-model", "translate_caption@v1", "en")
            assert (
                t["source_caption"]
                == caption_id(image_id, "en", source)
                == en[image_id].provenance["caption_id"]
            )
            assert s.provenance["generator"] == "llm/caption_translation"
            assert s.provenance["caption_model"] == "fake-vlm"  # who wrote what was translated
            assert s.context["source_caption"] == source and s.status == "accepted", s.checks
            assert "zh" not in store.contexts_of(image_id, "caption")  # a translation is not a VLM caption


def test_caption_quotas_cap_samples_per_language(fake_openai, tmp_path):
    images = folder(tmp_path / "images", 4)
    Captioner(fake_openai)
    rec = parse_recipe(recipe(fake_openai, images, types=["caption"], caption_samples={"quotas": {"zh": 2}}))
    run(rec, tmp_path / "run", workers=1)
    caps = caption_samples(tmp_path / "run")
    assert Counter(s.language for s in caps) == {"en": 4, "zh": 2}
    with RunStore(tmp_path / "run", create=False) as store:
        first_two = [i for _, _, i, _ in sorted(store.iter_inputs())][:2]
    assert sorted(s.images[0] for s in caps if s.language == "zh") == sorted(first_two)  # in source order


def test_an_image_without_a_domain_gets_its_caption_samples_all_the_same(fake_openai, tmp_path):
    images = tmp_path / "images"
    tile(images / "loose.png", 1)  # no sub-folder names its domain, and none is assigned
    Captioner(fake_openai)
    rec = parse_recipe(recipe(fake_openai, images, languages=["en"]))
    run(rec, tmp_path / "run", workers=1)
    with RunStore(tmp_path / "run", create=False) as store:
        samples = list(store.iter_samples())
    assert [(s.type, s.domain) for s in samples] == [("caption", "image_description")]


# -- checks --------------------------------------------------------------------------------------


def test_failing_captions_go_to_review(fake_openai, tmp_path):
    images = folder(tmp_path / "images", 7)
    near = en_caption(0).split()
    near[5:8] = ["changed", "three", "words"]
    Captioner(
        fake_openai,
        {
            (1, "en"): en_caption(1, 60),  # stored (a caption), but short of 200 words
            (2, "en"): en_caption(2, 120)
            + " As an AI language model, I cannot name the place. "
            + words(22, 100),
            (3, "zh"): "The picture shows " + words(33, 300) + ".",  # a Chinese caption in English
            (4, "en"): " ".join(near),  # another image's caption, three words changed
            (5, "zh"): zh_caption(5, 200) + "这段描述" + hanzi(55, 150) + "。",
            (6, "en"): f"The sign reads “{hanzi(66, 12)}”. " + en_caption(6),  # quoted Chinese is fine
        },
    )
    rec = parse_recipe(recipe(fake_openai, images, types=["caption"]))
    run(rec, tmp_path / "run", workers=1)
    with RunStore(tmp_path / "run", create=False) as store:
        number = {i: int(ref.rsplit("img", 1)[1][:3]) for _, ref, i, _ in store.iter_inputs()}
        caps = {(number[s.images[0]], s.language): s for s in store.iter_samples() if s.type == "caption"}
    assert len(caps) == 14

    def failing(i: int, lang: str) -> set[str]:
        s = caps[i, lang]
        return {k for k, r in s.checks.items() if r.get("pass") is False}

    expected = {
        (1, "en"): {"caption_length"},
        (2, "en"): {"caption_talk"},
        (3, "zh"): {"caption_language"},
        (4, "en"): {"caption_duplicate"},
        (5, "zh"): {"caption_talk"},
    }
    for (i, lang), s in caps.items():
        want = expected.get((i, lang), set())
        assert failing(i, lang) >= want and failing(i, lang) - want <= {"near_duplicate"}, (i, lang, s.checks)
        assert s.status == ("needs_review" if want else "accepted"), (i, lang, s.checks)
    dup = caps[4, "en"].checks["caption_duplicate"]
    assert dup["of"] == caps[0, "en"].id and dup["similarity"] >= 0.8 and dup["severity"] == "review"
    assert "63 words, at least 200" in caps[1, "en"].checks["caption_length"]["reason"]


def test_caption_minimums_come_from_the_recipe(fake_openai, tmp_path):
    images = folder(tmp_path / "images", 2)
    Captioner(fake_openai, {(1, "en"): en_caption(1, 60)})
    checks = {"captions": {"min_length": {"en": 50}}}
    rec = parse_recipe(recipe(fake_openai, images, types=["caption"], languages=["en"], checks=checks))
    run(rec, tmp_path / "run", workers=1)
    assert {s.status for s in caption_samples(tmp_path / "run")} == {"accepted"}


@pytest.mark.parametrize(
    ("text", "lang", "failing"),
    [
        (en_caption(1), "en", set()),
        (zh_caption(1), "zh", set()),
        (en_caption(1, 150), "en", {"caption_length"}),
        (zh_caption(1, 150), "zh", {"caption_length"}),
        (en_caption(1) + " I cannot tell what the building is.", "en", {"caption_talk"}),
        ("As an AI, " + en_caption(1), "en", {"caption_talk"}),
        (en_caption(1) + " In summary, the description above covers it.", "en", {"caption_talk"}),
        (zh_caption(1) + "作为一个AI，我只能描述看到的内容。", "zh", {"caption_talk"}),
        (zh_caption(1) + "以上就是这段描述。", "zh", {"caption_talk"}),
        ("无法描述这张图片。" + zh_caption(1), "zh", {"caption_talk"}),
        (en_caption(1) + " " + hanzi(2, 40), "en", {"caption_language"}),
        (en_caption(1, 150), "zh", {"caption_language", "caption_length"}),
        (
            'A shop window with a poster that says "Sorry, I cannot help you today". ' + en_caption(1),
            "en",
            set(),
        ),
        (zh_caption(1) + "招牌上写着“WELCOME TO THE GRAND HOTEL BY THE SEA”。", "zh", set()),
    ],
    ids=lambda v: (
        v[:24].replace(" ", "_") if isinstance(v, str) else str(sorted(v)) if isinstance(v, set) else None
    ),
)
def test_caption_checks_are_pure_functions_of_text_and_language(text, lang, failing):
    res = caption_checks(text, lang)
    assert {k for k, r in res.items() if not r["pass"]} == failing, res
    assert all(r["severity"] == "review" for r in res.values() if not r["pass"])


def test_caption_check_parts():
    assert caption_length("one two three", "en", limits={"en": (3, None)}) is None
    assert "at most 5" in caption_length(words(1, 9), "en", limits={"en": (1, 5)})
    assert caption_length("短" * 20, "zh", kind="brief") is None and caption_length(
        "短" * 4, "zh", kind="brief"
    )
    assert caption_talk("Sure. " + en_caption(3)) is None
    assert (
        caption_language(zh_caption(3), "en") is not None
        and caption_language(en_caption(3), "zh") is not None
    )
    texts = [
        en_caption(0),
        en_caption(1),
        en_caption(0).replace("The picture", "This picture"),
        zh_caption(0),
    ]
    assert caption_duplicates(texts) == [None, None, 0, None]
    assert similarity(texts[0], texts[2]) > 0.9 > 0.3 > similarity(texts[0], texts[1])


# -- the recipe ----------------------------------------------------------------------------------


def test_recipe_errors_name_the_field(fake_openai, tmp_path):
    images = folder(tmp_path / "images", 1)

    def bad(**extra) -> str:
        with pytest.raises(RecipeError) as e:
            parse_recipe(recipe(fake_openai, images, **extra))
        return str(e.value)

    assert "caption_samples.zh: Input should be 'direct' or 'translate'" in bad(
        caption_samples={"zh": "copy"}
    )
    assert "en is the language translations are made from" in bad(caption_samples={"en": "translate"})
    assert "types.0: Input should be" in bad(types=["captions"])
    eps = {"vlm": recipe_for(fake_openai, images)["endpoints"]["vlm"]}
    assert "caption_samples.endpoint 'llm' is not in endpoints" in bad(
        endpoints=eps, instructions={"endpoint": "vlm"}, caption_samples={"zh": "translate"}
    )
    # a pool that lacks a language the recipe asks for is refused before anything runs
    pool = tmp_path / "pool.yaml"
    pool.write_text("detailed:\n  en: ['Describe it all.']\n", encoding="utf-8")
    rec = parse_recipe(recipe(fake_openai, images, types=["caption"], caption_samples={"pool": str(pool)}))
    from visinstruct.captions.requests import CaptionRequestError

    with pytest.raises(CaptionRequestError, match="no detailed caption requests in language 'zh'"):
        run(rec, tmp_path / "run", workers=1)
    assert fake_openai.requests == 0


def test_a_grown_pool_is_drawn_from(fake_openai, tmp_path):
    images = folder(tmp_path / "images", 2)
    Captioner(fake_openai)
    pool = tmp_path / "pool.yaml"
    pool.write_text("detailed:\n  en: ['Only this request.']\n", encoding="utf-8")
    rec = parse_recipe(
        recipe(fake_openai, images, types=["caption"], languages=["en"], caption_samples={"pool": str(pool)})
    )
    run(rec, tmp_path / "run", workers=1)
    caps = caption_samples(tmp_path / "run")
    assert [s.turns[0].question for s in caps] == ["Only this request."] * 2
    assert caps[0].provenance["caption_request_pool"] == str(pool)


# -- review and report ---------------------------------------------------------------------------


def test_a_caption_sample_is_edited_like_a_long_answer(fake_openai, tmp_path):
    images = folder(tmp_path / "images", 2)
    Captioner(fake_openai, {(1, "en"): en_caption(1, 60)})
    rec = parse_recipe(recipe(fake_openai, images, types=["caption"], languages=["en"]))
    run(rec, tmp_path / "run", workers=1)
    short = next(s for s in caption_samples(tmp_path / "run") if s.status == "needs_review")
    mended = en_caption(1, 60) + " " + words("more", 160) + "."
    db = ReviewDB(tmp_path / "run")
    try:
        rec_ = db.get(short.id)
        turns = [{"question": short.turns[0].question, "answer": mended}]
        after = db.act(short.id, "edit", rec_["version"], "tester", turns=turns)
    finally:
        db.close()
    assert after["sample"]["status"] == "edited"
    with RunStore(tmp_path / "run", create=False) as store:
        out = tmp_path / "out" / "llava.json"
        export(store, "llava", out)
    rows = {r["id"]: r for r in json.loads(out.read_text("utf-8"))}
    assert rows[short.id]["conversations"][1]["value"] == mended


def test_report_shows_caption_lengths_per_language(fake_openai, tmp_path):
    from visinstruct.report.html import write_report

    images = folder(tmp_path / "images", 2)
    Captioner(fake_openai)
    rec = parse_recipe(recipe(fake_openai, images, types=["caption"]))
    run(rec, tmp_path / "run", workers=1)
    with RunStore(tmp_path / "run", create=False) as store:
        html = write_report(store, tmp_path / "report.html").read_text("utf-8")
    assert "Caption length (en)" in html and "Caption length (zh)" in html
    assert "caption length (words)" in html and "caption length (characters)" in html


def test_cli_dry_run_counts_translations_and_a_bad_pool_is_one_line(fake_openai, tmp_path):
    import yaml
    from click.testing import CliRunner

    from visinstruct.cli import cli

    images = folder(tmp_path / "images", 3)
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(recipe(fake_openai, images, caption_samples={"zh": "translate"})))
    res = CliRunner().invoke(cli, ["run", str(path), "--run-dir", str(tmp_path / "run"), "--dry-run"])
    assert res.exit_code == 0, res.output
    row = next(line for line in res.output.splitlines() if "translate_caption" in line)
    assert " 3 " in row and fake_openai.requests == 0  # one translation per image, nothing sent

    missing = tmp_path / "no-such-pool.yaml"
    path.write_text(yaml.safe_dump(recipe(fake_openai, images, caption_samples={"pool": str(missing)})))
    p = subprocess.run(
        [sys.executable, "-m", "visinstruct.cli", "run", str(path), "--run-dir", str(tmp_path / "run2")],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "VISINSTRUCT_TEST_KEY": "sk-test"},
    )
    assert p.returncode != 0 and "Traceback" not in p.stderr
    [line] = [x for x in p.stderr.splitlines() if x.strip()]
    assert str(missing) in line and "cannot read the caption request pool" in line
    assert fake_openai.requests == 0
