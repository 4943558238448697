"""The Ray executor on a local Ray cluster: the same recipe makes the same dataset as the
local executor, a killed Ray worker loses and duplicates nothing, and the docs' multi-node
commands run as written against a head node started here."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml
from test_mminstruct import recipe_for, sample_folder

from visinstruct.recipe import load_recipe, parse_recipe
from visinstruct.runner import run_recipe as run
from visinstruct.store import RunStore

ray = pytest.importorskip("ray", reason="the Ray executor's tests need Ray (pip install ray)")

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def cluster():
    """One local Ray instance of 2 CPUs for the module (each run connects to it)."""
    os.environ.setdefault("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")
    ray.init(
        address="local",  # its own, whatever else runs on the machine
        num_cpus=2,
        include_dashboard=False,
        object_store_memory=200 * 1024 * 1024,
        log_to_driver=False,
        logging_level="warning",
    )
    try:
        yield
    finally:
        ray.shutdown()


@pytest.fixture(autouse=True)
def key(monkeypatch):
    monkeypatch.setenv("VISINSTRUCT_TEST_KEY", "sk-test")


def rows(run_dir: Path, name: str) -> list[dict]:
    return [json.loads(x) for x in (run_dir / "exports" / name).read_text().splitlines()]


def sample_ids(run_dir: Path) -> list[str]:
    with RunStore(run_dir) as s:
        return [r[0] for r in s.db.execute("SELECT id FROM samples ORDER BY id")]


def test_quickstart_on_ray_is_byte_identical_to_local(cluster, tmp_path):
    recipe = load_recipe(ROOT / "recipes" / "quickstart.yaml")
    run(recipe, tmp_path / "local", workers=2, base=ROOT)
    summary = run(recipe, tmp_path / "ray", workers=2, base=ROOT, executor_kind="ray")
    assert summary.samples > 1000
    for f in ("quickstart.jsonl", "internvl/quickstart.jsonl"):
        ours, theirs = tmp_path / "ray" / "exports" / f, tmp_path / "local" / "exports" / f
        assert ours.read_bytes() == theirs.read_bytes()


def test_the_recipe_chooses_ray_and_the_run_dir_accepts_either_executor(cluster, tmp_path):
    data = yaml.safe_load((ROOT / "recipes" / "quickstart.yaml").read_text())
    data["synthetic"] = {"charts": 6, "clocks": 6}
    data["export"] = [{"format": "jsonl", "out": "small.jsonl"}]
    local = parse_recipe(data)
    on_ray = parse_recipe({**data, "executor": {"ray": {"max_retries": 1}}})
    assert on_ray.fingerprint() == local.fingerprint()  # where units run is not the dataset
    run(local, tmp_path / "a", workers=1)
    run(on_ray, tmp_path / "b")
    assert sample_ids(tmp_path / "a") == sample_ids(tmp_path / "b")
    again = run(on_ray, tmp_path / "a")  # a local run continued on Ray: nothing left to make
    assert again.stages["synthetic"].done == 0


class WorkerKiller(threading.Thread):
    """Kills the first Ray worker process seen running a unit task (its process title names
    the task), once."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.killed: list[int] = []
        self.stop = threading.Event()

    def run(self) -> None:
        me = os.getpid()
        while not self.stop.is_set() and not self.killed:
            for pid in os.listdir("/proc"):
                if not pid.isdigit() or int(pid) == me:
                    continue
                try:
                    cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
                except OSError:
                    continue
                if cmd.startswith(b"ray::_chunk_task"):
                    try:
                        os.kill(int(pid), signal.SIGKILL)
                    except ProcessLookupError:
                        continue
                    self.killed.append(int(pid))
                    break
            self.stop.wait(0.002)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds Ray workers through /proc")
def test_model_driven_run_on_ray_survives_a_killed_worker_identical_to_local(cluster, fake_openai, tmp_path):
    images = sample_folder(tmp_path / "images")
    for n in range(40):  # enough source images that units are still running when one is killed
        from test_mminstruct import photo

        photo(images / "misc" / f"p{n:02d}.png", n + 5, fmt="PNG")
    data = recipe_for(fake_openai, images, synthetic={"charts": 80, "tables": 80})
    data["export"] = [{"format": "jsonl", "out": "mm.jsonl"}]
    recipe = parse_recipe(data)
    run(recipe, tmp_path / "local", workers=2)
    killer = WorkerKiller()
    killer.start()
    try:
        summary = run(recipe, tmp_path / "ray", executor_kind="ray")
    finally:
        killer.stop.set()
        killer.join()
    assert killer.killed, "no Ray worker was running a unit to kill"
    assert not any(c.failed or c.gave_up for c in summary.stages.values())
    ids = sample_ids(tmp_path / "ray")
    assert len(ids) == len(set(ids))
    assert ids == sample_ids(tmp_path / "local")
    assert (tmp_path / "ray" / "exports" / "mm.jsonl").read_bytes() == (
        tmp_path / "local" / "exports" / "mm.jsonl"
    ).read_bytes()


