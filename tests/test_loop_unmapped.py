"""A category nothing maps gets no data unless the loop file sends it somewhere: quota 0,
shown in the `weakness` and `loop` tables with the closest domain, and the total shared
among the mapped categories."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml

from visinstruct.cli import main
from visinstruct.errors import VisinstructError
from visinstruct.loop.mapping import MappingError, Target, load_mapping
from visinstruct.loop.plan import plan_round
from visinstruct.loop.runner import Loop, load_loop
from visinstruct.loop.suggest import suggest

TOY = str(Path(__file__).parent / "loop_toy_model.py")
# per category: (right, wrong); code_reasoning (an MME category) is the weakest and maps to nothing
ANSWERS = {"counting": (6, 14), "color": (16, 4), "code_reasoning": (1, 19)}


def write_results(path: Path) -> Path:
    with path.open("w", encoding="utf-8") as f:
        for cat, (right, wrong) in ANSWERS.items():
            for i in range(right + wrong):
                row = {
                    "id": f"{cat}-{i}",
                    "question": f"Question {i} about {cat}?",
                    "options": ["one", "two", "three", "four"],
                    "answer": "A",
                    "prediction": "A" if i < right else "C",
                    "category": cat,
                }
                f.write(json.dumps(row) + "\n")
    return path


def line_of(out: str, category: str) -> str:
    return next(x for x in out.splitlines() if x.split("│")[1:2] and x.split("│")[1].strip() == category)


def cells(out: str, category: str) -> list[str]:
    return [c.strip() for c in line_of(out, category).split("│")[1:-1]]


def column(out: str, category: str, name: str) -> str:
    """The cell of the weakness table's column `name` in the row of `category`."""
    header = next(x for x in out.splitlines() if "accuracy [95% CI]" in x)
    names = [c.strip() for c in header.split("┃")[1:-1]]
    return cells(out, category)[names.index(name)]


# --- suggestions ---


@pytest.mark.parametrize(
    ("category", "closest"),
    [
        ("code_reasoning", "complex_reasoning"),
        ("Celebrity", "celebrity_recognition"),
        ("Instances Counting", None),  # a synthetic counting category, whichever domain
        ("Spatial Relation", "scenes/spatial_relation"),
        ("landmark", "landmark"),
    ],
)
def test_the_closest_domain_is_found_by_name_and_description(category, closest):
    hint = suggest(category)
    assert hint is not None
    if closest is None:
        assert hint.category == "counting"
    else:
        assert hint.label == closest


def test_nothing_is_suggested_for_a_name_that_matches_nothing():
    assert suggest("uncategorized") is None
    assert suggest("zzqx") is None


# --- the weakness command ---


def test_weakness_gives_an_unmapped_category_quota_zero_and_a_suggestion(tmp_path, capsys):
    results = write_results(tmp_path / "mme.jsonl")
    main(["weakness", str(results), "--format", "generic", "--total", "1000"])
    out, err = capsys.readouterr()
    err = " ".join(err.split())  # the console wraps long lines
    assert column(out, "code_reasoning", "quota") == "0" and column(out, "code_reasoning", "weight") == "—"
    assert column(out, "code_reasoning", "note") == "unmapped; closest: complex_reasoning"
    # the whole total goes to the mapped categories, the weaker (counting) getting more
    counting, color = (int(column(out, c, "quota")) for c in ("counting", "color"))
    assert counting + color == 1000 and counting > color
    assert column(out, "total", "quota") == "1000"
    assert "code_reasoning: maps to nothing, quota 0 (closest: complex_reasoning)" in err
    # the targets table says it too
    assert any(
        "code_reasoning" in x and "unmapped (closest: complex_reasoning)" in x for x in out.splitlines()
    )


