"""The augmentation engine through the real ModelClient and the loopback server: brace
expressions never evaluated, target stopping, iterative rounds, model errors, a fatal
error mid-run, proposed directives and the budget."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from pathlib import Path

import pytest
from augment_rephraser import respond

from visinstruct.augment.config import parse_config
from visinstruct.augment.mask import protected_spans
from visinstruct.augment.pool import read_pool
from visinstruct.augment.runner import run_augment
from visinstruct.augment.templates import TemplateFileError
from visinstruct.models import ModelFatalError
from visinstruct.models.ledger import ledger_rows
from visinstruct.templates import render

ROOT = Path(__file__).resolve().parents[1]
KEY_ENV = "VISINSTRUCT_AUGMENT_TEST_KEY"


@pytest.fixture(autouse=True)
def key(monkeypatch):
    monkeypatch.setenv(KEY_ENV, "sk-test")


def config(tmp_path: Path, server, templates: dict, endpoint: dict | None = None, **extra):
    tasks = tmp_path / "tasks.yaml"
    tasks.write_text(json.dumps(templates, ensure_ascii=False), "utf-8")  # JSON is YAML
    ep = {
        "model": "fake-model",
        "base_url": server.base_url,
        "provider": "vllm",
        "api_key_env": KEY_ENV,
        "max_in_flight": 16,
        **(endpoint or {}),
    }
    return parse_config({"templates": [str(tasks)], "endpoints": {"llm": ep}, **extra})


TWO_TASKS = {
    "region_caption": [
        "Describe the content of the region {region} in the image.",
        "What is shown in {region}?",
        "Write a description of the part of the image inside {region}.",
    ],
    "vqa": ["Answer the question about the image: {question}", "Based on the image, {question}"],
}


def test_ten_tasks_of_five_grow_tenfold_with_their_placeholders_intact(fake_openai, tmp_path):
    fake_openai.responder = respond
    cfg = parse_config(
        {
            "templates": [str(ROOT / "examples/augment/tasks.yaml")],
            "endpoints": {
                "llm": {
                    "model": "fake-model",
                    "base_url": fake_openai.base_url,
                    "provider": "vllm",
                    "api_key_env": KEY_ENV,
                }
            },
            "generation": {"target": 10},
        }
    )
    result, figs = run_augment(cfg, tmp_path / "out")
    assert len(figs) == 10 and all(f.originals == 5 and f.kept >= 50 for f in figs)
    assert fake_openai.requests == result.sent == result.requests > 0
    for pool in result.pools.values():
        for t in pool.kept:
            original = pool.by_id[t.root]
            assert protected_spans(t.text) == protected_spans(original.text)
            names = [s[1:-1] for s in protected_spans(t.text) if s.startswith("{")]
            assert "{" not in render(t.text, dict.fromkeys(names, "x"))
    assert {"unsafe_brace", "placeholders", "meta_text", "language", "length"} <= {
        r.rule for r in result.rejected
    }


def test_brace_expressions_in_replies_are_rejected_and_never_evaluated(fake_openai, tmp_path, monkeypatch):
    marker = tmp_path / "evaluated"
    payloads = [
        f"Describe [[A]] {{__import__('os').system('touch {marker}')}}",
        "Describe {question.__class__} in [[A]]",
        "Describe [[A]] using {options[0]}",
        "Describe [[A]] as {x!r}",
        "Describe [[A]] as {x:>10}",
    ]

    def responder(req):
        digest = hashlib.sha256(
            json.dumps(req["messages"]).encode() + str(req["temperature"]).encode()
        ).digest()
        return payloads[digest[0] % len(payloads)]

    calls = []
    monkeypatch.setattr(os, "system", lambda cmd: calls.append(cmd) or 0)
    fake_openai.responder = responder
    cfg = config(
        tmp_path, fake_openai, {"region_caption": TWO_TASKS["region_caption"]}, generation={"target": 3}
    )
    result, _ = run_augment(cfg, tmp_path / "out")
    assert calls == [] and not marker.exists()
    pool = result.pools["region_caption"]
    assert pool.kept == pool.originals, "nothing was kept"
    assert result.rejected and {r.rule for r in result.rejected} == {"unsafe_brace"}
    seen = {r.detail.split("brace expression ")[1].split(" is not")[0] for r in result.rejected}
    assert {"{question.__class__}", "{options[0]}", "{x!r}", "{x:>10}"} <= seen
    assert any(s.startswith("{__import__('os').system('touch ") for s in seen)
    rows = [json.loads(x) for x in (tmp_path / "out" / "rejected.jsonl").read_text().splitlines()]
    assert {r["text"] for r in rows} <= set(payloads) and all(r["rule"] == "unsafe_brace" for r in rows)


def test_a_hand_edited_pool_with_a_brace_expression_is_refused_without_evaluating_it(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(os, "system", lambda cmd: calls.append(cmd) or 0)
    pool = tmp_path / "pool.jsonl"
    line = {"task": "vqa", "text": "{question} {__import__('os').system('x')}", "origin": "rephrased"}
    pool.write_text(json.dumps({"task": "vqa", "text": "{question}"}) + "\n" + json.dumps(line) + "\n")
    with pytest.raises(TemplateFileError, match=r"pool.jsonl:2: brace expression \{__import__"):
        read_pool(pool)
    assert calls == []


def test_generation_stops_at_the_target_and_keeps_the_rest_as_surplus(fake_openai, tmp_path):
    fake_openai.responder = respond
    cfg = config(tmp_path, fake_openai, TWO_TASKS, generation={"target": 6})
    result, figs = run_augment(cfg, tmp_path / "out")
    assert {f.task: f.kept for f in figs} == {"region_caption": 18, "vqa": 12}
    grid = sum(len(v) for v in TWO_TASKS.values()) * 12 * 6  # parents × directives × temperatures
    assert result.requests < grid / 2, "waves ask only for what each task still needs"
    assert all(r.rule != "surplus" or r.text for r in result.rejected)


def test_iterative_rounds_rephrase_what_the_previous_round_kept(fake_openai, tmp_path):
    fake_openai.responder = respond
    cfg = config(
        tmp_path,
        fake_openai,
        TWO_TASKS,
        generation={"mode": "iterative", "rounds": 3, "target": 12, "iterative_temperature": 0.9},
        directives=["synonyms", "restructure", "brief"],
    )
    result, _ = run_augment(cfg, tmp_path / "out")
    for pool in result.pools.values():
        by_id = {t.id: t for t in pool.kept}
        rephrased = [t for t in pool.kept if t.origin == "rephrased"]
        assert {t.temperature for t in rephrased} == {0.9}
        assert {t.directive for t in rephrased} <= {"synonyms", "restructure", "brief"}
        assert max(t.round for t in rephrased) >= 2
        for t in rephrased:
            parent = by_id[t.parent]
            assert parent.round == t.round - 1
            assert by_id[t.root].origin == "original"


def test_failed_requests_are_recorded_and_retried_by_the_next_run(fake_openai, tmp_path):
    fake_openai.responder = respond
    fake_openai.fail_rate = 0.3
    cfg = config(tmp_path, fake_openai, TWO_TASKS, endpoint={"max_retries": 0}, generation={"target": 4})
    first, _ = run_augment(cfg, tmp_path / "out")
    errors = [r for r in first.rejected if r.rule == "model_error"]
    assert first.failed == len(errors) > 0 and "HTTP 500" in errors[0].detail
    fake_openai.fail_rate = 0.0
    second, figs = run_augment(cfg, tmp_path / "out")
    assert second.failed == 0 and all(f.kept == 4 * f.originals for f in figs)
    assert 0 < second.sent < second.requests, "only what failed (and what it led to) was sent again"
    third, _ = run_augment(cfg, tmp_path / "out")
    assert third.sent == 0


def test_a_fatal_error_mid_run_keeps_what_was_produced_and_the_run_resumes(fake_openai, tmp_path):
    answered = []

    def responder(req):
        answered.append(1)
        if len(answered) == 25:
            fake_openai.api_key = "sk-rotated"  # every later request is refused: a revoked key
        return respond(req)

    fake_openai.responder = responder
    cfg = config(tmp_path, fake_openai, TWO_TASKS, generation={"target": 8})
    with pytest.raises(ModelFatalError, match="HTTP 401"):
        run_augment(cfg, tmp_path / "out")
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["complete"] is False
    assert (tmp_path / "out" / "pool.jsonl").read_text().count("\n") >= 5, "the originals at least"
    fake_openai.api_key = "sk-test"
    fake_openai.responder = respond
    before = fake_openai.requests
    result, figs = run_augment(cfg, tmp_path / "out")
    assert result.complete and all(f.kept == 8 * f.originals for f in figs)
    assert fake_openai.requests - before < result.requests, (
        "answers received before the error were not asked again"
    )


def test_the_model_can_propose_new_directives(fake_openai, tmp_path):
    fake_openai.responder = respond
    templates = {**TWO_TASKS, "zh_vqa": ["请根据图片回答问题：{question}", "看图回答：{question}"]}
    cfg = config(
        tmp_path,
        fake_openai,
        templates,
        propose_directives=3,
        directives=["synonyms"],
        generation={"target": 5},
    )
    result, _ = run_augment(cfg, tmp_path / "out")
    proposed = [d for d in result.directives if d.proposed]
    assert {d.name for d in proposed} >= {"proposed_en_1", "proposed_zh_1"}
    assert all("{" not in t for d in proposed for t in d.text.values())
    used = {t.directive for p in result.pools.values() for t in p.kept if t.origin == "rephrased"}
    assert any(name.startswith("proposed_") for name in used)
    zh_used = {t.directive for t in result.pools["zh_vqa"].kept if t.origin == "rephrased"}
    assert not any(name.startswith("proposed_en") for name in zh_used), (
        "a proposed directive keeps its language"
    )
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert "proposed_en_1" in summary["directives"]


def test_the_budget_stops_sending(fake_openai, tmp_path):
    fake_openai.responder = respond
    cfg = config(
        tmp_path,
        fake_openai,
        TWO_TASKS,
        endpoint={"price": {"input": 100, "output": 100}, "max_in_flight": 1},
        budget_usd=0.3,
        generation={"target": 10},
    )
    result, _ = run_augment(cfg, tmp_path / "out")
    assert result.budget_reached and any(r.rule == "budget" for r in result.rejected)
    assert 0 < fake_openai.requests < 30 and 0 < result.cost_usd <= 0.3
    again, _ = run_augment(cfg, tmp_path / "out")
    assert again.budget_reached and result.cost_usd + again.cost_usd <= 0.3
    db = sqlite3.connect(tmp_path / "out" / "augment.db")
    spent = sum(row[-1] for row in ledger_rows(db))
    db.close()
    assert spent == pytest.approx(result.cost_usd + again.cost_usd), "the folder's ledger counts every run"
