"""`visinstruct augment` as a user runs it, against the loopback server: 10 tasks of 5
templates grow into a filtered pool of at least 10× per task, every kept template keeps
exactly its original placeholders, every rejection is recorded with its rule, a re-run
sends nothing, modes compare side by side, and the pool builds a dataset."""

from __future__ import annotations

import json
import shutil
from collections import Counter, defaultdict
from pathlib import Path

import pytest
import yaml
from augment_rephraser import respond
from click.testing import CliRunner
from fake_openai import FakeOpenAI

from visinstruct.augment.cli import augment, main
from visinstruct.augment.mask import protected_spans
from visinstruct.templates import render

ROOT = Path(__file__).resolve().parents[1]
TASKS = ROOT / "examples" / "augment" / "tasks.yaml"
KEY_ENV = "VISINSTRUCT_AUGMENT_TEST_KEY"


@pytest.fixture(scope="module")
def server():
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(KEY_ENV, "sk-test")
        srv = FakeOpenAI(responder=respond).start()
        try:
            yield srv
        finally:
            srv.stop()


def write_config(path: Path, server: FakeOpenAI, **extra) -> Path:
    cfg = {
        "name": "fixture",
        "templates": [str(TASKS)],
        "endpoints": {
            "llm": {
                "model": "fake-model",
                "base_url": server.base_url,
                "provider": "vllm",
                "api_key_env": KEY_ENV,
                "max_in_flight": 32,
            }
        },
        **extra,
    }
    path.write_text(yaml.safe_dump(cfg), "utf-8")
    return path


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


@pytest.fixture(scope="module")
def pool_run(server, tmp_path_factory):
    d = tmp_path_factory.mktemp("augment")
    cfg = write_config(d / "augment.yaml", server, generation={"target": 10})
    before = server.requests
    result = CliRunner().invoke(augment, ["run", str(cfg), "--out", str(d / "out")], catch_exceptions=False)
    return {"dir": d, "config": cfg, "out": d / "out", "result": result, "sent": server.requests - before}


def test_run_grows_each_of_ten_tasks_at_least_tenfold(pool_run):
    assert pool_run["result"].exit_code == 0, pool_run["result"].output
    pool = read_jsonl(pool_run["out"] / "pool.jsonl")
    by_task = Counter(t["task"] for t in pool)
    assert len(by_task) == 10
    assert all(n >= 50 for n in by_task.values()), by_task
    assert Counter(t["origin"] for t in pool)["original"] == 50
    summary = json.loads((pool_run["out"] / "summary.json").read_text())
    assert summary["complete"] and all(t["expansion"] >= 10 for t in summary["tasks"].values())
    vqa = summary["tasks"]["vqa"]
    assert vqa["originals"] == 5 and vqa["after"]["words"] > vqa["before"]["words"] > 0
    assert set(vqa["before"]) == {"words", "distinct_1", "distinct_2", "rouge_l"}
    assert pool_run["sent"] == summary["sent"] > 0


def test_every_kept_template_renders_with_exactly_the_original_placeholders(pool_run):
    pool = read_jsonl(pool_run["out"] / "pool.jsonl")
    by_id = {t["id"]: t for t in pool}
    for t in pool:
        original = by_id[t["root"]]
        assert original["origin"] == "original"
        assert protected_spans(t["text"]) == protected_spans(original["text"]), t
        names = [s[1:-1] for s in protected_spans(t["text"]) if s.startswith("{")]
        rendered = render(t["text"], {n: f"<<{n}>>" for n in names})
        assert "{" not in rendered and "}" not in rendered and "[[" not in rendered
        for n in names:
            assert rendered.count(f"<<{n}>>") == original["text"].count("{" + n + "}")
    rephrased = [t for t in pool if t["origin"] == "rephrased"]
    assert all(t["temperature"] in (0.5, 0.6, 0.7, 0.8, 0.9, 1.0) and t["round"] == 1 for t in rephrased)
    assert all(t["directive"] and t["parent"] in by_id for t in rephrased)


def test_every_rejection_is_recorded_with_its_rule_and_the_reply(pool_run):
    rejected = read_jsonl(pool_run["out"] / "rejected.jsonl")
    rules = Counter(r["rule"] for r in rejected)
    planted = {
        "unsafe_brace",
        "unknown_marker",
        "placeholders",
        "meta_text",
        "extra_lines",
        "length",
        "language",
    }
    assert planted | {"empty", "duplicate", "near_duplicate"} <= set(rules), rules
    for r in rejected:
        assert r["detail"] and r["task"] and r["parent"] and r["directive"] and "temperature" in r
    unsafe = [r for r in rejected if r["rule"] == "unsafe_brace"]
    assert {"{__import__('os').system('echo pwned > /tmp/visinstruct-pwned')}", "{options[0]}", "{x!r}"} <= {
        r["detail"].split("brace expression ")[1].split(" is not")[0] for r in unsafe
    }
    kept = (pool_run["out"] / "pool.jsonl").read_text()
    for bad in ("__import__", "__class__", "[0]}", "!r}", ":>10}", "Sure!", "以下是"):
        assert bad not in kept


def test_the_run_prints_expansion_and_diversity_before_and_after(pool_run):
    text = pool_run["result"].output
    for task in ("vqa", "multiple_choice", "zh_vqa", "counting"):
        assert task in text
    assert "distinct-1" in text and "distinct-2" in text and "ROUGE-L" in text and "→" in text
    assert text.count(" 10.0 ") >= 10
    assert "rejected:" in text and "unsafe_brace" in text


