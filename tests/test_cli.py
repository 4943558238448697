"""Bad input exits non-zero with one clear line and no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from visinstruct.augment.config import ConfigError, load_config
from visinstruct.errors import RecipeError
from visinstruct.loop.runner import load_loop
from visinstruct.models.endpoints import EndpointError
from visinstruct.recipe import MAX_COUNT, load_recipe, parse_recipe, read_yaml


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


# -- recipe and config files that are not what they seem ----------------------------------------

GOOD = "synthetic: {clocks: 2}\n"
SOURCES = "sources: [{folder: imgs}]\ncaption: {endpoint: llm}\n"


def endpoint_recipe(base_url: str) -> str:
    return f"{SOURCES}endpoints:\n  llm: {{model: m, provider: vllm, base_url: '{base_url}'}}\n"


def make_bad_recipe(tmp_path: Path, case: str) -> Path:
    """A recipe file that is wrong in the way `case` names."""
    f = tmp_path / "bad.yaml"
    if case == "binary":
        f.write_bytes(GOOD.encode() + b"\x00\x01\x02\x03")
    elif case == "latin-1":
        f.write_bytes(b"name: caf\xe9\n" + GOOD.encode())
    elif case == "utf-16":
        f.write_bytes(GOOD.encode("utf-16"))
    elif case == "dev-zero":
        f.symlink_to("/dev/zero")
    elif case == "fifo":
        os.mkfifo(f)
    elif case == "folder":
        f.mkdir()
    elif case == "too-large":
        f.write_text(GOOD + "#" * (4 * 1024 * 1024))
    elif case == "duplicate-top":
        f.write_text("name: a\nseed: 1\n" + GOOD + "\n\n\nseed: 2\n")
    elif case == "duplicate-deep":
        f.write_text("synthetic:\n  clocks:\n    count: 2\n    languages: [en]\n    count: 3\n")
    elif case == "count":
        f.write_text("synthetic: {charts: 1000000000000}\n")
    elif case == "url":
        f.write_text(endpoint_recipe("notaurl"))
    else:
        raise AssertionError(case)
    return f


BAD_FILES = {
    "binary": "bad.yaml: not a UTF-8 text file (NUL byte at offset 23)",
    "latin-1": "bad.yaml: not a UTF-8 text file (invalid byte 0xe9 at offset 9)",
    "utf-16": "bad.yaml: not a UTF-8 text file (it is UTF-16 or UTF-32: save it as UTF-8)",
    "dev-zero": "bad.yaml: cannot read recipe: not a regular file (character device)",
    "fifo": "bad.yaml: cannot read recipe: not a regular file (named pipe)",
    "folder": "bad.yaml: cannot read recipe: not a regular file (folder)",
    "too-large": "bad.yaml: recipe is too large (4,194,327 bytes; at most 4,194,304 bytes)",
    "duplicate-top": "bad.yaml: duplicate key 'seed' at line 7 (first at line 2)",
    "duplicate-deep": "bad.yaml: duplicate key 'count' at line 5 (first at line 3)",
    "count": "bad.yaml: synthetic.charts.count: 1,000,000,000,000 is more than the limit of 10,000,000",
    "url": "bad.yaml: endpoints.llm.base_url: 'notaurl' is not an http(s) URL",
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_a_bad_recipe_file_is_one_line_and_changes_nothing(tmp_path, case):
    """Run into an existing run directory: the error names the file and the problem, and the run's
    files are exactly as they were."""
    good = tmp_path / "good.yaml"
    good.write_text(GOOD)
    run_dir = tmp_path / "run"
    assert cli("run", str(good), "--run-dir", str(run_dir), "--no-export").returncode == 0
    before = {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}
    f = make_bad_recipe(tmp_path, case)
    line = one_line_error(cli("run", str(f), "--run-dir", str(run_dir)))
    assert line.startswith(f"error: {tmp_path}/"), line
    assert BAD_FILES[case] in line
    assert {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()} == before


def test_never_more_than_the_cap_is_read(tmp_path, monkeypatch):
    """A file that grows past the cap after `stat` (here: a stat that lies) is refused all the same."""
    import visinstruct.files as files

    f = tmp_path / "big.yaml"
    f.write_text("#" * (5 * 1024 * 1024))
    real_stat = os.stat

    def small_stat(path, *a, **kw):
        st = real_stat(path, *a, **kw)
        return os.stat_result((st.st_mode, *st[1:6], 10, *st[7:]))

    monkeypatch.setattr(files.os, "stat", small_stat)
    with pytest.raises(RecipeError, match="recipe is too large"):
        load_recipe(f)


def test_loop_files_and_augment_configs_share_the_checks(tmp_path):
    f = tmp_path / "loop.yaml"
    f.write_bytes(b"recipe: r.yaml\n\xff")
    with pytest.raises(
        RecipeError, match=r"loop.yaml: not a UTF-8 text file \(invalid byte 0xff at offset 15\)"
    ):
        load_loop(f)
    f.write_text("recipe: r.yaml\nsamples_per_round: 100000000\nresults: x.jsonl\nhooks: {train: t}\n")
    with pytest.raises(
        RecipeError, match=r"samples_per_round: 100,000,000 is more than the limit of 10,000,000"
    ):
        load_loop(f)
    f.write_text("recipe: r.yaml\nrecipe: s.yaml\n")
    with pytest.raises(RecipeError, match="duplicate key 'recipe' at line 2"):
        load_loop(f)
    cfg = tmp_path / "augment.yaml"
    os.mkfifo(cfg)
    with pytest.raises(
        ConfigError, match="augment.yaml: cannot read config: not a regular file \\(named pipe\\)"
    ):
        load_config(cfg)
    cfg.unlink()
    ep = "endpoints: {llm: {model: m, base_url: 'http://127.0.0.1:1/v1'}}\n"
    cfg.write_text("templates: [t.yaml]\n" + ep + "generation: {target: 1.0e+12}\n")
    with pytest.raises(
        ConfigError, match="generation.target: 1,000,000,000,000.0 is more than the limit of 10,000,000"
    ):
        load_config(cfg)
    cfg.write_text("templates: [t.yaml]\nendpoints: {llm: {model: m, base_url: 'ftp://x'}}\n")
    with pytest.raises(ConfigError, match="endpoints.llm.base_url: 'ftp://x' is not an http\\(s\\) URL"):
        load_config(cfg)


def test_the_augment_command_line_target_is_bounded(tmp_path):
    cfg = tmp_path / "augment.yaml"
    cfg.write_text("templates: [t.yaml]\nendpoints: {llm: {model: m, base_url: 'http://127.0.0.1:1/v1'}}\n")
    p = cli("augment", "run", str(cfg), "--out", str(tmp_path / "out"), "--target", "1e12")
    line = one_line_error(p)
    assert f"{cfg} with --target: target: 1,000,000,000,000.0 is more than the limit of 10,000,000" in line
    assert not (tmp_path / "out").exists()


def test_yaml_otherwise_reads_as_safe_load(tmp_path):
    f = tmp_path / "r.yaml"
    text = "base: &b {a: 1, b: 2}\nover: {<<: *b, a: 3}\nboth: {<<: [*b, {c: 1}], c: 2}\nday: 2024-01-02\n"
    f.write_text("\ufeff" + text, encoding="utf-8")  # a byte-order mark is allowed
    assert read_yaml(f, "recipe") == yaml.safe_load(text)
    assert read_yaml(f, "recipe")["over"] == {"a": 3, "b": 2}  # a merge may be overridden
    f.write_text("a: !!python/object/apply:os.system [echo]\n")
    with pytest.raises(RecipeError, match="not valid YAML"):
        read_yaml(f, "recipe")
    f.write_text("{1: a, 1.0: b}\n")
    with pytest.raises(RecipeError, match="duplicate key 1.0 at line 1"):
        read_yaml(f, "recipe")


@pytest.mark.parametrize(
    ("recipe", "where"),
    [
        ({"synthetic": {"clocks": 10**12}}, "synthetic.clocks.count"),
        (
            {"synthetic": {"scenes": {"count": 5, "quotas": {"counting": 10**8}}}},
            "synthetic.scenes.quotas.counting",
        ),
        ({"synthetic": {"clocks": 1}, "instructions": {"quotas": {"d": {"judgement": 10**8}}}}, "judgement"),
        ({"sources": [{"folder": "x", "limit": 10**8}]}, "sources.0.limit"),
        (
            {"sources": [{"folder": "x"}], "targeted": {"bad_cases": "b", "quotas": {"ocr": 10**8}}},
            "ocr.count",
        ),
        (
            {
                "sources": [{"folder": "x"}],
                "targeted": {"bad_cases": "b", "quotas": {"ocr": {"count": 10**8}}},
            },
            "ocr",
        ),
    ],
)
def test_counts_are_bounded(recipe, where):
    data = {"endpoints": {"llm": {"model": "m"}, "vlm": {"model": "m"}}, **recipe}
    with pytest.raises(RecipeError) as e:
        parse_recipe(data, "r.yaml")
    msg = str(e.value)
    assert msg.startswith("r.yaml: ") and where in msg, msg
    assert f"more than the limit of {MAX_COUNT:,}" in msg, msg
    ok = yaml.safe_load(
        yaml.safe_dump(data).replace(str(10**12), str(MAX_COUNT)).replace(str(10**8), str(MAX_COUNT))
    )
    parse_recipe(ok)  # the bound itself is allowed


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("notaurl", "'notaurl' is not an http(s) URL"),
        ("file:///etc/passwd", "'file:///etc/passwd' is not an http(s) URL"),
        ("http://", "'http://' is not an http(s) URL (no host)"),
        ("http://127.0.0.1:99999/v1", "Port out of range"),
        ("http://my host/v1", "contains spaces"),
        ("${VISINSTRUCT_TEST_UNSET:-localhost:8000}", "(= 'localhost:8000') is not an http(s) URL"),
    ],
)
def test_an_endpoint_url_is_checked_when_the_recipe_is_read(tmp_path, url, message):
    f = tmp_path / "r.yaml"
    f.write_text(endpoint_recipe(url))
    line = one_line_error(cli("run", str(f), "--run-dir", str(tmp_path / "run")))
    assert line.startswith(f"error: {f}: endpoints.llm.base_url: ") and message in line, line
    assert not (tmp_path / "run").exists()


def test_a_good_or_not_yet_known_endpoint_url_is_accepted(monkeypatch):
    monkeypatch.delenv("VISINSTRUCT_TEST_UNSET", raising=False)
    for url in ("https://api.example.com/v1", "HTTP://127.0.0.1:8000/v1", "${VISINSTRUCT_TEST_UNSET}"):
        rec = parse_recipe(yaml.safe_load(endpoint_recipe(url)))
        assert rec.endpoints["llm"].base_url == url
    monkeypatch.setenv("VISINSTRUCT_TEST_UNSET", "ftp://x")  # set later: refused when used
    with pytest.raises(EndpointError, match="endpoint 'llm': base_url 'ftp://x' is not an http"):
        rec.endpoints["llm"].resolved_base_url()
