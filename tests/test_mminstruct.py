"""The MMInstruct engine end to end against the loopback server: folder → captions →
domains → four instruction types → export, traceable to image, caption, seed and prompt."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from fake_openai import SchemaFaker
from PIL import Image, ImageDraw

from visinstruct.domains import builtin_domains, load_catalog
from visinstruct.export import export
from visinstruct.recipe import parse_recipe
from visinstruct.runner import run_recipe as run
from visinstruct.store import RunStore

ROOT = Path(__file__).resolve().parents[1]


def photo(path: Path, seed: int, size=(320, 240), fmt="JPEG", mode="RGB") -> Path:
    img = Image.new("RGB", size, (seed * 40 % 255, 120, 200 - seed * 20 % 200))
    d = ImageDraw.Draw(img)
    d.rectangle([20 + seed * 7, 30, 120 + seed * 5, 150], fill=(250, 250 - seed * 30 % 250, 0))
    d.text((30, 180), f"SIGN {seed}", fill=(0, 0, 0))
    path.parent.mkdir(parents=True, exist_ok=True)
    img.convert(mode).save(path, fmt)
    return path


def recipe_for(server, images: Path, **extra) -> dict:
    base = {
        "name": "mm",
        "seed": 1,
        "languages": ["en", "zh"],
        "sources": [{"folder": str(images)}],
        "endpoints": {
            "vlm": {
                "model": "fake-vlm",
                "base_url": server.base_url,
                "provider": "vllm",
                "api_key_env": "VISINSTRUCT_TEST_KEY",
                "image_max_side": 256,
                "image_detail": "low",
            },
            "llm": {
                "model": "fake-model",
                "base_url": server.base_url,
                "provider": "vllm",
                "api_key_env": "VISINSTRUCT_TEST_KEY",
            },
        },
        "caption": {"endpoint": "vlm", "languages": ["en"]},
        "instructions": {"endpoint": "llm"},
    }
    base.update(extra)
    return base


@pytest.fixture(autouse=True)
def key(monkeypatch):
    monkeypatch.setenv("VISINSTRUCT_TEST_KEY", "sk-test")


@pytest.fixture
def images(tmp_path) -> Path:
    return sample_folder(tmp_path / "images")


def sample_folder(root: Path) -> Path:
    """Four small photos: two sub-folders naming domains, one image without a domain."""
    photo(root / "landmark" / "tower.jpg", 1)
    photo(root / "ocr" / "shop-sign.png", 2, fmt="PNG")
    photo(root / "ocr" / "menu.jpg", 3)
    photo(root / "street.jpg", 4)  # no domain: the LLM chooses one from the caption
    return root


def test_folder_to_four_types_traceable_end_to_end(fake_openai, tmp_path, images):
    rec = parse_recipe(recipe_for(fake_openai, images))
    summary = run(rec, tmp_path / "run", workers=1)
    assert summary.stages["images"].done == 4 and summary.stages["captions"].done == 4
    assert summary.stages["domains"].done == 1
    assert summary.stages["instructions"].failed == 0

    with RunStore(tmp_path / "run", create=False) as store:
        res = export(store, "jsonl", tmp_path / "out" / "mm.jsonl")
        inputs = {ref: (image_id, domain) for _, ref, image_id, domain in store.iter_inputs()}
        captions = {i: store.contexts_of(i, "caption")["en"][0] for i, _ in inputs.values()}
    records = [json.loads(x) for x in (tmp_path / "out" / "mm.jsonl").read_text("utf-8").splitlines()]
    assert res.n_samples == len(records) > 0
    assert {r["type"] for r in records} == {"judgement", "multiple_choice", "short_vqa", "long_vqa"}
    assert {r["language"] for r in records} == {"en", "zh"}
    assert inputs["landmark/tower.jpg"][1] == "landmark" and inputs["ocr/menu.jpg"][1] == "ocr"
    assert inputs["street.jpg"][1] in builtin_domains(), "the LLM assigned a catalog domain"

    catalog = builtin_domains()
    for r in records:
        # image hash: the exported file's bytes hash to the id, which is the source image's id
        [image_id] = r["image_ids"]
        assert hashlib.sha256((tmp_path / "out" / r["images"][0]).read_bytes()).hexdigest() == image_id
        assert image_id in {i for i, _ in inputs.values()}
        # caption: the one stored for the image, made by the versioned caption prompt
        assert r["context"]["caption"] == captions[image_id]
        assert r["provenance"]["caption_prompt"] == "caption@v1"
        assert r["provenance"]["prompt"] == "instructions@v1"
        # seed questions: ids from the image's domain, of the family matching the type
        seeds = r["provenance"]["seed_questions"]
        family = {"judgement": "judgement", "multiple_choice": "choice"}.get(r["type"], "open")
        ids = {s.id for s in catalog[r["domain"]].seeds(family, r["language"])}
        assert seeds and set(seeds) <= ids
        if r["type"] == "multiple_choice":
            assert len(r["options"]) == 4 and len(set(r["options"])) == 4
            assert r["options"]["ABCD".index(r["answer_letter"])] == r["short_answer"]
            assert r["turns"][0]["answer"] == r["answer_letter"]
        if r["type"] == "judgement":
            assert r["short_answer"] in ("yes", "no")
            assert r["turns"][0]["answer"] in (("Yes", "No") if r["language"] == "en" else ("是", "否"))
        if r["type"] == "long_vqa":
            assert len(r["turns"]) >= 2
        assert r["status"] == "accepted"

    # each caption request carried its image, prepared as the endpoint asks
    vision = list(fake_openai.images)
    assert len(vision) == 4 and all(detail == "low" for detail, _ in vision)

    # re-running the finished recipe sends nothing and changes nothing
    fake_openai.reset()
    again = run(rec, tmp_path / "run", workers=1)
    assert fake_openai.requests == 0
    assert again.samples == summary.samples


def test_quotas_cap_samples_per_domain_and_type(fake_openai, tmp_path, images):
    rec = parse_recipe(
        recipe_for(
            fake_openai,
            images,
            languages=["en"],
            types=["multiple_choice", "short_vqa"],
            instructions={"endpoint": "llm", "quotas": {"ocr": {"multiple_choice": 3}}},
        )
    )
    run(rec, tmp_path / "run", workers=1)
    with RunStore(tmp_path / "run", create=False) as store:
        samples = list(store.iter_samples())
    ocr_mc = [s for s in samples if s.domain == "ocr" and s.type == "multiple_choice"]
    ocr_short = [s for s in samples if s.domain == "ocr" and s.type == "short_vqa"]
    assert 0 < len(ocr_mc) <= 3 and len({s.images[0] for s in ocr_mc}) == 1  # one request's worth of MC
    assert len({s.images[0] for s in ocr_short}) == 2  # no quota: both images' short answers


def test_a_user_domain_file_adds_a_domain(fake_openai, tmp_path, images):
    mine = tmp_path / "my_domains"
    mine.mkdir()
    base = yaml.safe_load((ROOT / "src/visinstruct/domains/catalog/image_style.yaml").read_text("utf-8"))
    base.update(name="medical_imaging", title={"en": "Medical imaging", "zh": "医学影像"})
    (mine / "medical_imaging.yaml").write_text(yaml.safe_dump(base, allow_unicode=True), "utf-8")
    catalog = load_catalog([mine])
    assert len(catalog) == len(builtin_domains()) + 1 and "medical_imaging" in catalog
    p = subprocess.run(
        [sys.executable, "-m", "visinstruct.cli", "domains", "--domains-dir", str(mine)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == 0 and "medical_imaging" in p.stdout
    assert f"{len(builtin_domains()) + 1} catalog domains" in p.stdout
    # a sub-folder named after the new domain uses it
    photo(images / "medical_imaging" / "scan.png", 5, fmt="PNG")
    rec = parse_recipe(recipe_for(fake_openai, images, domains_dir=[str(mine)], languages=["en"]))
    run(rec, tmp_path / "run", workers=1)
    with RunStore(tmp_path / "run", create=False) as store:
        assert any(s.domain == "medical_imaging" for s in store.iter_samples())


def test_every_builtin_domain_has_enough_seed_questions():
    catalog = builtin_domains()
    assert len(catalog) >= 24
    for name, d in catalog.items():
        for (family, lang), n in d.counts().items():
            assert n >= 8, f"{name}: {family}/{lang} has {n} seed questions"
        zh = [s.text for f in ("judgement", "choice", "open") for s in d.seeds(f, "zh")]
        assert all(any("\u4e00" <= ch <= "\u9fff" for ch in t) for t in zh), name


def test_bad_images_are_reported_and_good_ones_complete(fake_openai, tmp_path):
    root = tmp_path / "mixed"
    photo(root / "good.jpg", 1)
    photo(root / "good.png", 2, fmt="PNG")
    photo(root / "cmyk.jpg", 3, mode="CMYK")
    Image.new("I;16", (64, 48), 40000).save(root / "deep.png")
    frames = [Image.new("RGB", (60, 40), c) for c in ("red", "blue")]
    frames[0].save(root / "anim.gif", save_all=True, append_images=frames[1:], duration=100)
    full = (root / "good.jpg").read_bytes()
    (root / "truncated.jpg").write_bytes(full[: len(full) // 3])
    (root / "empty.jpg").write_bytes(b"")
    (root / "notes.png").write_text("this is not an image")
    Image.new("1", (20000, 20000)).save(root / "bomb.png")
    manifest = tmp_path / "more.jsonl"
    manifest.write_text(json.dumps({"url": "http://127.0.0.1:9/unreachable.jpg"}) + "\n")
    rec = parse_recipe(
        recipe_for(
            fake_openai,
            root,
            languages=["en"],
            types=["short_vqa"],
            sources=[
                {"folder": str(root), "domain": "image_quality"},
                {"manifest": str(manifest), "domain": "image_quality"},
            ],
        )
    )
    summary = run(rec, tmp_path / "run", workers=2)
    # 5 stored, 4 refused for what they are (done: nothing to retry), 1 download to try again
    assert summary.stages["images"].done == 9 and summary.stages["images"].failed == 1
    with RunStore(tmp_path / "run", create=False) as store:
        done_refs = {ref for _, ref, _, _ in store.iter_inputs()}
        n_samples = {ref: 0 for ref in done_refs}
        by_image = {image_id: ref for _, ref, image_id, _ in store.iter_inputs()}
        for s in store.iter_samples():
            n_samples[by_image[s.images[0]]] += 1
    assert done_refs == {"good.jpg", "good.png", "cmyk.jpg", "deep.png", "anim.gif"}
    assert all(n > 0 for n in n_samples.values()), "every good image got its instructions"
    p = subprocess.run(
        [sys.executable, "-m", "visinstruct.cli", "status", str(tmp_path / "run")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == 0, p.stderr
    reasons = {
        "truncated.jpg": "truncated",
        "empty.jpg": "empty",
        "notes.png": "not an image",
        "bomb.png": "decompression bomb",
        "unreachable.jpg": "cannot connect",
    }
    lines = p.stdout.splitlines()
    for name, why in reasons.items():
        assert any(name in line and why in line for line in lines), (name, p.stdout)


def test_files_a_folder_does_not_take_are_listed_by_status(fake_openai, tmp_path):
    """A named pipe, an SVG, a text file: recorded as rejected inputs with their reason (the run
    neither hangs nor skips them in silence); running again does not report them twice."""
    root = tmp_path / "mixed"
    photo(root / "good.jpg", 1)
    os.mkfifo(root / "x.png")
    (root / "logo.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    (root / "notes.txt").write_text("about the photos")
    (root / ".hidden.txt").write_text("quiet")
    rec = parse_recipe(recipe_for(fake_openai, root, languages=["en"], types=["short_vqa"]))
    summary = run(rec, tmp_path / "run", workers=1)
    # refused for what they are: done (recorded with the reason), nothing to retry
    assert summary.stages["images"].done == 4 and summary.stages["images"].failed == 0
    assert run(rec, tmp_path / "run", workers=1).stages["images"].skipped == 0  # known: not planned again
    p = subprocess.run(
        [sys.executable, "-m", "visinstruct.cli", "status", str(tmp_path / "run")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == 0, p.stderr
    rejected = [line.strip() for line in p.stdout.splitlines() if line.strip().startswith("rejected ")]
    assert rejected == [
        "rejected logo.svg: unsupported image type .svg (supported: .jpg, .jpeg, .jpe, .jfif, .png, .webp, "
        ".gif, .bmp, .tif, .tiff)",
        "rejected notes.txt: not an image file (.txt)",
        "rejected x.png: not a regular file (named pipe)",
    ]
    assert "source images: 1 stored, 3 rejected" in p.stdout


def test_dry_run_prints_the_estimate_and_sends_nothing(fake_openai, tmp_path, images):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(yaml.safe_dump(recipe_for(fake_openai, images)))
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "visinstruct.cli",
            "run",
            str(recipe),
            "--run-dir",
            str(tmp_path / "run"),
            "--dry-run",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**__import__("os").environ, "VISINSTRUCT_TEST_KEY": "sk-test"},
    )
    assert p.returncode == 0, p.stderr
    assert fake_openai.requests == 0
    out = p.stdout
    assert "caption" in out and "instructions:multiple_choice" in out and "cost (USD)" in out
    caption_row = next(line for line in out.splitlines() if line.strip("│ ").startswith("caption"))
    assert " 4 " in caption_row  # four images, one caption language
    assert not (tmp_path / "run" / "run.db").exists(), "a dry run writes nothing"


def test_synthetic_facts_feed_the_llm_stage(fake_openai, tmp_path):
    """The exact facts of a synthetic image are the context of an LLM-written long conversation."""
    rec = parse_recipe(
        {
            "name": "facts",
            "seed": 2,
            "languages": ["en"],
            "synthetic": {
                "charts": {"count": 4, "llm": ["long_vqa"]},
                "differences": {"count": 2, "llm": ["long_vqa"]},
            },
            "endpoints": {
                "llm": {
                    "model": "fake-model",
                    "base_url": fake_openai.base_url,
                    "provider": "vllm",
                    "api_key_env": "VISINSTRUCT_TEST_KEY",
                }
            },
            "instructions": {"endpoint": "llm"},
        }
    )
    summary = run(rec, tmp_path / "run", workers=1)
    assert summary.stages["facts_llm"].done == 6 and fake_openai.requests == 6
    with RunStore(tmp_path / "run", create=False) as store:
        samples = list(store.iter_samples())
    llm = [s for s in samples if s.provenance.get("generator") == "llm/instructions"]
    synth = {s.provenance["unit"]: s for s in samples if s.provenance["generator"].startswith("synth/")}
    assert len(llm) == 6 and all(s.type == "long_vqa" and len(s.turns) >= 2 for s in llm)
    for s in llm:
        unit = s.provenance["source"].removeprefix("synthetic:")
        assert s.images == synth[unit].images and s.context["facts"] == synth[unit].context["facts"]
        assert s.domain in ("charts", "differences")
    # the facts went into the prompt verbatim
    assert any('"chart":' in m["content"] for m in fake_openai.last_request["messages"]) or any(
        '"objects_1":' in m["content"] for m in fake_openai.last_request["messages"]
    )
    # samples come in plan order: synthetic items first, then what the LLM wrote from their facts
    kinds = [s.provenance["generator"].startswith("synth/") for s in samples]
    assert kinds == sorted(kinds, reverse=True)
    assert len({s.id for s in samples}) == len(samples)


def _user_text(req: dict) -> str:
    parts = [m["content"] for m in req["messages"] if m["role"] == "user"]
    return " ".join(
        c if isinstance(c, str) else " ".join(p.get("text", "") for p in c if isinstance(p, dict))
        for c in parts
    )


CHOICES = [  # as real models write them: their own letters, letters in other forms, texts
    {
        "question": "What colour is the wall?",
        "options": ["A. red", "B. pale blue", "C. beige", "D. green"],
        "answer": "(B)",
        "explanation": "The wall is painted pale blue.",
    },
    {
        "question": "Which object stands on the left?",
        "options": ["(A) a lamp", "(B) a chair", "(C) a plant", "(D) a clock"],
        "answer": "Option c",
        "explanation": "A close look at the picture settles it: the answer is D.",
    },
    {
        "question": "What does the sign say?",
        "options": ["A、OPEN", "B、CLOSED", "C、EXIT", "D、SALE"],
        "answer": "closed",
        "explanation": "The sign reads OPEN in large letters.",
    },
]
JUDGEMENTS = [
    {"question": "Is the wall blue?", "answer": "Yes.", "reason": "The wall is pale blue."},
    {
        "question": "Is there a dog in the picture?",
        "answer": "No, there is not",
        "reason": "No animals are seen.",
    },
    {"question": "Is the door red?", "answer": "是的", "reason": "No, the door is green."},
]


def styled_reply(req: dict) -> dict | None:
    text = _user_text(req)
    if "multiple-choice questions about the image" in text:
        return {"questions": CHOICES}
    if "yes/no questions about the image" in text:
        return {"questions": JUDGEMENTS}
    return None  # captions, domains: the server's default


def test_prefixed_options_and_answer_forms_export_clean_and_explanations_are_checked(
    fake_openai, tmp_path, images
):
    fake_openai.responder = styled_reply
    # every image gets the same reply: only the answers and what the model said are checked here
    recipe = recipe_for(fake_openai, images, languages=["en"], types=["judgement", "multiple_choice"])
    rec = parse_recipe({**recipe, "checks": {"image_dedup": False}})
    summary = run(rec, tmp_path / "run", workers=1)
    assert summary.stages["instructions"].failed == 0 and summary.stages["instructions"].done == 8
    with RunStore(tmp_path / "run", create=False) as store:
        samples = [s for s in store.iter_samples() if s.provenance.get("generator") == "llm/instructions"]
        export(store, "jsonl", tmp_path / "out" / "mm.jsonl")
    records = [json.loads(x) for x in (tmp_path / "out" / "mm.jsonl").read_text("utf-8").splitlines()]

    meant = {
        "What colour is the wall?": (["red", "pale blue", "beige", "green"], "pale blue"),
        "Which object stands on the left?": (["a lamp", "a chair", "a plant", "a clock"], "a plant"),
        "What does the sign say?": (["OPEN", "CLOSED", "EXIT", "SALE"], "CLOSED"),
    }
    choices = [s for s in samples if s.type == "multiple_choice"]
    assert len(choices) == 12
    for s in choices:
        stem = s.turns[0].question.split("\n")[0]
        options, right = meant[stem]
        assert sorted(s.options) == sorted(options), "option texts lose the model's letters"
        assert s.short_answer == right and s.options["ABCD".index(s.answer_letter)] == right
        assert s.turns[0].answer == s.answer_letter
        lines = s.turns[0].question.split("\n")[1:5]
        assert lines == [f"{c}. {o}" for c, o in zip("ABCD", s.options, strict=True)]
        assert s.context["explanation"] == next(c["explanation"] for c in CHOICES if c["question"] == stem)
        if stem == "What colour is the wall?":
            assert s.status == "accepted"
        else:  # the explanation argues for another option: review, with the reason
            assert s.status == "needs_review"
            reason = s.checks["consistency"]["reason"]
            assert s.checks["consistency"]["severity"] == "review"
            if stem.startswith("Which object"):
                assert "the answer is D ('a clock')" in reason and "answered C ('a plant')" in reason
            else:
                assert "names 'OPEN', not the answer 'CLOSED'" in reason

    judgements = {
        (s.turns[0].question.split("?")[0], s.short_answer, s.status)
        for s in samples
        if s.type == "judgement"
    }
    assert judgements == {
        ("Is the wall blue", "yes", "accepted"),
        ("Is there a dog in the picture", "no", "accepted"),
        ("Is the door red", "yes", "needs_review"),
    }
    door = next(s for s in samples if s.turns[0].question.startswith("Is the door red"))
    assert "opens with 'no'" in door.checks["consistency"]["reason"]
    assert door.context["explanation"] == "No, the door is green."

    # the export holds the accepted samples with clean options and the right letter
    mc = [r for r in records if r["type"] == "multiple_choice"]
    assert len(mc) == 4 and len(records) == 12
    for r in mc:
        assert sorted(r["options"]) == ["beige", "green", "pale blue", "red"]
        assert r["options"]["ABCD".index(r["answer_letter"])] == r["short_answer"] == "pale blue"
        assert r["turns"][0]["answer"] == r["answer_letter"]


def test_an_answer_naming_no_single_option_fails_its_unit_and_is_asked_again(fake_openai, tmp_path, images):
    asked: list[str] = []

    def reply(req: dict) -> dict | None:
        if "multiple-choice questions about the image" not in _user_text(req):
            return None
        asked.append("mc")
        return {"questions": [{**CHOICES[0], "answer": "B or C"}]}

    fake_openai.responder = reply
    rec = parse_recipe(recipe_for(fake_openai, images, languages=["en"], types=["multiple_choice"]))
    summary = run(rec, tmp_path / "run", workers=1)
    assert summary.stages["instructions"].failed == 4 and summary.stages["instructions"].done == 0
    assert len(asked) == 8, "one repair ask per unit"
    with RunStore(tmp_path / "run", create=False) as store:
        errors = [err for stage, _, _, err, _ in store.failed_units() if stage == "instructions"]
        assert not [s for s in store.iter_samples() if s.type == "multiple_choice"]
    assert len(errors) == 4 and all("'B or C'" in e for e in errors)
    summary = run(rec, tmp_path / "run", workers=1)  # never cached: the next run asks again
    assert summary.stages["instructions"].failed == 4 and len(asked) == 16


def _prompt_schema_reply(req: dict) -> str | None:
    """What a model asked in the prompt (no `response_format`) for JSON of a schema writes:
    such JSON. The endpoint may be switched to asking in the prompt once it has seen tag replies."""
    if req.get("response_format"):
        return None
    for m in req["messages"]:
        text = m["content"] if m["role"] == "system" and isinstance(m["content"], str) else ""
        if "JSON schema:\n" in text:
            schema = json.loads(text.split("JSON schema:\n", 1)[1])
            return json.dumps(SchemaFaker(schema, _user_text(req)).generate())
    return None


def test_tag_format_replies_get_the_same_answer_reading_and_checks(fake_openai, tmp_path, images):
    def reply(req: dict) -> str | None:
        if "multiple-choice questions about the image" not in _user_text(req):
            return _prompt_schema_reply(req)  # the domain choice, asked in the prompt after a switch
        return (
            "<Q1> What colour is the wall? </Q1> <C1> A. red B. pale blue C. beige D. green </C1> "
            "<A1> 选B </A1> <E1> The wall is beige. </E1>"
        )

    fake_openai.responder = reply
    recipe = recipe_for(fake_openai, images, languages=["en"], types=["multiple_choice"])
    summary = run(parse_recipe({**recipe, "checks": {"image_dedup": False}}), tmp_path / "run", workers=1)
    with RunStore(tmp_path / "run", create=False) as store:
        made = [s for s in store.iter_samples() if s.type == "multiple_choice"]
        failures = store.failed_units()
    assert summary.stages["instructions"].done == 4 and summary.stages["instructions"].failed == 0, failures
    assert len(made) == 4 and {s.answer_letter for s in made} == set("ABCD")
    for s in made:
        assert sorted(s.options) == ["beige", "green", "pale blue", "red"] and s.short_answer == "pale blue"
        assert s.context["explanation"] == "The wall is beige." and s.status == "needs_review"
        assert "names 'beige', not the answer 'pale blue'" in s.checks["consistency"]["reason"]
