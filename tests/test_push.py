"""`visinstruct push`: a run's card and the data files its configs name reach a Hub dataset
repository (a loopback fake of the Hub's HTTP API, tests/fake_hub.py) once each, even across an
interrupted push, and `datasets.load_dataset("OWNER/NAME")` reads the local rows back."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from fake_hub import FakeHub

from visinstruct.cli import main
from visinstruct.errors import EXIT_FAILED, EXIT_USAGE
from visinstruct.publish.hub import PushError, PushFailed, glob_regex, plan_upload, push
from visinstruct.recipe import parse_recipe
from visinstruct.runner import run_recipe

huggingface_hub = pytest.importorskip("huggingface_hub")
hub_constants = pytest.importorskip("huggingface_hub.constants")
TOKEN = "hf_fake_write_token"
REPO = "alice/small-vqa"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A small synthetic run: two Parquet exports (two configs), a JSON Lines one (no config)."""
    recipe = parse_recipe(
        {
            "name": "small-vqa",
            "seed": 1,
            "languages": ["en", "zh"],
            "types": ["judgement", "multiple_choice", "short_vqa", "long_vqa"],
            "synthetic": {"charts": 4, "tables": 4, "clocks": 4, "differences": 2},
            "export": [
                {"format": "parquet", "out": "data/train.parquet"},
                {
                    "format": "parquet",
                    "out": "data/all.parquet",
                    "include": ["accepted", "edited", "rejected"],
                },
                {"format": "jsonl", "out": "small.jsonl"},
            ],
        }
    )
    path = tmp_path_factory.mktemp("push") / "run"
    run_recipe(recipe, path, workers=1)
    return path


@pytest.fixture
def hub(monkeypatch):
    # huggingface_hub 2.x uploads through Xet whenever hf_xet is installed; the fake speaks LFS
    monkeypatch.setattr(hub_constants, "HF_HUB_DISABLE_XET", True)
    with FakeHub(token=TOKEN) as server:
        yield server


def fresh_run(run_dir: Path, tmp_path: Path) -> Path:
    """A copy of the run without push records, so each test starts from nothing."""
    dest = tmp_path / "run"
    shutil.copytree(run_dir, dest, ignore=shutil.ignore_patterns("push"))
    return dest


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def env_for(hub: FakeHub, tmp_path: Path, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING"))}
    return {
        **env,
        "HF_ENDPOINT": hub.url,
        "HF_HOME": str(tmp_path / "hf-home"),
        "HF_HUB_OFFLINE": "0",
        "HF_HUB_DISABLE_XET": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_TOKEN": TOKEN,
        "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src"),
        **extra,
    }


def cli(args: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "visinstruct.cli", *args], capture_output=True, text=True, env=env, timeout=120
    )


