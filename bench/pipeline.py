#!/usr/bin/env python3
"""Pipelining: a model-driven run against the loopback server, as a ratio of the ideal.

1,000 source images with no domain: a caption each, a domain each (from the caption), then
the four instruction types (from the caption and the domain): 6,000 requests through one
endpoint allowing 200 in flight, answered after 500 ms each. The ideal is
requests ÷ (in flight ÷ latency) = 15 s; the run is measured from start to the last commit
(images taken in, every reply parsed, checked and stored, no exports). The same 6,000
requests sent by the model client alone, all independent, give the client's own ratio.

    python bench/pipeline.py [--images 1000] [--latency-ms 500] [--in-flight 200]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loopback import Loopback, endpoint  # noqa: E402

from visinstruct.aio import run_async  # noqa: E402
from visinstruct.models.client import ChatRequest, ModelClient  # noqa: E402
from visinstruct.models.endpoints import Endpoint  # noqa: E402
from visinstruct.recipe import parse_recipe  # noqa: E402
from visinstruct.runner import run_recipe  # noqa: E402


def images(folder: Path, n: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        img = Image.new("RGB", (96, 72), (i * 37 % 256, i * 91 % 256, i * 53 % 256))
        ImageDraw.Draw(img).text((4, 30), f"#{i}", fill=(255, 255, 255))
        img.save(folder / f"img{i:05d}.jpg", quality=85)


def client_alone(server: Loopback, n: int, in_flight: int) -> float:
    async def go() -> float:
        ep = Endpoint(
            name="m",
            model="fake-model",
            base_url=server.base_url,
            provider="vllm",
            api_key_env="VISINSTRUCT_BENCH_KEY",
            max_in_flight=in_flight,
        )
        reqs = [ChatRequest([{"role": "user", "content": f"question {i}"}], endpoint="m") for i in range(n)]
        async with ModelClient([ep]) as client:
            t0 = time.perf_counter()
            async for _ in client.stream(reqs):
                pass
            return time.perf_counter() - t0

    return run_async(go())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=1000)
    ap.add_argument("--latency-ms", type=float, default=500)
    ap.add_argument("--in-flight", type=int, default=200)
    a = ap.parse_args()
    os.environ["VISINSTRUCT_BENCH_KEY"] = "sk-test"  # what the loopback server accepts
    requests = a.images * 6
    ideal = requests / (a.in_flight / (a.latency_ms / 1000))
    with tempfile.TemporaryDirectory() as tmp, Loopback(latency_ms=a.latency_ms) as server:
        folder = Path(tmp) / "images"
        images(folder, a.images)
        ep = endpoint(server, "fake-vlm", max_in_flight=a.in_flight, max_retries=0, timeout=60)
        recipe = parse_recipe(
            {
                "name": "pipeline",
                "seed": 0,
                "languages": ["en"],
                "sources": [{"folder": str(folder)}],
                "endpoints": {"m": ep},
                "caption": {"endpoint": "m", "languages": ["en"]},
                "instructions": {"endpoint": "m"},
                "checks": {"dedup": False, "image_dedup": False},
            }
        )
        t0 = time.perf_counter()
        summary = run_recipe(recipe, Path(tmp) / "run", exports=False)
        wall = time.perf_counter() - t0
        sent = server.stats()["requests"]
        server.reset()
        alone = client_alone(server, requests, a.in_flight)
    print(f"machine: {os.cpu_count()} cores; {a.images} images, {a.latency_ms:g} ms, {a.in_flight} in flight")
    print(
        f"run: {sent} requests ({', '.join(f'{k} {c.done}' for k, c in summary.stages.items() if c.done)}), "
        f"{summary.samples} samples in {wall:.1f} s; ideal {ideal:.1f} s"
    )
    print(f"pipeline ratio (run time / ideal): {wall / ideal:.2f}x   target <= 1.25x")
    print(f"the client alone, {requests} independent requests: {alone:.1f} s, ratio {alone / ideal:.2f}x")
    if not summary.complete or sent != requests:
        print(f"warning: not every unit was done ({summary.failed} failed) or {sent} != {requests} requests")


if __name__ == "__main__":
    main()