def test_weakness_unmapped_option_sends_it_to_a_domain(tmp_path, capsys):
    results = write_results(tmp_path / "mme.jsonl")
    main(["weakness", str(results), "--format", "generic", "--unmapped", "complex_reasoning"])
    out, err = capsys.readouterr()
    code, counting = (int(column(out, c, "quota")) for c in ("code_reasoning", "counting"))
    assert code > counting > 0  # the weakest gets the most
    assert "maps to nothing" not in err
    assert "unmapped: complex_reasoning" in out  # where its targets come from


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("scenes", "synthetic domain 'scenes' needs one of its categories, as scenes/<category>"),
        ("scenes/typing", "synthetic domain 'scenes' needs one of its categories"),
        ("nowhere", "'nowhere' is neither skip, report nor a domain"),
    ],
)
def test_a_bad_unmapped_value_is_one_line_naming_it(tmp_path, capsys, value, message):
    results = write_results(tmp_path / "mme.jsonl")
    with pytest.raises(SystemExit):
        main(["weakness", str(results), "--format", "generic", "--unmapped", value])
    assert message in capsys.readouterr().err


# --- mapping ---


def test_loop_file_categories_and_unmapped_domain_map_what_nothing_else_does():
    m = load_mapping(None, categories={"code_reasoning": [{"domain": "tables", "category": "arithmetic"}]})
    assert m.targets("Code Reasoning") == [Target("tables", "arithmetic")]
    assert m.source("code_reasoning") == "loop file (categories)"
    m = load_mapping(None, unmapped="complex_reasoning")
    assert m.targets("code_reasoning") == [Target("complex_reasoning", "code_reasoning")]
    assert m.targets("counting")[0].category == "counting"  # a mapped category keeps its own targets
    assert m.unmapped(["code_reasoning"]) == []
    m = load_mapping(None, unmapped="ocr/text_reading")
    assert m.targets("code_reasoning") == [Target("ocr", "text_reading")]
    # an explicit empty entry is a decision: the `unmapped:` domain does not override it
    m = load_mapping(None, categories={"code_reasoning": []}, unmapped="complex_reasoning")
    assert m.targets("code_reasoning") == []
    with pytest.raises(MappingError, match=r"loop file: categories.code_reasoning\[0\]: unknown domain"):
        load_mapping(None, categories={"code_reasoning": [{"domain": "nowhere"}]})


def test_an_unmapped_domain_from_the_catalog_makes_targeted_questions():
    m = load_mapping(None, unmapped="complex_reasoning")
    plan = plan_round(
        {"code_reasoning": 40},
        m.as_dict(["code_reasoning"]),
        types=["multiple_choice"],
        languages=["en"],
        llm=True,
    )
    assert plan.targeted == {
        "code_reasoning": {"count": 40, "category": "code_reasoning", "domain": "complex_reasoning"}
    }


# --- the loop ---


def write_loop(tmp_path: Path, **extra) -> Path:
    (tmp_path / "base.yaml").write_text(
        yaml.safe_dump(
            {"name": "base", "seed": 1, "languages": ["en"], "workers": 1, "synthetic": {"scenes": 1}}
        )
    )
    write_results(tmp_path / "round0.jsonl")
    spec = {
        "name": "mme",
        "recipe": "base.yaml",
        "rounds": 1,
        "samples_per_round": 100,
        "results": "round0.jsonl",
        "results_format": "generic",
        "hooks": {
            "eval": f"{sys.executable} {TOY} eval {{prev_model}} {{results}}",
            "train": f"{sys.executable} {TOY} train {{model}} {{all_data}}",
        },
        **extra,
    }
    (tmp_path / "loop.yaml").write_text(yaml.safe_dump(spec))
    return tmp_path / "loop.yaml"


def analysed(loop_dir: Path) -> tuple[dict, dict]:
    info = {(r, s): i for r, s, i in Loop.rows_of(loop_dir)}
    return info[(0, "analyse")], info[(0, "generate")]


