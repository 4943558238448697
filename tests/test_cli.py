"""Bad input exits non-zero with one clear line and no traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from visinstruct.errors import RecipeError
from visinstruct.recipe import parse_recipe


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "visinstruct.cli", *args], capture_output=True, text=True, timeout=120
    )


def one_line_error(p: subprocess.CompletedProcess) -> str:
    assert p.returncode != 0
    assert "Traceback" not in p.stderr and "Traceback" not in p.stdout
    lines = [x for x in p.stderr.splitlines() if x.strip()]
    assert len(lines) == 1, p.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("recipe", "expected"),
    [
        ({"synthetic": {"unicorns": 5}}, ["synthetic", "unknown domain 'unicorns'", "charts"]),
        ({"synthetic": {"clocks": 5}, "colour": "red"}, ["colour", "unknown field"]),
        ({"synthetic": {"clocks": -3}}, ["synthetic.clocks.count", "greater than or equal to 0"]),
        (
            {"synthetic": {"clocks": {"count": 2, "langs": ["en"]}}},
            ["synthetic.clocks.langs", "unknown field"],
        ),
        ({"synthetic": {"clocks": 2}, "languages": ["fr"]}, ["languages.0", "'en' or 'zh'"]),
        ({"synthetic": {"clocks": 2}, "types": ["essay"]}, ["types.0", "judgement"]),
        (
            {"synthetic": {"clocks": 2}, "export": [{"format": "jsonl", "out": "../../x.jsonl"}]},
            ["export.0.out", "inside the run"],
        ),
        ({"synthetic": {}}, ["makes nothing"]),
        ([1, 2], ["must be a mapping"]),
    ],
)
def test_wrong_recipe_names_the_field(tmp_path, recipe, expected):
    f = tmp_path / "bad.yaml"
    f.write_text(yaml.safe_dump(recipe))
    line = one_line_error(cli("run", str(f), "--run-dir", str(tmp_path / "run")))
    assert line.startswith("error: ") and str(f) in line
    for word in expected:
        assert word in line, line
    assert not (tmp_path / "run").exists(), "a wrong recipe must not create a run"


def test_invalid_yaml_and_missing_recipe(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text("synthetic: {clocks: 3\nname: [")
    assert "not valid YAML" in one_line_error(cli("run", str(f), "--run-dir", str(tmp_path / "r")))
    assert "cannot read recipe" in one_line_error(cli("run", str(tmp_path / "nope.yaml"), "--run-dir", "x"))


def test_unwritable_run_directory(tmp_path):
    f = tmp_path / "ok.yaml"
    f.write_text(yaml.safe_dump({"synthetic": {"clocks": 2}}))
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    line = one_line_error(cli("run", str(f), "--run-dir", str(blocker / "run")))
    assert "run directory" in line and "cannot write" in line
    line = one_line_error(cli("run", str(f), "--run-dir", "/proc/visinstruct-run"))
    assert "cannot write" in line


def test_status_and_export_of_a_missing_run(tmp_path):
    assert "not a run directory" in one_line_error(cli("status", str(tmp_path / "nothing")))
    line = one_line_error(cli("export", str(tmp_path / "nothing"), "--format", "jsonl", "--out", "x.jsonl"))
    assert "not a run directory" in line


def test_parse_recipe_accepts_short_and_long_forms():
    r = parse_recipe({"synthetic": {"clocks": 3, "charts": {"count": 2, "languages": ["zh"]}}})
    assert r.synthetic["clocks"].count == 3 and r.synthetic["charts"].languages == ["zh"]
    with pytest.raises(RecipeError):
        parse_recipe({"synthetic": {"clocks": True}})


def test_domains_lists_every_synthetic_domain():
    p = cli("domains")
    assert p.returncode == 0, p.stderr
    for name in ("charts", "tables", "geometry", "scenes", "ocr", "clocks", "differences"):
        assert name in p.stdout