def error_line(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, stderr
    return lines[0]


def assert_repo_equals_local(hub: FakeHub, repo_dir: Path) -> None:
    expected = {u.path: u.local for u in plan_upload(repo_dir)}
    assert set(hub.files(REPO)) == set(expected)
    for path, local in expected.items():
        assert hashlib.sha256(hub.content(REPO, path)).hexdigest() == sha256(local), path


# -- what is uploaded -----------------------------------------------------------------------------
def test_plan_is_the_cards_config_files_and_the_card_last(run_dir):
    front = yaml.safe_load((run_dir / "exports" / "README.md").read_text("utf-8").split("\n---\n")[0][4:])
    named = {f["path"] for c in front["configs"] for f in c["data_files"]}
    assert named == {"data/train.parquet", "data/all.parquet"}
    plan = plan_upload(run_dir)
    assert [u.path for u in plan][-1] == "README.md"
    assert {u.path for u in plan} == named | {"README.md"}  # the JSON export has no config: not sent
    assert all(u.size == u.local.stat().st_size for u in plan)


def test_json_config_takes_its_images_and_paths_stay_inside(tmp_path):
    exports = tmp_path / "run" / "exports"
    (exports / "images").mkdir(parents=True)
    (exports / "rows.jsonl").write_text('{"image": "images/a.png"}\n', "utf-8")
    (exports / "images" / "a.png").write_bytes(b"png")
    (exports / "images" / ".a.png.123.tmp").write_bytes(b"half")  # a temporary file: never sent
    card = exports / "README.md"
    card.write_text("---\nconfigs:\n- config_name: jsonl\n  data_files: rows.jsonl\n---\n# x\n", "utf-8")
    assert [u.path for u in plan_upload(tmp_path / "run")] == ["rows.jsonl", "images/a.png", "README.md"]

    for bad in ("../run.db", "/etc/passwd", "missing/*.parquet"):
        card.write_text(
            f"---\nconfigs:\n- config_name: c\n  data_files: [{{split: train, path: '{bad}'}}]\n---\n"
        )
        with pytest.raises(PushError, match="data file"):
            plan_upload(tmp_path / "run")
    (exports / "out").symlink_to(tmp_path)
    card.write_text("---\nconfigs:\n- config_name: c\n  data_files: out/run/exports/rows.jsonl\n---\n")
    assert [u.path for u in plan_upload(tmp_path / "run")][0] == "out/run/exports/rows.jsonl"
    (tmp_path / "secret.jsonl").write_text("{}\n")
    card.write_text("---\nconfigs:\n- config_name: c\n  data_files: out/secret.jsonl\n---\n")
    with pytest.raises(PushError, match="leads outside"):
        plan_upload(tmp_path / "run")


def test_glob_semantics():
    g = glob_regex("data/*.parquet")
    assert g.fullmatch("data/a.parquet") and not g.fullmatch("data/x/a.parquet")
    g = glob_regex("shards/**/*.tar")
    assert g.fullmatch("shards/a.tar") and g.fullmatch("shards/x/y/a.tar") and not g.fullmatch("a.tar")


# -- pushing --------------------------------------------------------------------------------------
def test_push_then_push_again_sends_nothing_twice(run_dir, tmp_path, hub):
    run = fresh_run(run_dir, tmp_path)
    summary = push(run, REPO, endpoint=hub.url, token=TOKEN, files_per_commit=1)
    assert len(summary.commits) == 3 and not summary.skipped  # two data files, then the card
    assert_repo_equals_local(hub, run)
    assert not hub.repos["dataset", REPO].private
    parquet = [u for u in plan_upload(run) if u.path.endswith(".parquet")]
    assert all(hub.files(REPO)[u.path].lfs for u in parquet) and not hub.files(REPO)["README.md"].lfs
    state = json.loads((run / "push" / "alice--small-vqa.json").read_text("utf-8"))
    assert set(state["files"]) == {u.path for u in plan_upload(run)}
    assert all(f["commit"] in summary.commits and f["sha256"] for f in state["files"].values())

    before = len(hub.requests)
    again = push(run, REPO, endpoint=hub.url, token=TOKEN)
    assert not again.uploaded and not again.commits and len(again.skipped) == 3
    sent = [(m, p) for m, p, _ in hub.requests[before:]]
    assert not [p for m, p in sent if "commit" in p or "lfs" in p or "preupload" in p], sent
    assert set(hub.committed.values()) == {1} and set(hub.uploads.values()) == {1}


@pytest.mark.parametrize("failure", ["error", "drop"])
def test_interrupted_push_resumes_and_every_file_arrives_once(run_dir, tmp_path, hub, failure):
    """The second commit fails (a 500 before it is applied; or applied, and the connection cut
    before the answer): the rerun sends only what no commit carried, and no LFS object twice."""
    run = fresh_run(run_dir, tmp_path)
    hub.fail_commits[2] = failure
    with pytest.raises(PushFailed, match="run the same command again to resume") as e:
        push(run, REPO, endpoint=hub.url, token=TOKEN, files_per_commit=1)
    assert "\n" not in str(e.value) and "commit 2 of 3" in str(e.value)
    assert "README.md" not in hub.files(REPO)  # the card comes last: no card naming missing files
    assert len(hub.files(REPO)) == (1 if failure == "error" else 2)

    summary = push(run, REPO, endpoint=hub.url, token=TOKEN, files_per_commit=1)
    assert len(summary.skipped) == (1 if failure == "error" else 2)
    assert_repo_equals_local(hub, run)
    assert dict(hub.committed) == {(REPO, u.path): 1 for u in plan_upload(run)}
    lfs = {e.sha256 for e in hub.files(REPO).values() if e.lfs}
    assert dict(hub.uploads) == dict.fromkeys(lfs, 1)


def test_private_flag_and_a_public_repo_is_not_taken_for_private(run_dir, tmp_path, hub):
    run = fresh_run(run_dir, tmp_path)
    push(run, "alice/hidden", endpoint=hub.url, token=TOKEN, private=True)
    assert hub.repos["dataset", "alice/hidden"].private
    with pytest.raises(huggingface_hub.errors.RepositoryNotFoundError):  # not readable without a token
        huggingface_hub.HfApi(endpoint=hub.url, token=False).dataset_info("alice/hidden")

    push(run, REPO, endpoint=hub.url, token=TOKEN)
    commits = len(hub.repos["dataset", REPO].commits)
    with pytest.raises(PushError, match="exists and is public"):
        push(run, REPO, endpoint=hub.url, token=TOKEN, private=True)
    assert len(hub.repos["dataset", REPO].commits) == commits


def test_a_refused_token_is_one_line(run_dir, tmp_path, hub):
    with pytest.raises(PushFailed) as e:
        push(fresh_run(run_dir, tmp_path), REPO, endpoint=hub.url, token="hf_wrong")
    message = str(e.value)
    assert "create the repository" in message and "401" in message and "HF_TOKEN" in message
    assert "\n" not in message
    assert not hub.repos


def test_sharded_card_globs_and_stale_shards_are_removed(tmp_path, hub):
    """A card whose config names shards by a glob: every shard goes up, and shards of an earlier,
    larger push that match the glob are deleted, or `load_dataset` would read them too."""
    exports = tmp_path / "run" / "exports"
    (exports / "shards" / "part").mkdir(parents=True)
    for i in range(3):
        table = pa.table({"id": [f"{i}-{j}" for j in range(5)], "n": list(range(5))})
        pq.write_table(table, exports / "shards" / "part" / f"train-{i:05d}.parquet")
    (exports / "README.md").write_text(
        "---\nconfigs:\n- config_name: default\n  data_files:\n  - split: train\n"
        "    path: shards/**/*.parquet\n---\n# shards\n",
        "utf-8",
    )
    push(tmp_path / "run", REPO, endpoint=hub.url, token=TOKEN)
    assert len(hub.files(REPO)) == 4
    (exports / "shards" / "part" / "train-00002.parquet").unlink()
    summary = push(tmp_path / "run", REPO, endpoint=hub.url, token=TOKEN)
    assert summary.deleted == ["shards/part/train-00002.parquet"] and not summary.uploaded
    assert_repo_equals_local(hub, tmp_path / "run")


# -- the command ----------------------------------------------------------------------------------
def run_main(args: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as e:
        main(args)
        raise SystemExit(0)
    captured = capsys.readouterr()
    return int(e.value.code or 0), captured.out, captured.err


def test_dry_run_lists_paths_and_sizes_and_sends_nothing(run_dir, tmp_path, hub, capsys, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    run = fresh_run(run_dir, tmp_path)
    code, out, err = run_main(["push", str(run), "--repo", REPO, "--dry-run"], capsys)
    assert code == 0, err
    assert hub.requests == []
    for u in plan_upload(run):
        line = next(line for line in out.splitlines() if u.path in line)
        assert f"{u.size:,}" in line
    assert f"{len(plan_upload(run))} files" in out
    assert not (run / "push").exists()


@pytest.mark.parametrize(
    ("repo", "what"),
    [("alice", "--repo 'alice'"), ("a/b/c", "OWNER/NAME"), ("../etc", "OWNER/NAME"), ("al--ice/x", "'--'")],
)
def test_bad_repo_is_one_line(run_dir, hub, capsys, monkeypatch, repo, what):
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    code, _, err = run_main(["push", str(run_dir), "--repo", repo, "--endpoint", hub.url], capsys)
    assert code == EXIT_USAGE and what in error_line(err)
    assert hub.requests == []


def test_no_card_and_bad_endpoint_are_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    (tmp_path / "run").mkdir()
    code, _, err = run_main(["push", str(tmp_path / "run"), "--repo", REPO, "--dry-run"], capsys)
    assert code == EXIT_USAGE and "visinstruct card" in error_line(err)
    code, _, err = run_main(["push", str(tmp_path / "run"), "--repo", REPO, "--endpoint", "ftp://x"], capsys)
    assert code == EXIT_USAGE and "--endpoint" in error_line(err)


def test_command_no_token_then_interrupted_then_resumed_then_load_dataset(run_dir, tmp_path, hub):
    """In subprocesses, as a user runs it: no token → one line and nothing sent; a push cut off at
    its second commit → exit 3 and one line; again → done; then `datasets.load_dataset` on the
    repository reads the same rows as the local Parquet file."""
    run = fresh_run(run_dir, tmp_path)
    env = env_for(hub, tmp_path)
    args = ["push", str(run), "--repo", REPO, "--files-per-commit", "1"]

    no_token = cli(args, {k: v for k, v in env.items() if k != "HF_TOKEN"})
    assert no_token.returncode == EXIT_USAGE and "HF_TOKEN" in error_line(no_token.stderr)
    assert hub.requests == []

    hub.fail_commits[2] = "drop"
    cut = cli(args, env)
    assert cut.returncode == EXIT_FAILED and "resume" in error_line(cut.stderr)
    done = cli(args, env)
    assert done.returncode == 0, done.stderr
    assert "3 files: 1 uploaded" in done.stderr and "2 already there" in done.stderr
    assert dict(hub.committed) == {(REPO, u.path): 1 for u in plan_upload(run)}
    assert_repo_equals_local(hub, run)

    got = tmp_path / "from-hub.parquet"
    script = (
        "import sys, datasets, pyarrow.parquet as pq\n"
        f"ds = datasets.load_dataset({REPO!r}, split='train')\n"
        "pq.write_table(ds.with_format('arrow')[:], sys.argv[1])\n"
        "print(ds.config_name if hasattr(ds, 'config_name') else '', len(ds))\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", script, str(got)], capture_output=True, text=True, env=env, timeout=120
    )
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    front = yaml.safe_load((run / "exports" / "README.md").read_text("utf-8").split("\n---\n")[0][4:])
    default = next(c for c in front["configs"] if c.get("default"))
    local = pq.read_table(run / "exports" / default["data_files"][0]["path"])
    assert pq.read_table(got).to_pylist() == local.to_pylist()
    resolved = [p for m, p, _ in hub.requests if m == "GET" and "/resolve/" in p]
    assert any(p.endswith(default["data_files"][0]["path"]) for p in resolved)