def test_loop_gives_an_unmapped_category_no_data_and_says_so(tmp_path, capsys):
    main(["loop", str(write_loop(tmp_path)), "--loop-dir", str(tmp_path / "L")])
    out, err = capsys.readouterr()
    err = " ".join(err.split())  # the console wraps long lines
    a, made = analysed(tmp_path / "L")
    assert a["quotas"]["code_reasoning"] == 0
    assert a["quotas"]["counting"] + a["quotas"]["color"] == 100
    assert a["unmapped"] == {"code_reasoning": "complex_reasoning"}
    assert "code_reasoning" not in made["by_category"]
    assert column(out, "code_reasoning", "quota") == "0"
    assert column(out, "code_reasoning", "note") == "unmapped; closest: complex_reasoning"
    assert (
        "code_reasoning: no data made (unmapped (closest: complex_reasoning; map it under `categories:` "
        "or set `unmapped: <domain>` in the loop file))"
    ) in err
    page = (tmp_path / "L" / "report.html").read_text("utf-8")
    assert "Categories given no data" in page and "<td>code_reasoning</td><td>unmapped (closest" in page


def test_loop_skip_keeps_the_row_but_not_the_warning(tmp_path, capsys):
    main(["loop", str(write_loop(tmp_path, unmapped="skip")), "--loop-dir", str(tmp_path / "L")])
    out, err = capsys.readouterr()
    assert column(out, "code_reasoning", "quota") == "0"
    assert "no data made" not in " ".join(err.split())


def test_loop_file_maps_the_unmapped_category_and_it_gets_data(tmp_path):
    loop_file = write_loop(
        tmp_path, categories={"code_reasoning": [{"domain": "scenes", "category": "shape"}]}
    )
    main(["loop", str(loop_file), "--loop-dir", str(tmp_path / "L")])
    a, made = analysed(tmp_path / "L")
    assert a["unmapped"] == {}
    q = a["quotas"]
    assert sum(q.values()) == 100 and q["code_reasoning"] == max(q.values())  # the weakest: the most
    assert made["by_category"]["shape"] >= q["code_reasoning"]


def test_loop_unmapped_domain_sends_every_unmapped_category_there(tmp_path):
    loop_file = write_loop(tmp_path, unmapped="scenes/shape")
    main(["loop", str(loop_file), "--loop-dir", str(tmp_path / "L")])
    a, made = analysed(tmp_path / "L")
    assert a["unmapped"] == {} and a["quotas"]["code_reasoning"] == max(a["quotas"].values())
    assert made["by_category"]["shape"] >= a["quotas"]["code_reasoning"]


def test_a_bad_unmapped_value_in_the_loop_file_names_the_field(tmp_path):
    spec, base = load_loop(write_loop(tmp_path, unmapped="nowhere"))
    with pytest.raises(MappingError, match="loop file: unmapped: 'nowhere' is neither skip, report"):
        Loop(spec, base, tmp_path / "L")


def test_seedbench_action_recognition_gets_no_quota_with_the_builtin_mapping(tmp_path, capsys):
    path = tmp_path / "seed.jsonl"
    rows = [
        {"id": f"{cat}-{i}", "question": "Q?", "options": ["a", "b", "c", "d"], "answer": "A",
         "prediction": "A" if i % 3 == 0 else "B", "category": cat}
        for cat in ("Action Recognition", "Instances Counting") for i in range(12)
    ]  # fmt: skip
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    main(["weakness", str(path), "--format", "generic", "--benchmark", "seedbench", "--total", "50"])
    out, _ = capsys.readouterr()
    assert column(out, "Action Recognition", "quota") == "0"
    assert column(out, "Action Recognition", "note").startswith("unmapped; closest: ")
    assert column(out, "Instances Counting", "quota") == "50"


def test_a_loop_dir_from_before_categories_and_unmapped_existed_still_continues(tmp_path):
    from visinstruct.loop.runner import Ledger

    spec, _ = load_loop(write_loop(tmp_path))
    old = spec.model_dump(exclude={"rounds", "hooks", "categories", "unmapped"})
    ledger = Ledger(tmp_path / "L")
    try:
        ledger.db.execute("INSERT INTO meta VALUES ('spec', ?)", (json.dumps(old, sort_keys=True),))
        ledger.check_spec(spec)  # the defaults of the new fields change nothing
        changed = spec.model_copy(update={"unmapped": "skip"})
        with pytest.raises(VisinstructError, match="different loop file"):
            ledger.check_spec(changed)
    finally:
        ledger.close()
