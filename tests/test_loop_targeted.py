"""Targeted questions for weak categories (MLLM-DataEngine's generation step) against the
loopback server: bad cases as examples, images like the bad cases', failures recorded."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from test_mminstruct import photo, recipe_for

from visinstruct.export import export
from visinstruct.loop.results import EvalRecord, write_records
from visinstruct.recipe import parse_recipe
from visinstruct.runner import run_recipe as run
from visinstruct.store import RunStore


@pytest.fixture(autouse=True)
def key(monkeypatch):
    monkeypatch.setenv("VISINSTRUCT_TEST_KEY", "sk-test")


def choice_reply(req: dict) -> str | dict | None:
    """Valid multiple-choice JSON made from the request; not JSON for the 'Broken' category."""
    parts = [m["content"] for m in req["messages"] if m["role"] == "user"]
    text = " ".join(
        c if isinstance(c, str) else " ".join(p.get("text", "") for p in c if isinstance(p, dict))
        for c in parts
    )
    if "Question kind:" not in text:
        return None  # captions: the server's default
    kind = re.search(r"Question kind: ([^\n(]+)", text).group(1).strip()
    if kind == "Broken":
        return "Sure! Here are your questions: question 1 ..."
    n = sum(map(ord, text)) % 7
    return {
        "questions": [
            {
                "question": f"How many signs about {kind} are visible here, case {n}?",
                "options": [str(n + 1), str(n + 2), str(n + 3), str(n + 4)],
                "answer": "BCDA"[n % 4],
                "explanation": f"There are {n + 1 + 'ABCD'.index('BCDA'[n % 4])} signs.",
            }
        ]
    }


def setup(tmp_path: Path, server) -> dict:
    images = tmp_path / "images"
    for i in range(8):
        photo(images / "ocr" / f"p{i}.jpg", i)
    bad = tmp_path / "bench"
    recs = []
    for i in range(3):  # three counting mistakes, each with an image like pool image p{i}
        img = photo(bad / f"c{i}.jpg", i)
        recs.append(
            EvalRecord(f"c{i}", "Instances Counting", f"How many towers {i}?", "A", "C", False,
                       ["1", "2", "3", "4"], image=str(img))
        )  # fmt: skip
    recs.append(EvalRecord("ok", "Instances Counting", "How many?", "A", "A", True, ["1", "2", "3", "4"]))
    recs.append(EvalRecord("b0", "Broken", "Why?", "B", "A", False, ["w", "x", "y", "z"]))
    write_records(tmp_path / "bad.jsonl", recs)
    server.responder = choice_reply
    return recipe_for(
        server,
        images,
        languages=["en"],
        types=["multiple_choice"],
        instructions={"endpoint": "llm", "quotas": {"ocr": {"multiple_choice": 0}}},
        targeted={
            "endpoint": "llm",
            "bad_cases": str(tmp_path / "bad.jsonl"),
            "quotas": {
                "Instances Counting": {"count": 6, "category": "counting", "domain": "ocr"},
                "Text Understanding": 3,
                "Broken": 2,
            },
            "similar": 1.0,
        },
        round=4,
    )


def test_targeted_questions_use_bad_cases_and_record_failures(tmp_path, fake_openai):
    data = setup(tmp_path, fake_openai)
    seen: list[str] = []
    inner = fake_openai.responder

    def spy(req):
        seen.append(json.dumps(req["messages"], ensure_ascii=False))
        return inner(req)

    fake_openai.responder = spy
    summary = run(parse_recipe(data), tmp_path / "run", workers=1)
    t = summary.stages["targeted"]
    assert (t.done, t.failed) == (9, 2), "the malformed replies fail their own units, nothing else"
    with RunStore(tmp_path / "run", create=False) as store:
        samples = [s for s in store.iter_samples() if s.provenance.get("generator") == "llm/targeted"]
        failed = {key: err for _, key, _, err, _ in store.failed_units()}
    assert {k for k in failed if k.startswith("targeted/broken")} == {
        "targeted/broken/Broken/0",
        "targeted/broken/Broken/1",
    }
    by_cat: dict[str, list] = {}
    for s in samples:
        by_cat.setdefault(s.category, []).append(s)
    assert {c: len(v) for c, v in by_cat.items()} == {"counting": 6, "text_understanding": 3}
    for s in samples:
        assert s.type == "multiple_choice" and len(s.options) == 4 and s.answer_letter in "ABCD"
        assert s.round == 4 and s.context["explanation"]
    counting = by_cat["counting"]
    # two distinct bad cases per prompt, all three seen before any repeats; never a right answer
    shown = [s.provenance["bad_cases"] for s in counting]
    assert all(len(b) == 2 and len(set(b)) == 2 and "ok" not in b for b in shown)
    assert set(shown[0]) | set(shown[1]) == {"c0", "c1", "c2"}
    # similar: 1.0 → every counting image chosen like a bad case's image
    assert {s.provenance["image_choice"] for s in counting} == {"similar"}
    # a category with no recorded mistakes still gets its questions, from any image
    assert {s.provenance["image_choice"] for s in by_cat["text_understanding"]} == {"random"}
    targeted_prompts = [p for p in seen if "Question kind" in p]
    assert any("How many towers 0?" in p and "the model said: C" in p for p in targeted_prompts)
    assert any("Text Understanding" in p and "none recorded" in p for p in targeted_prompts)
    # MLLM-DataEngine rows
    with RunStore(tmp_path / "run", create=False) as store:
        export(store, "dataengine", tmp_path / "de.json")
    rows = [r for r in json.loads((tmp_path / "de.json").read_text()) if r["qtype"] == "counting"]
    accepted = [s for s in counting if s.status in ("accepted", "edited")]
    assert len(rows) == len(accepted) >= 3 and all(
        r["choice_answer"] in "ABCD" and len(r["options"]) == 4 for r in rows
    )


def test_rerun_asks_again_only_what_failed_until_it_gives_up(tmp_path, fake_openai):
    data = setup(tmp_path, fake_openai)
    run(parse_recipe(data), tmp_path / "run", workers=1)
    before = fake_openai.requests
    summary = run(parse_recipe(data), tmp_path / "run", workers=1)
    t = summary.stages["targeted"]
    assert (t.done, t.skipped, t.failed) == (0, 9, 2)
    # a malformed reply is never cached: the two failed units are asked again (each with its repair)
    assert fake_openai.requests == before + 4
    summary = run(parse_recipe(data), tmp_path / "run", workers=1)  # the third attempt, the last
    assert (summary.stages["targeted"].failed, summary.stages["targeted"].gave_up) == (0, 2)
    before = fake_openai.requests
    summary = run(parse_recipe(data), tmp_path / "run", workers=1)
    assert summary.stages["targeted"].gave_up == 2 and fake_openai.requests == before  # given up: not sent
    with RunStore(tmp_path / "run", create=False) as store:
        states = {key: (state, n) for _, key, state, _, n in store.failed_units()}
    assert states["targeted/broken/Broken/0"] == ("gave_up", 3)


def test_targeted_needs_source_images():
    from visinstruct.recipe import RecipeError

    with pytest.raises(RecipeError, match="targeted questions are written about source images"):
        parse_recipe({"synthetic": {"scenes": 1}, "targeted": {"bad_cases": "x.jsonl", "quotas": {"a": 1}}})
