"""Stops a local Ray instance's agents when the run that started them is killed.

Ray's dashboard and runtime-env agents notice a dead raylet at once, but then report it to
the (dead) head with a one-minute timeout before they exit. A run started the instance, so
a SIGKILL of the run should leave nothing behind: this small process, started beside the
instance, waits for the run to end and then kills the agents it was given (each checked by
its start time, so a reused process id is never hit). Linux only (it reads /proc).

    python -m visinstruct.executors.ray_reaper RUN_PID PID:START [PID:START ...]
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

AGENTS = (b"ray::DashboardAgent", b"ray::RuntimeEnvAgent")


def _start_ticks(pid: int) -> int | None:
    try:
        return int(_stat_fields(str(pid))[19])
    except (OSError, ValueError, IndexError):
        return None


def _stat_fields(pid: str) -> list[bytes]:
    """The fields of /proc/PID/stat after the command name (which may hold spaces)."""
    return Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()


def agents_of(run_pid: int) -> list[tuple[int, int]]:
    """(pid, start ticks) of the Ray agents under `run_pid`'s process tree (one pass over /proc)."""
    children: dict[int, list[tuple[int, int]]] = {}
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                f = _stat_fields(p)
                children.setdefault(int(f[1]), []).append((int(p), int(f[19])))
            except (OSError, ValueError, IndexError):
                continue
    found, todo = [], [run_pid]
    while todo:
        for c, start in children.get(todo.pop(), []):
            todo.append(c)
            try:
                if Path(f"/proc/{c}/cmdline").read_bytes().startswith(AGENTS):
                    found.append((c, start))
            except OSError:
                continue
    return found


def start(run_pid: int) -> subprocess.Popen | None:
    """Start the reaper for the agents now under `run_pid` (None: not Linux, or no agents)."""
    if not sys.platform.startswith("linux"):
        return None
    agents = agents_of(run_pid)
    if not agents:
        return None
    args = [f"{p}:{s}" for p, s in agents]
    return subprocess.Popen(
        [sys.executable, "-m", "visinstruct.executors.ray_reaper", str(run_pid), *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # a Ctrl-C of the run's terminal is the run's to handle
    )


def main(argv: list[str]) -> None:
    run_pid = int(argv[0])
    agents = [tuple(int(x) for x in a.split(":")) for a in argv[1:]]
    while True:
        if os.getppid() != run_pid:  # the run is gone (this process was handed on)
            break
        time.sleep(0.2)
    for pid, start in agents:
        if _start_ticks(pid) == start:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


if __name__ == "__main__":
    main(sys.argv[1:])
