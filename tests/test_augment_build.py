"""Building a dataset from a pool: a seeded template per row, plain substitution, provenance,
export rows and user rows, and one-line errors naming the row."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from visinstruct.augment.build import BuildError, BuildStats, build_rows, read_jsonl
from visinstruct.augment.pool import read_pool
from visinstruct.augment.templates import Template, TemplateFileError


def pool_file(tmp_path: Path, rows: list[dict]) -> Path:
    p = tmp_path / "pool.jsonl"
    p.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return p


ORIG = Template("multiple_choice", "{question} Choose one: {options}")
POOL = {
    "multiple_choice": [
        ORIG,
        Template(
            "multiple_choice",
            "Pick the right option for {question}\n{options}",
            origin="rephrased",
            parent=ORIG.id,
            root=ORIG.id,
            directive="synonyms",
            temperature=0.8,
            round=1,
        ),
        Template("multiple_choice", "{question}\n{options}\n请选择。", lang="zh"),
    ],
    "vqa": [Template("vqa", "Answer from the image: {question}"), Template("vqa", "{question} ({hint})")],
}

EXPORT_ROW = {
    "id": "a1",
    "type": "multiple_choice",
    "language": "en",
    "turns": [{"question": "What value does the chart show for Rome?", "answer": "C"}],
    "options": ["121", "117", "119", "120"],
    "provenance": {"generator": "synth/charts"},
}


def build(rows, **kw):
    return list(build_rows(iter(enumerate(rows, 1)), POOL, **kw))


def test_an_export_row_gets_a_template_as_its_first_question_with_provenance():
    [out] = build([EXPORT_ROW], seed=1)
    q = out["turns"][0]["question"]
    assert "What value does the chart show for Rome?" in q and "A. 121\nB. 117\nC. 119\nD. 120" in q
    tpl = out["provenance"]["template"]
    assert tpl["task"] == "multiple_choice" and tpl["question_before"] == EXPORT_ROW["turns"][0]["question"]
    assert tpl["origin"] in ("original", "rephrased") and "{question}" in tpl["text"]
    assert out["provenance"]["generator"] == "synth/charts"
    assert EXPORT_ROW["turns"][0]["question"] == "What value does the chart show for Rome?", "input untouched"
    assert tpl["text"] != "{question}\n{options}\n请选择。", "an en row gets an en template"
    [zh] = build([{**EXPORT_ROW, "language": "zh"}])
    assert zh["provenance"]["template"]["text"] == "{question}\n{options}\n请选择。"


def test_a_user_row_gets_the_text_in_its_field_and_the_template_beside_it():
    [out] = build([{"task": "vqa", "question": "How many cats?"}], field_name="prompt")
    assert out["prompt"] == "Answer from the image: How many cats?", "the other template needs {hint}"
    assert out["template"]["id"] == POOL["vqa"][0].id
    [hinted] = build([{"task": "vqa", "question": "How many?", "hint": "count carefully"}], seed=0)
    assert hinted["instruction"] in ("Answer from the image: How many?", "How many? (count carefully)")


def test_rendering_is_plain_substitution_of_values_that_look_like_templates():
    [out] = build([{"task": "vqa", "question": "{__import__('os').system('x')} and {hint}"}])
    assert out["instruction"] == "Answer from the image: {__import__('os').system('x')} and {hint}"


def test_the_draw_is_seeded_per_row_and_spreads_over_the_pool():
    rows = [{**EXPORT_ROW, "id": f"r{i}"} for i in range(60)]
    a, b = build(rows, seed=5), build(rows, seed=5)
    assert a == b
    assert build(rows[10:20], seed=5) == a[10:20], "a row's draw depends on its id, not its position"
    ids = {r["provenance"]["template"]["id"] for r in a}
    assert ids == {POOL["multiple_choice"][0].id, POOL["multiple_choice"][1].id}
    assert build(rows, seed=6) != a
    stats = BuildStats()
    build(rows, seed=5, stats=stats)
    assert stats.rows == 60 and stats.by_origin["original"] + stats.by_origin["rephrased"] == 60


def test_task_can_be_fixed_or_read_from_another_field():
    [out] = build([{"kind": "vqa", "question": "Why?"}], task_field="kind")
    assert out["template"]["task"] == "vqa"
    [out] = build([{"question": "Why?"}], task="vqa")
    assert out["instruction"].endswith("Why?")


@pytest.mark.parametrize(
    "row, message",
    [
        ({"question": "q"}, "data:1: no task (give --task, or a 'task' field)"),
        ({"task": "caption", "question": "q"}, "data:1: task 'caption' has no templates in the pool (have: "),
        (
            {"task": "vqa", "question": "q", "language": "zh"},
            "data:1: task 'vqa' has no zh templates in the pool",
        ),
        (
            {"task": "vqa", "text": "q"},
            "data:1: no template of task 'vqa' can be filled from this row (missing: hint, q",
        ),
    ],
)
def test_a_row_that_cannot_be_built_is_an_error_naming_it(row, message):
    with pytest.raises(BuildError) as e:
        build([row])
    assert str(e.value).startswith(message)


def test_read_jsonl_names_a_broken_line(tmp_path):
    p = tmp_path / "d.jsonl"
    p.write_text('{"a": 1}\n\n[1, 2]\n')
    with pytest.raises(BuildError, match=r"d.jsonl:3: a row must be a JSON object"):
        list(read_jsonl(p))
    p.write_text('{"a": 1}\n{"a": \n')
    with pytest.raises(BuildError, match=r"d.jsonl:2: not valid JSON"):
        list(read_jsonl(p))


def test_read_pool_checks_each_line(tmp_path):
    orig = {"task": "vqa", "text": "Q: {question}", "id": "vqa#1", "root": "vqa#1", "origin": "original"}
    good = {"task": "vqa", "text": "Answer {question}", "id": "vqa#2", "root": "vqa#1", "origin": "rephrased"}
    pool = read_pool(pool_file(tmp_path, [orig, good]))
    assert [t.text for t in pool["vqa"]] == ["Q: {question}", "Answer {question}"]
    assert read_pool(tmp_path)["vqa"][1].origin == "rephrased", "a pool folder reads its pool.jsonl"
    drifted = {**good, "text": "Answer {question} with {options}"}
    with pytest.raises(TemplateFileError, match=r"pool.jsonl:2: placeholders differ from its original vqa#1"):
        read_pool(pool_file(tmp_path, [orig, drifted]))
    with pytest.raises(TemplateFileError, match=r"pool.jsonl:1: a pool line needs task and text"):
        read_pool(pool_file(tmp_path, [{"text": "x"}]))
    with pytest.raises(TemplateFileError, match="cannot read pool"):
        read_pool(tmp_path / "nowhere.jsonl")
