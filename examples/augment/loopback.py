"""Run `visinstruct augment` against the loopback test server, with no key and no network.

The server (tests/fake_openai.py) answers with a deterministic rephraser
(tests/augment_rephraser.py) that edits the masked template it is sent and plants
bad replies among good ones. It shows the engine, the filters, the cache and the figures;
it is not a language model, so its diversity figures say nothing about a real model's.

    python examples/augment/loopback.py compare examples/augment/augment.yaml --out runs/augment-demo

Arguments are those of `visinstruct augment`. Run from the repository root.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "tests")]

from augment_rephraser import respond  # noqa: E402
from fake_openai import FakeOpenAI  # noqa: E402

from visinstruct.augment.cli import main  # noqa: E402

if __name__ == "__main__":
    with FakeOpenAI(responder=respond) as server:
        os.environ.update(
            OPENAI_BASE_URL=server.base_url, OPENAI_API_KEY=server.api_key, LLM_MODEL="fake-model"
        )
        try:
            main(sys.argv[1:])
        except SystemExit as e:
            if e.code:
                raise
        print(f"loopback server: {server.requests} chat requests received", file=sys.stderr)
