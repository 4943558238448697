#!/usr/bin/env python3
"""The embedding index at a million vectors, and the image embedding pipeline's throughput.

Part 1, the index (visinstruct.embed.index, exactly what `visinstruct index build` writes): N
unit vectors of D dimensions, an IVF index trained and its nprobe tuned as the build does
(recall@50 >= 0.95 on 256 of its own vectors), then Q fresh queries one at a time: p95 latency
at k=50 and recall@50 against exact search (a blocked matrix product over all N). Two sets:

* `uniform`: uniform on the sphere, the target's case and the worst one for any approximate
  index: a query's 50th neighbour is barely closer than a random vector (cosine about 0.20
  against a spread of 0.044), so no partition of the space holds it in a few cells;
* `clustered`: N/100 centres (10,000 at a million), each vector at cosine about 0.8 from its
  centre, closer to the structure of image embeddings (near-copies and images of one kind are
  close, the rest far).

For each: build time, the tuned nprobe, p95 and recall at it, and a sweep of nprobe, printed
as ratios against the targets (p95 <= 5 ms on 2 cores, recall@50 >= 0.95).

Part 2, the image pipeline: M JPEG photos (640x480, scenes of the engine's `scenes` domain)
through `Embedder.embed_images` with a tiny CLIP whose preprocessing is the real 224 px CLIP
one (read, hash, decode, resize, crop, normalise on the thread pool, then the model): images/s,
and the CPU time per second of wall time (2.0 = both cores busy). Also the preparation alone on
one thread and on two.

    python bench/index.py [--n 1000000] [--dim 512] [--queries 200] [--data uniform,clustered]
                          [--images 512]
"""

from __future__ import annotations

import argparse
import io
import os
import random
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # tiny_clip: a tiny CLIP written like a checkpoint

TARGET_P95_MS, TARGET_RECALL, K = 5.0, 0.95, 50


def unit(x: np.ndarray) -> np.ndarray:
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def vectors(
    kind: str, n: int, dim: int, path: Path, centres: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """N vectors written to `path` (memory-mapped), and the centres (clustered) or None."""
    rng = np.random.default_rng(seed)
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, dim))
    centres = unit(rng.standard_normal((centres, dim), dtype=np.float32)) if kind == "clustered" else None
    for start in range(0, n, 100_000):
        m = min(100_000, n - start)
        g = rng.standard_normal((m, dim), dtype=np.float32)
        if centres is not None:
            g = centres[rng.integers(0, len(centres), m)] + 0.75 * unit(g)
        out[start : start + m] = unit(g)
    out.flush()
    return out, centres


