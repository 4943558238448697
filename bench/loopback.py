"""The loopback OpenAI-compatible server of the test-suite, as a process of its own, for benchmarks.

with Loopback(latency_ms=500) as server:
    server.base_url, server.stats(), server.configure(fail_rate=0.5)
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


class Loopback:
    script = "fake_openai.py"  # the server module in tests/ (a subclass may run another)

    def __init__(
        self,
        latency_ms: float = 0.0,
        fail_rate: float = 0.0,
        bad_content_rate: float = 0.0,
        rpm: float | None = None,
    ) -> None:
        self.args = [
            "--latency-ms",
            str(latency_ms),
            "--fail-rate",
            str(fail_rate),
            "--bad-content-rate",
            str(bad_content_rate),
            *(["--rpm", str(rpm)] if rpm else []),
        ]
        self.proc: subprocess.Popen | None = None
        self.port = 0

    def __enter__(self) -> Loopback:
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "tests" / self.script), "--port", "0", *self.args],
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self.proc.stdout.readline()  # type: ignore[union-attr]
        if not line.startswith("LISTENING"):
            raise RuntimeError(f"the loopback server did not start: {line!r}")
        self.port = int(line.split()[1])
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def _call(self, path: str, body: dict | None = None) -> dict:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", data=data, method="POST" if data else "GET"
        )
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())

    def stats(self) -> dict:
        return self._call("/stats")

    def reset(self) -> None:
        self._call("/stats/reset", {})

    def configure(self, **rates: float) -> dict:
        return self._call("/config", rates)


def endpoint(server: Loopback, model: str, **extra: object) -> dict:
    """A recipe endpoint on the loopback server (key from VISINSTRUCT_BENCH_KEY, set by the caller)."""
    return {
        "model": model,
        "base_url": server.base_url,
        "provider": "vllm",
        "api_key_env": "VISINSTRUCT_BENCH_KEY",
        **extra,
    }
