"""Template sources, meta-prompt files and the augmentation config: what they load, and the
one-line error each kind of broken input gives."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from visinstruct.augment.config import ConfigError, load_config, parse_config
from visinstruct.augment.directives import (
    DirectivesError,
    builtin,
    load_directives,
    parse_proposals,
    propose_messages,
    rewrite_messages,
)
from visinstruct.augment.mask import mask
from visinstruct.augment.templates import (
    TemplateFileError,
    load_file,
    load_seeds,
    load_synth,
    multiinstruct_text,
)

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "augment"


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, "utf-8")
    return p


def test_the_example_fixture_has_ten_tasks_of_five_templates():
    ts = load_file(EXAMPLE / "tasks.yaml")
    tasks = {t.task for t in ts}
    assert len(tasks) == 10 and all(sum(t.task == k for t in ts) == 5 for k in tasks)
    by = {t.task: t for t in ts}
    assert by["multiple_choice"].placeholders() == ["{options}", "{question}"]
    assert by["counting"].placeholders() == ["<image>", "{object}"]
    assert {t.lang for t in ts if t.task == "zh_vqa"} == {"zh"}
    assert all(t.origin == "original" and t.root == t.id for t in ts)


def test_yaml_lists_and_language_mappings(tmp_path):
    p = write(
        tmp_path,
        "t.yaml",
        "a:\n  - 'Describe {region}.'\n  - 'Describe {region}.'\nb:\n  zh: ['描述{region}。']\n",
    )
    ts = load_file(p)
    assert [(t.task, t.lang, t.text) for t in ts] == [
        ("a", "en", "Describe {region}."),
        ("b", "zh", "描述{region}。"),
    ]


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "a: ['Q: {question.__class__}']",
            "t.yaml: task 'a' template 1: brace expression {question.__class__}",
        ),
        ("a: ['ok {q}', '{options[0]}']", "t.yaml: task 'a' template 2: brace expression {options[0]}"),
        ("a: ['keep [[A]]']", "[[A]] is reserved"),
        ("a: ['']", "task 'a' template 1: the template is empty"),
        ("a: 3", "task 'a': expected a list of templates"),
        ("a: {fr: ['x']}", "language 'fr' is not en or zh"),
        ("- a\n- b", "expected a mapping of task -> list of templates"),
        ("a: [b\n", "t.yaml: not valid YAML at line"),
    ],
)
def test_a_broken_yaml_template_file_names_the_file_task_and_problem(tmp_path, text, message):
    with pytest.raises(TemplateFileError) as e:
        load_file(write(tmp_path, "t.yaml", text))
    assert message in str(e.value) and "\n" not in str(e.value)


def test_tsv_with_header_escapes_and_languages(tmp_path):
    p = write(
        tmp_path,
        "t.tsv",
        "task\ttemplate\tlang\nvqa\t{question}\\nAnswer briefly.\t\nvqa\t看图回答：{question}\tzh\n\n",
    )
    ts = load_file(p)
    assert [(t.text, t.lang) for t in ts] == [
        ("{question}\nAnswer briefly.", "en"),
        ("看图回答：{question}", "zh"),
    ]


@pytest.mark.parametrize(
    "text, message",
    [
        ("name\ttext\nvqa\t{q}\n", "t.tsv: line 1: the header must name the columns task and template"),
        ("task\ttemplate\nvqa\t{q}\textra\n", "t.tsv: line 2: 3 columns, the header has 2"),
        (
            "task\ttemplate\nvqa\t{x:>10}\n",
            "t.tsv: task 'vqa' line 2: brace expression {x:>10} is not a plain {name} placeholder",
        ),
        ("", "t.tsv: the file is empty"),
    ],
)
def test_a_broken_tsv_names_the_line(tmp_path, text, message):
    with pytest.raises(TemplateFileError) as e:
        load_file(write(tmp_path, "t.tsv", text))
    assert str(e.value) == f"{tmp_path / 't.tsv'}: {message.removeprefix('t.tsv: ')}"


def test_multiinstruct_expressions_become_plain_placeholders_by_pattern():
    assert (
        multiinstruct_text("{question}{options_token} {split_token. join(options)}") == "{question} {options}"
    )
    assert (
        multiinstruct_text("What is the content of {region_split_token.join(region)}?")
        == "What is the content of {region}?"
    )
    assert (
        multiinstruct_text("Given the subject in {region[0]} and relationship \"{meta_data['relation']}\".")
        == 'Given the subject in {region_0} and relationship "{relation}".'
    )
    assert (
        multiinstruct_text("Given {region_token} {region_split_token.join(region)}")
        == "Given Regions: {region}"
    )


def test_a_multiinstruct_json_file_loads_and_rejects_what_it_cannot_convert(tmp_path):
    data = {
        "GC": ["Describe the content of {region_split_token.join(region)} in image."],
        "ITM": ['Does "{text}" describe image? {options_token} {split_token.join(options)}'],
    }
    ts = load_file(write(tmp_path, "mi.json", json.dumps(data)))
    assert [t.text for t in ts] == [
        "Describe the content of {region} in image.",
        'Does "{text}" describe image? {options}',
    ]
    bad = {"X": ["Pick {options.pop()} now"]}
    with pytest.raises(
        TemplateFileError, match=r"mi2.json: task 'X' template 1: brace expression \{options.pop\(\)\}"
    ):
        load_file(write(tmp_path, "mi2.json", json.dumps(bad)))
    with pytest.raises(TemplateFileError, match="not valid JSON at line 1"):
        load_file(write(tmp_path, "mi3.json", "{"))


def test_unknown_file_types_and_missing_files(tmp_path):
    with pytest.raises(TemplateFileError, match="unknown template file type '.txt'"):
        load_file(write(tmp_path, "t.txt", "x"))
    with pytest.raises(TemplateFileError, match="no such template file"):
        load_file(tmp_path / "missing.yaml")


def test_synthetic_phrasings_are_tasks_per_key_without_building_blocks():
    ts = load_synth("clocks")
    tasks = {t.task for t in ts}
    assert "clocks.read_time" in tasks and all(t.startswith("clocks.") for t in tasks)
    assert {t.lang for t in ts if t.task == "clocks.read_time"} == {"en", "zh"}
    charts = {t.task for t in load_synth("charts")}
    assert "charts.value_q" in charts and "charts.list_sep" not in charts, (
        "single wordings are building blocks"
    )
    only = load_synth("charts", ["value_q"])
    assert {t.task for t in only} == {"charts.value_q"}
    assert any("{label}" in t.placeholders() for t in only)
    with pytest.raises(TemplateFileError, match="no phrasing key 'nope'"):
        load_synth("charts", ["nope"])
    with pytest.raises(TemplateFileError, match="synth:nowhere: no such synthetic domain"):
        load_synth("nowhere")


def test_catalog_seed_questions_are_tasks_per_family_with_slots_as_markers():
    ts = load_seeds("ocr", ["judgement"])
    assert {t.task for t in ts} == {"ocr.judgement"} and {t.lang for t in ts} == {"en", "zh"}
    slotted = next(t for t in ts if "<text>" in t.text)
    assert slotted.placeholders() == ["<text>"]
    assert "<text>" in mask(slotted.text).spans.values()
    with pytest.raises(TemplateFileError, match="seeds:nowhere: no such catalog domain"):
        load_seeds("nowhere")


# -- meta-prompts ----------------------------------------------------------------------------
def test_builtin_directives_cover_the_usual_rewrites_in_both_languages():
    meta = builtin()
    for name in (
        "synonyms",
        "restructure",
        "formal",
        "casual",
        "brief",
        "elaborate",
        "to_question",
        "to_imperative",
    ):
        assert set(meta.directives[name].text) == {"en", "zh"}
    msgs = rewrite_messages(meta, meta.directives["synonyms"], mask("Describe {region} in <image>."), "en")
    user = msgs[1]["content"]
    assert "Instruction:\nDescribe [[A]] in [[B]]." in user and "[[A]], [[B]]" in user
    assert "{" not in user
    zh = rewrite_messages(meta, meta.directives["brief"], mask("描述{region}。"), "zh")
    assert "指令：\n描述[[A]]。" in zh[1]["content"] and "中文" in zh[0]["content"]
    bare = rewrite_messages(meta, meta.directives["brief"], mask("Describe the image."), "en")
    assert "markers" not in bare[1]["content"] and "\n\n\n" not in bare[1]["content"]


def test_a_users_directives_file_adds_and_overrides(tmp_path):
    p = write(
        tmp_path,
        "mine.yaml",
        "directives:\n  pirate: {en: Say it like a pirate would.}\n  brief: {en: Use at most eight words.}\n",
    )
    meta = load_directives(p)
    assert meta.directives["pirate"].for_lang("zh") == "Say it like a pirate would."
    assert meta.directives["brief"].text["en"] == "Use at most eight words."
    assert "synonyms" in meta.directives
    assert list(load_directives(p, ["pirate", "synonyms"]).directives) == ["pirate", "synonyms"]


@pytest.mark.parametrize(
    "text, message",
    [
        ("directives: [a, b]", "mine.yaml: directives: expected a mapping"),
        ("directives:\n  x: {de: Hallo}", "mine.yaml: directives.x.de: language must be en or zh"),
        ("directives:\n  x: {en: 'Use {x.y}'}", "mine.yaml: directives.x.en: brace expression {x.y}"),
        ("prompt:\n  footer: {en: x}\ndirectives: {}", "mine.yaml: prompt.footer: unknown part"),
        ("extra: 1\ndirectives: {}", "mine.yaml: extra: unknown field"),
        ("directives: [", "mine.yaml: not valid YAML"),
    ],
)
def test_a_broken_directives_file_is_one_line_naming_the_field(tmp_path, text, message):
    with pytest.raises(DirectivesError) as e:
        load_directives(write(tmp_path, "mine.yaml", text))
    assert message in str(e.value)


def test_an_unknown_directive_name_is_an_error():
    with pytest.raises(DirectivesError, match="directive 'nope' is not defined"):
        load_directives(None, ["nope"])


def test_proposed_directives_are_parsed_one_per_line_and_checked():
    meta = builtin()
    assert "Propose 3 new directives" in propose_messages(meta, 3, "en")[0]["content"]
    reply = (
        "1. Rewrite it as if speaking to a student.\n- Use {x.y} braces here please\n"
        "* Replace several words with synonyms while keeping the meaning.\nok\n"
        "2) Put the key word first in the sentence."
    )
    got = parse_proposals(reply, meta.directives, "en", 5)
    assert [d.text["en"] for d in got] == [
        "Rewrite it as if speaking to a student.",
        "Put the key word first in the sentence.",
    ]
    assert all(d.proposed and d.name.startswith("proposed_en_") for d in got)
    assert len(parse_proposals(reply, meta.directives, "en", 1)) == 1


# -- config ------------------------------------------------------------------------------------
BASE = {"templates": ["t.yaml"], "endpoints": {"llm": {"model": "m", "base_url": "http://127.0.0.1:1/v1"}}}


def test_config_defaults_and_short_forms():
    cfg = parse_config(BASE)
    assert cfg.templates[0].file == "t.yaml" and cfg.endpoint == "llm"
    assert cfg.generation.temperatures == [0.5, 0.6, 0.7, 0.8, 0.9, 1.0] and cfg.generation.target == 30
    assert cfg.endpoints["llm"].name == "llm"


@pytest.mark.parametrize(
    "change, message",
    [
        ({"templates": []}, "templates: List should have at least 1 item"),
        (
            {"templates": [{"file": "a", "synth": "charts"}]},
            "templates.0: give exactly one of file, synth, seeds",
        ),
        ({"endpoint": "vlm"}, "endpoint 'vlm' is not in endpoints (defined: llm)"),
        (
            {"generation": {"temperatures": [0.5, 3]}},
            "generation.temperatures: temperature 3.0 is outside 0..2",
        ),
        ({"generation": {"mode": "random"}}, "generation.mode: Input should be"),
        ({"generation": {"target": 1}}, "generation.target: Input should be greater than 1"),
        (
            {"filters": {"max_similarity": 2}},
            "filters.max_similarity: Input should be less than or equal to 1",
        ),
        ({"colour": "red"}, "colour: unknown field"),
        (
            {"endpoints": {"llm": {"model": "m", "api_key": "sk-secret"}}},
            "endpoints.llm.api_key: unknown field",
        ),
    ],
)
def test_a_wrong_config_names_the_field(change, message):
    with pytest.raises(ConfigError) as e:
        parse_config({**BASE, **change}, "a.yaml")
    assert str(e.value).startswith("a.yaml: ") and message in str(e.value)


def test_the_example_config_loads(tmp_path):
    cfg = load_config(EXAMPLE / "augment.yaml")
    assert cfg.generation.mode == "temperatures" and cfg.generation.target == 30
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(tmp_path / "none.yaml")
    with pytest.raises(ConfigError, match="not valid YAML at line"):
        load_config(write(tmp_path, "bad.yaml", "a: [\n"))