def test_running_again_sends_nothing_and_rebuilds_the_same_pool(pool_run, server):
    files = {n: (pool_run["out"] / n).read_bytes() for n in ("pool.jsonl", "rejected.jsonl", "pool.yaml")}
    before = server.requests
    again = CliRunner().invoke(augment, ["run", str(pool_run["config"]), "--out", str(pool_run["out"])])
    assert again.exit_code == 0, again.output
    assert server.requests == before, "every answer came from the cache"
    assert "(0 sent," in again.output
    for name, data in files.items():
        assert (pool_run["out"] / name).read_bytes() == data, name


def test_the_pool_yaml_is_in_the_phrasing_shape(pool_run):
    shaped = yaml.safe_load((pool_run["out"] / "pool.yaml").read_text("utf-8"))
    assert set(shaped["zh_vqa"]) == {"zh"} and len(shaped["zh_vqa"]["zh"]) >= 50
    assert shaped["vqa"]["en"][0] == "{question}"


def test_compare_runs_both_modes_on_the_same_input(server, tmp_path):
    cfg = write_config(tmp_path / "c.yaml", server, generation={"target": 10, "rounds": 3})
    res = CliRunner().invoke(
        augment, ["compare", str(cfg), "--out", str(tmp_path / "cmp"), "--modes", "temperatures,iterative"]
    )
    assert res.exit_code == 0, res.output
    assert "modes compared" in res.output
    rows = {line.split("│")[1].strip(): line for line in res.output.splitlines() if line.startswith("│")}
    assert {"originals", "temperatures", "iterative"} <= set(rows)
    temps = read_jsonl(tmp_path / "cmp" / "temperatures" / "pool.jsonl")
    iters = read_jsonl(tmp_path / "cmp" / "iterative" / "pool.jsonl")
    assert {t["round"] for t in temps if t["origin"] == "rephrased"} == {1}
    assert {t["temperature"] for t in iters if t["origin"] == "rephrased"} == {0.7}
    assert max(t["round"] for t in iters) >= 2, "iterative rounds rephrase what was kept"
    assert (tmp_path / "cmp" / "cache.db").exists()


def test_build_gives_each_row_a_template_from_the_pool(pool_run, tmp_path):
    data = tmp_path / "rows.jsonl"
    rows = [
        {"id": f"r{i}", "task": "multiple_choice", "question": f"Q{i}?", "options": ["x", "y"]}
        for i in range(40)
    ]
    rows.append({"id": "z", "task": "zh_vqa", "question": "图中有几只猫？", "language": "zh"})
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    out = tmp_path / "built.jsonl"
    res = CliRunner().invoke(
        augment, ["build", str(pool_run["out"]), str(data), "--out", str(out), "--seed", "3"]
    )
    assert res.exit_code == 0, res.output
    built = read_jsonl(out)
    assert len(built) == 41 and "41 rows" in res.output
    for row in built[:40]:
        assert row["instruction"].count(row["question"]) == 1 and "x\ny" in row["instruction"]
        assert row["template"]["task"] == "multiple_choice" and "{" not in row["instruction"]
    assert len({r["template"]["id"] for r in built[:40]}) > 20, "templates are drawn at random"
    assert "图中有几只猫？" in built[40]["instruction"]
    again = tmp_path / "again.jsonl"
    CliRunner().invoke(
        augment, ["build", str(pool_run["out"]), str(data), "--out", str(again), "--seed", "3"]
    )
    assert again.read_bytes() == out.read_bytes(), "same pool, data and seed: same dataset"


def test_templates_lists_tasks_without_sending(pool_run, server):
    before = server.requests
    res = CliRunner().invoke(augment, ["templates", str(pool_run["config"])])
    assert res.exit_code == 0 and server.requests == before
    assert "multiple_choice" in res.output and "{options} {question}" in res.output
    assert "<image> {object}" in res.output


def test_errors_are_one_line_naming_the_input(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("templates: [t.yaml]\nendpoints: {llm: {model: m}}\ngeneration: {target: 0.5}\n")
    with pytest.raises(SystemExit) as e:
        main(["run", str(bad), "--out", str(tmp_path / "o")])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: {bad}: generation.target: Input should be greater than 1"
    good = tmp_path / "good.yaml"
    good.write_text(f"templates: [{tmp_path / 'missing.yaml'}]\nendpoints: {{llm: {{model: m}}}}\n")
    with pytest.raises(SystemExit):
        main(["templates", str(good)])
    assert capsys.readouterr().err.strip() == f"error: {tmp_path / 'missing.yaml'}: no such template file"
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(SystemExit):
        main(["run", str(ROOT / "examples/augment/augment.yaml"), "--out", str(blocker / "out")])
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {blocker / 'out'}: cannot create the output folder") and "\n" not in err


def test_python_dash_m_runs_the_same_commands(tmp_path):
    import subprocess
    import sys

    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "visinstruct.augment",
            "templates",
            str(ROOT / "examples/augment/augment.yaml"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert res.returncode == 0, res.stderr
    assert "zh_vqa" in res.stdout


def test_an_interrupted_pool_folder_is_rewritten_whole(pool_run, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(pool_run["out"], copy)
    (copy / "pool.jsonl.tmp").write_text("half a line")
    res = CliRunner().invoke(augment, ["run", str(pool_run["config"]), "--out", str(copy)])
    assert res.exit_code == 0
    assert not (copy / "pool.jsonl.tmp").exists()
    assert (copy / "pool.jsonl").read_bytes() == (pool_run["out"] / "pool.jsonl").read_bytes()


def test_kept_templates_are_spread_over_directives_and_temperatures(pool_run):
    pool = read_jsonl(pool_run["out"] / "pool.jsonl")
    by = defaultdict(set)
    for t in pool:
        if t["origin"] == "rephrased":
            by["directive"].add(t["directive"])
            by["temperature"].add(t["temperature"])
    assert len(by["directive"]) >= 8 and len(by["temperature"]) == 6