def test_without_ray_the_run_says_what_to_install(tmp_path, monkeypatch):
    import builtins

    from visinstruct.executors.ray_tasks import RayUnavailable

    real = builtins.__import__

    def no_ray(name, *a, **kw):
        if name == "ray" or name.startswith("ray."):
            raise ImportError("No module named 'ray'")
        return real(name, *a, **kw)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    recipe = parse_recipe({"synthetic": {"charts": 2}, "executor": {"ray": {}}})
    with pytest.raises(RayUnavailable, match=r"pip install \"visinstruct\[ray\]\""):
        run(recipe, tmp_path / "r")
    assert not (tmp_path / "r" / "exports").exists()


def doc_commands(path: Path) -> list[str]:
    """The shell lines of the block after `<!-- test: single-node -->` in `path`, without
    comments and without the lines marked `# on each other node`."""
    text = path.read_text()
    block = re.search(r"<!-- test: single-node -->\s*```bash\n(.*?)```", text, re.S)
    assert block, f"{path}: no tested command block"
    out = []
    for line in block.group(1).splitlines():
        if "# on each other node" in line:
            continue
        line = line.split(" #", 1)[0].strip()
        if line:
            out.append(line)
    return out


def test_the_docs_multi_node_commands_run_on_a_single_node_cluster(tmp_path):
    if ray.is_initialized():
        ray.shutdown()
    commands = doc_commands(ROOT / "docs" / "ray.md")
    assert any(c.startswith("ray start --head") for c in commands)
    env = {**os.environ, "RAY_ADDRESS": ""}
    env.pop("RAY_ADDRESS")
    (tmp_path / "recipes").mkdir()
    (tmp_path / "recipes" / "ray.yaml").write_text((ROOT / "recipes" / "ray.yaml").read_text())
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    try:
        for cmd in commands:
            if cmd.startswith("ray start"):
                cmd += " --num-cpus 2 --include-dashboard false --object-store-memory 200000000"
            done = subprocess.run(
                shlex.split(cmd), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
            )
            assert done.returncode == 0, f"{cmd}\n{done.stdout}\n{done.stderr}"
    finally:
        subprocess.run(["ray", "stop", "--force"], env=env, capture_output=True, timeout=120)
    run_dir = next(tmp_path.glob("runs/*"))
    assert rows(run_dir, "ray-demo.jsonl")


def descendants(pid: int) -> set[int]:
    """Every process under `pid`, from /proc."""
    children: dict[int, list[int]] = {}
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                ppid = int(Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(p))
    out, todo = set(), [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            if c not in out:
                out.add(c)
                todo.append(c)
    return out


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="follows processes through /proc")
def test_a_killed_run_leaves_no_process_of_its_ray_instance(tmp_path):
    data = yaml.safe_load((ROOT / "recipes" / "quickstart.yaml").read_text())
    data["synthetic"] = {k: 400 for k in data["synthetic"]}
    data["export"] = [{"format": "jsonl", "out": "q.jsonl"}]
    (tmp_path / "big.yaml").write_text(yaml.safe_dump(data))
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    cmd = [sys.executable, "-m", "visinstruct.cli", "run", str(tmp_path / "big.yaml")]
    proc = subprocess.Popen(
        [*cmd, "--run-dir", str(tmp_path / "run"), "--executor", "ray"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    tree: set[int] = set()
    while proc.poll() is None:  # until a task runs: the instance is up and busy
        tree = descendants(proc.pid)
        if any(Path(f"/proc/{p}/cmdline").exists() and b"ray::_chunk_task" in _cmdline(p) for p in tree):
            break
        threading.Event().wait(0.05)
    assert proc.poll() is None, "the run ended before it could be killed"
    tree |= descendants(proc.pid)
    proc.kill()
    proc.wait()
    left = tree
    for _ in range(900):  # each process gives up on the dead head within seconds
        left = {p for p in left if Path(f"/proc/{p}").exists() and not _zombie(p)}
        if not left:
            break
        threading.Event().wait(0.05)
    assert not left, f"still running after the run was killed: {[_cmdline(p)[:80] for p in left]}"


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True
