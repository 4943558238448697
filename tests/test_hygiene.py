"""The run's hygiene: exit codes, no worker outliving its run, no temporary file left behind,
a run directory that belongs to its recipe, a damaged database or a full disk in one line."""

from __future__ import annotations

import errno
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from test_mminstruct import recipe_for, sample_folder

from visinstruct.errors import EXIT_FAILED, EXIT_USAGE, DiskFull
from visinstruct.recipe import parse_recipe
from visinstruct.runner import run_recipe
from visinstruct.store import RunStore


def cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "visinstruct.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "VISINSTRUCT_TEST_KEY": "sk-test", **(env or {})},
    )


def write(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data))
    return path


def one_line(p: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in p.stderr + p.stdout, p.stderr
    lines = [x for x in p.stderr.splitlines() if x.strip()]
    assert len(lines) == 1, p.stderr
    return lines[0]


# -- exit codes ------------------------------------------------------------------------------------


def test_exit_code_when_some_units_fail(fake_openai, tmp_path):
    data = recipe_for(fake_openai, sample_folder(tmp_path / "images"), languages=["en"], max_attempts=5)
    for ep in data["endpoints"].values():
        ep["max_retries"] = 0
    fake_openai.fail_rate = 0.5
    p = cli("run", str(write(tmp_path / "r.yaml", data)), "--run-dir", str(tmp_path / "run"))
    assert p.returncode == EXIT_FAILED, p.stderr
    last = p.stderr.strip().splitlines()[-1]
    assert "will be retried by the next run" in last and f"visinstruct status {tmp_path / 'run'}" in last
    fake_openai.fail_rate = 0.0
    p = cli("run", str(tmp_path / "r.yaml"), "--run-dir", str(tmp_path / "run"))
    assert p.returncode == 0, p.stderr  # the rerun completes: everything done


def test_exit_code_when_every_unit_fails(tmp_path):
    data = recipe_for(
        type("S", (), {"base_url": "http://127.0.0.1:9/v1"}), sample_folder(tmp_path / "images")
    )
    for ep in data["endpoints"].values():
        ep["max_retries"] = 0  # nothing listens on port 9: every call fails at once
    p = cli("run", str(write(tmp_path / "r.yaml", data)), "--run-dir", str(tmp_path / "run"))
    assert p.returncode == EXIT_FAILED, p.stderr
    assert "captions: 0 done, 4 failed" in p.stderr
    status = cli("status", str(tmp_path / "run"))
    assert status.returncode == 0 and "will be retried" in status.stdout


# -- processes and temporary files -----------------------------------------------------------------


def children(pid: int) -> set[int]:
    out = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.add(int(entry.name))
    return out


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to find the worker processes")
def test_no_worker_outlives_a_killed_run_and_no_temporary_file_stays(tmp_path):
    recipe = write(tmp_path / "r.yaml", {"name": "k", "seed": 9, "synthetic": {"charts": 3000}})
    run_dir = tmp_path / "run"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "visinstruct.cli",
            "run",
            str(recipe),
            "--workers",
            "2",
            "--run-dir",
            str(run_dir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    workers: set[int] = set()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (len(workers) < 2 or not (run_dir / "images").is_dir()):
        workers = {c for c in children(proc.pid) if alive(c)}
        time.sleep(0.05)
    assert len(workers) >= 2, "the run's worker processes"
    stale = run_dir / "images" / "ab" / ".left-by-a-dead-writer.png.999999999-0.tmp"
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_bytes(b"partial")
    proc.send_signal(signal.SIGKILL)  # the main process only: its workers must follow by themselves
    proc.wait()
    deadline = time.monotonic() + 30
    while any(alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [w for w in workers if alive(w)], "a worker outlived the killed run"
    assert not (run_dir / "exports").exists(), "the run was killed part way"
    p = cli("run", str(recipe), "--workers", "2", "--run-dir", str(run_dir))
    assert p.returncode == 0, p.stderr
    assert not list(run_dir.rglob("*.tmp")), "temporary files of interrupted writes are removed"


def test_a_temporary_file_whose_writer_id_was_reused_is_removed(tmp_path):
    """Process ids are reused: a live process that started after a temporary file was last
    written is not its writer, so the file is an interrupted write's and goes."""
    from visinstruct.store import clean_temp_files

    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        folder = tmp_path / "images" / "ab"
        folder.mkdir(parents=True)
        reused = folder / f".x.png.{other.pid}-0a0b.tmp"  # written an hour before `other` started
        reused.write_bytes(b"partial")
        hour_ago = time.time() - 3600
        os.utime(reused, (hour_ago, hour_ago))
        writing = folder / f".y.png.{other.pid}-0c0d.tmp"  # being written by `other` now
        writing.write_bytes(b"partial")
        mine = folder / f".z.png.{os.getpid()}-0e0f.tmp"  # this process's own
        mine.write_bytes(b"partial")
        os.utime(mine, (hour_ago, hour_ago))
        assert clean_temp_files(tmp_path / "images") == 1
        assert not reused.exists() and writing.exists() and mine.exists()
    finally:
        other.kill()
        other.wait()


# -- a run directory belongs to its recipe ---------------------------------------------------------


def test_another_recipe_is_refused_and_changes_nothing(tmp_path):
    a = write(tmp_path / "a.yaml", {"name": "a", "seed": 1, "synthetic": {"clocks": 4}})
    b = write(tmp_path / "b.yaml", {"name": "b", "seed": 2, "synthetic": {"clocks": 4}})
    assert cli("run", str(a), "--run-dir", str(tmp_path / "run")).returncode == 0
    before = (tmp_path / "run" / "run.db").read_bytes()
    p = cli("run", str(b), "--run-dir", str(tmp_path / "run"))
    assert p.returncode == EXIT_USAGE
    line = one_line(p)
    assert "another recipe" in line and "--force" in line
    assert (tmp_path / "run" / "run.db").read_bytes() == before, "nothing stored changed"
    # a recipe that fails validation never touches the run either
    bad = write(tmp_path / "bad.yaml", {"name": "a", "seed": 1, "synthetic": {"clocks": -1}})
    assert cli("run", str(bad), "--run-dir", str(tmp_path / "run")).returncode == EXIT_USAGE
    assert (tmp_path / "run" / "run.db").read_bytes() == before
    # more workers or other exports do not make another recipe; --force continues anyway
    a2 = write(tmp_path / "a2.yaml", {"name": "a", "seed": 1, "workers": 1, "synthetic": {"clocks": 4}})
    assert cli("run", str(a2), "--run-dir", str(tmp_path / "run")).returncode == 0
    assert cli("run", str(b), "--run-dir", str(tmp_path / "run"), "--force").returncode == 0
    with RunStore(tmp_path / "run", create=False) as store:
        assert store.get_meta("recipe")["name"] == "b"


# -- a damaged database, a full disk ---------------------------------------------------------------


def test_a_damaged_run_database_is_one_line_naming_it(tmp_path):
    a = write(tmp_path / "a.yaml", {"name": "a", "seed": 1, "synthetic": {"clocks": 40}})
    assert cli("run", str(a), "--run-dir", str(tmp_path / "run"), "--no-export").returncode == 0
    db = tmp_path / "run" / "run.db"
    page = 4096
    data = bytearray(db.read_bytes())
    assert len(data) > 8 * page
    for n in (len(data) // page // 2, len(data) // page // 2 + 1):  # two pages in the middle
        data[n * page : (n + 1) * page] = os.urandom(page)
    db.write_bytes(bytes(data))
    for args in (("status", str(tmp_path / "run")), ("run", str(a), "--run-dir", str(tmp_path / "run"))):
        p = cli(*args)
        assert p.returncode == EXIT_USAGE, p.stderr
        line = one_line(p)
        assert str(db) in line and "damaged" in line and ".recover" in line


def test_a_full_disk_stops_the_run_in_one_line_and_it_resumes(tmp_path, monkeypatch):
    import visinstruct.stages.synthetic as synthetic

    real = synthetic.write_image_file
    calls = {"n": 0}

    def fills_up(run_dir, data, fmt):
        calls["n"] += 1
        if calls["n"] > 10:
            raise OSError(errno.ENOSPC, "No space left on device", str(run_dir))
        return real(run_dir, data, fmt)

    monkeypatch.setattr(synthetic, "write_image_file", fills_up)
    rec = parse_recipe({"seed": 2, "synthetic": {"clocks": 40}})
    with pytest.raises(DiskFull, match="disk is full"):
        run_recipe(rec, tmp_path / "run", workers=1)
    with RunStore(tmp_path / "run", create=False) as store:
        assert store.failed_units() == [], "a full disk is not the units' fault: nothing counts as an attempt"
    monkeypatch.setattr(synthetic, "write_image_file", real)  # space is freed
    done = run_recipe(rec, tmp_path / "run", workers=1)
    assert done.complete and done.stages["synthetic"].skipped + done.stages["synthetic"].done == 40
    clean = run_recipe(rec, tmp_path / "clean", workers=1)
    with RunStore(tmp_path / "run") as a, RunStore(tmp_path / "clean") as b:
        assert [s.id for s in a.iter_samples()] == [s.id for s in b.iter_samples()]
    assert clean.complete
    with sqlite3.connect(tmp_path / "run" / "run.db") as db:
        assert db.execute("SELECT COUNT(*) FROM units WHERE state != 'done'").fetchone()[0] == 0