def queries(kind: str, q: int, dim: int, centres, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    g = rng.standard_normal((q, dim), dtype=np.float32)
    if centres is not None:
        g = centres[rng.integers(0, len(centres), q)] + 0.75 * unit(g)
    return unit(g)


def p95(xs: list[float]) -> float:
    return float(np.percentile(xs, 95))


def bench_index(kind: str, n: int, dim: int, nq: int, work: Path) -> None:
    import faiss

    from visinstruct.embed.index import exact_search, recall_at, train_ivf, tune_nprobe

    t = time.perf_counter()
    x, centres = vectors(kind, n, dim, work / f"{kind}.npy", centres=max(1, n // 100))
    made = time.perf_counter() - t
    t = time.perf_counter()
    ivf = train_ivf(x)
    trained = time.perf_counter() - t
    t = time.perf_counter()
    nprobe, tuned = tune_nprobe(ivf, x)
    tuning = time.perf_counter() - t
    qs = queries(kind, nq, dim, centres)
    t = time.perf_counter()
    _, truth = exact_search(x, qs, K)
    exact_batch = (time.perf_counter() - t) / nq * 1000
    single = []
    for q in qs[:20]:
        t = time.perf_counter()
        exact_search(x, q[None], K)
        single.append((time.perf_counter() - t) * 1000)

    def at(probe: int) -> tuple[float, float]:
        ivf.nprobe = probe
        lat, found = [], []
        for q in qs:
            t = time.perf_counter()
            _, rows = ivf.search(q[None], K)
            lat.append((time.perf_counter() - t) * 1000)
            found.append(rows[0])
        return p95(lat), recall_at(np.array(found), truth)

    print(
        f"\n{kind}: {n:,} x {dim} float32 unit vectors (made in {made:.1f} s), {nq} queries, k={K}, "
        f"faiss {faiss.__version__}, {faiss.omp_get_max_threads()} threads"
    )
    print(
        f"  build: IVF-Flat {ivf.nlist} lists trained and filled in {trained:.1f} s; nprobe tuned in "
        f"{tuning:.1f} s to {nprobe} (recall@50 {tuned:.3f} on 256 indexed vectors)"
    )
    print(
        f"  exact search: {p95(single):.1f} ms p95 one query at a time, {exact_batch:.2f} ms a query in "
        f"batches of 256 (the ground truth)"
    )
    lat, rec = at(nprobe)
    print(
        f"  at the tuned nprobe {nprobe}: p95 {lat:.2f} ms ({lat / TARGET_P95_MS:.2f}x the "
        f"{TARGET_P95_MS:g} ms limit), recall@50 {rec:.3f} "
        f"({rec / TARGET_RECALL:.2f}x the {TARGET_RECALL} target)"
    )
    print("  nprobe sweep:   nprobe   p95 ms   x limit   recall@50   x target")
    probe = 1
    while probe <= ivf.nlist:
        lat, rec = at(probe)
        print(
            f"{'':17}{probe:6d} {lat:8.2f} {lat / TARGET_P95_MS:9.2f} {rec:11.3f} {rec / TARGET_RECALL:10.2f}"
        )
        if rec >= 0.999:
            break
        probe *= 2


def photos(m: int, folder: Path) -> list[Path]:
    from PIL import ImageFilter

    from visinstruct.synth.scenes.draw import Look
    from visinstruct.synth.scenes.layout import pick_sizes, random_scene

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for s in range(m):
        rng = random.Random(s)
        look = Look(rng, 640, 480)
        n = rng.randint(3, 10)
        img = look.render(random_scene(rng, look, n, pick_sizes(rng, 640, 480, n)))
        img = img.filter(ImageFilter.GaussianBlur(0.6))  # photo-like, so JPEG decoding costs what photos do
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=90)
        p = folder / f"{s:05d}.jpg"
        p.write_bytes(buf.getvalue())
        paths.append(p)
    return paths


def bench_pipeline(m: int, work: Path) -> None:
    import torch
    from tiny_clip import make_tiny_clip

    from visinstruct.embed import load_embedder
    from visinstruct.embed.prepare import identify, prepare

    paths = photos(m, work / "photos")
    model = make_tiny_clip(work / "tiny-clip-224", image_size=224, patch=32)  # 49 patches: the model is cheap
    e = load_embedder(model, batch_size=32)
    e.embed_images(paths[:32])  # warm up
    t, cpu = time.perf_counter(), time.process_time()
    e.embed_images(paths)
    wall, used = time.perf_counter() - t, time.process_time() - cpu
    print(
        f"\nimage pipeline: {m} JPEG photos 640x480 -> CLIP preprocessing at {e.side} px -> a tiny CLIP "
        f"(torch {torch.__version__}, {torch.get_num_threads()} threads), batches of 32, "
        f"{e.workers} preparation threads"
    )
    print(
        f"  {m / wall:.0f} images/s (read, hash, decode, preprocess and embed); "
        f"CPU {used / wall:.2f} cores busy of {os.cpu_count()}"
    )
    for threads in (1, 2):
        with ThreadPoolExecutor(threads) as pool:
            t, cpu = time.perf_counter(), time.process_time()
            list(pool.map(lambda p: prepare(e.image_processor, identify(p), e.side), paths))
            wall, used = time.perf_counter() - t, time.process_time() - cpu
        print(
            f"  preparation alone on {threads} thread{'s' if threads > 1 else ''}: {m / wall:.0f} images/s, "
            f"CPU {used / wall:.2f} cores"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--data", default="uniform,clustered")
    ap.add_argument("--images", type=int, default=512)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-index-") as tmp:
        work = Path(tmp)
        for kind in [d for d in args.data.split(",") if d]:
            bench_index(kind, args.n, args.dim, args.queries, work)
            (work / f"{kind}.npy").unlink()
        if args.images:
            bench_pipeline(args.images, work)


if __name__ == "__main__":
    main()
