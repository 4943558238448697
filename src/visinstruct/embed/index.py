"""An on-disk index of unit vectors: exact search below a size, faiss IVF above it.

Layout of an index folder:
    index.json       model (name, fingerprint, dim), metric, count, kind, the IVF settings and
                     the recall they were tuned to, the folders item paths are relative to
    vectors.f32      float32 [count, dim], row r is item r (read memory-mapped)
    items.jsonl      one line per row: content hash, root number, path inside that root, ref,
                     provenance
    ivf.faiss        the IVF index (only when count > exact_below)
    embeddings.db    the embedding cache (see cache.py)
    images/          images that came as bytes (a dataset's rows), stored by content hash

Vectors are unit length, so inner product is cosine similarity; every score returned is the
exact cosine, whichever search found the row. Below `exact_below` rows (50,000 by default) the
search is exact (a blocked matrix product). Above it, an inverted file (`faiss.IndexIVFFlat`,
4·sqrt(n) lists trained by k-means on a sample) scans only the `nprobe` lists nearest the
query; `nprobe` is tuned when the index is built: the smallest power of two whose recall@50
against exact search, on 256 of the index's own vectors as queries (each query's own row left
out), reaches `target_recall` (0.95). The reached recall is recorded beside it.

Why faiss and IVF: measured on 100,000 random unit 512-d vectors on two cores, faiss's HNSW built
in 59 s against usearch's 117 s (M=16) and answered 2.6x faster at equal recall (5.1 ms against
13.3 ms p95 at ef=512, recall 0.33); an IVF index of the same vectors built in 3.6 s. Random
vectors are the worst case for every approximate method (each is almost equally far from every
other); on data with structure, such as image embeddings, a few lists hold a query's
neighbours. bench/index.py measures both at 1,000,000 vectors.

An item's path is kept relative to a root folder recorded in index.json, and is resolved
inside that root only: an index file edited by hand cannot point a retrieval at /etc.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from visinstruct.embed.errors import EmbedError, need

FORMAT = 1
EXACT_BELOW = 50_000
TARGET_RECALL = 0.95
TUNE_QUERIES = 256
TUNE_K = 50
_BLOCK = 65_536  # rows per block of the exact search
_QUERY_BLOCK = 256


@dataclass
class Neighbour:
    """One search hit: the row, its exact cosine to the query, and what the row is."""

    row: int
    score: float
    id: str
    path: Path | None  # the image file, inside its root; None when it cannot be resolved
    ref: str
    provenance: dict[str, Any]


def exact_search(vectors: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(scores, rows) of the `k` best rows for each query, best first: a blocked matrix
    product, so memory stays at one block however many rows there are."""
    n = len(vectors)
    k = min(k, n)
    m = len(queries)
    best_s = np.full((m, k), -np.inf, dtype=np.float32)
    best_r = np.full((m, k), -1, dtype=np.int64)
    for q0 in range(0, m, _QUERY_BLOCK):
        q = queries[q0 : q0 + _QUERY_BLOCK]
        bs, br = best_s[q0 : q0 + len(q)], best_r[q0 : q0 + len(q)]
        for start in range(0, n, _BLOCK):
            block = np.asarray(vectors[start : start + _BLOCK], dtype=np.float32)
            s = q @ block.T
            allk = np.concatenate([bs, s], axis=1)
            rows = np.concatenate(
                [br, np.arange(start, start + len(block))[None, :].repeat(len(q), 0)], axis=1
            )
            top = (
                np.argpartition(-allk, k - 1, axis=1)[:, :k]
                if allk.shape[1] > k
                else np.argsort(-allk, axis=1)
            )
            bs[:] = np.take_along_axis(allk, top, axis=1)
            br[:] = np.take_along_axis(rows, top, axis=1)
    order = np.argsort(-best_s, axis=1, kind="stable")
    return np.take_along_axis(best_s, order, axis=1), np.take_along_axis(best_r, order, axis=1)


def recall_at(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean share of each query's true top rows among the rows found."""
    k = truth.shape[1]
    return float(
        np.mean([len(set(f.tolist()) & set(t.tolist())) / k for f, t in zip(found, truth, strict=True)])
    )


def train_ivf(vectors: np.ndarray, seed: int = 0, nlist: int | None = None) -> Any:
    """An IVF-Flat index of `vectors` (inner product): 4·sqrt(n) lists (faiss's guideline is 4 to
    16·sqrt(n)), k-means of 10 rounds on 20 vectors a list."""
    faiss = need("faiss", "an approximate index (more rows than the exact search takes)")
    n, dim = vectors.shape
    nlist = nlist or max(1, min(int(round(4 * math.sqrt(n))), n // 20))
    quantizer = faiss.IndexFlatIP(dim)
    ivf = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(n, size=min(n, 20 * nlist), replace=False))
    ivf.cp.seed, ivf.cp.niter, ivf.cp.min_points_per_centroid = seed, 10, 8
    ivf.train(np.ascontiguousarray(vectors[sample], dtype=np.float32))
    for start in range(0, n, _BLOCK * 4):
        ivf.add(np.ascontiguousarray(vectors[start : start + _BLOCK * 4], dtype=np.float32))
    return ivf


def tune_nprobe(
    ivf: Any, vectors: np.ndarray, target: float = TARGET_RECALL, seed: int = 0
) -> tuple[int, float]:
    """The smallest power-of-two `nprobe` whose recall@50 reaches `target` (see the module
    docstring), and that recall. Each query is an indexed vector; its own row, which every
    search finds first, is left out of both the truth and the result."""
    n = len(vectors)
    rng = np.random.default_rng(seed + 1)
    rows = np.sort(rng.choice(n, size=min(n, TUNE_QUERIES), replace=False))
    queries = np.ascontiguousarray(vectors[rows], dtype=np.float32)
    k = min(TUNE_K, n - 1)
    if k < 1:
        return 1, 1.0
    _, truth = exact_search(vectors, queries, k + 1)
    truth = _without(truth, rows, k)
    nprobe, reached = 1, 0.0
    while True:
        ivf.nprobe = nprobe
        _, found = ivf.search(queries, k + 1)
        reached = recall_at(_without(found, rows, k), truth)
        if reached >= target or nprobe >= ivf.nlist:
            return nprobe, reached
        nprobe = min(ivf.nlist, nprobe * 2)


def _without(found: np.ndarray, rows: np.ndarray, k: int) -> np.ndarray:
    """Each result row without the query's own row, cut to `k`."""
    return np.array(
        [[r for r in f.tolist() if r != own][:k] for f, own in zip(found, rows.tolist(), strict=True)]
    )


class VectorIndex:
    """An index folder opened for search (see the module docstring)."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)
        meta_path = self.folder / "index.json"
        try:
            self.meta = json.loads(meta_path.read_text("utf-8"))
        except FileNotFoundError:
            raise EmbedError(
                f"{self.folder}: not an index (no index.json; build one with visinstruct index build)"
            ) from None
        except (OSError, ValueError) as e:
            raise EmbedError(f"{meta_path}: cannot read the index description ({e})") from None
        if not isinstance(self.meta, dict) or self.meta.get("format") != FORMAT:
            raise EmbedError(f"{meta_path}: not an index of format {FORMAT}")
        self.dim, self.count = int(self.meta["dim"]), int(self.meta["count"])
        self.roots = [self.folder if r == "." else Path(r) for r in self.meta.get("roots", [])]
        vec_path = self.folder / "vectors.f32"
        expected = self.count * self.dim * 4
        size = vec_path.stat().st_size if vec_path.exists() else -1
        if size != expected:
            raise EmbedError(
                f"{vec_path}: {size} bytes, the index says {self.count} x {self.dim} float32 ({expected})"
            )
        self.vectors = (
            np.memmap(vec_path, dtype=np.float32, mode="r", shape=(self.count, self.dim))
            if self.count
            else np.zeros((0, self.dim), dtype=np.float32)
        )
        self._items: list[dict[str, Any]] | None = None
        self._ivf: Any = None

    @property
    def model(self) -> dict[str, Any]:
        return dict(self.meta.get("model") or {})

    @property
    def kind(self) -> str:
        return str(self.meta.get("kind", "exact"))

    def items(self) -> list[dict[str, Any]]:
        if self._items is None:
            with open(self.folder / "items.jsonl", encoding="utf-8") as f:
                self._items = [json.loads(line) for line in f if line.strip()]
            if len(self._items) != self.count:
                raise EmbedError(
                    f"{self.folder}: items.jsonl has {len(self._items)} rows, the index {self.count}"
                )
        return self._items

    def path_of(self, item: dict[str, Any]) -> Path | None:
        """The item's file, resolved inside its root folder; None if it would leave it."""
        try:
            root = self.roots[int(item["root"])].resolve()
        except (KeyError, IndexError, ValueError, TypeError):
            return None
        full = (root / str(item.get("path", ""))).resolve()
        return full if full.is_relative_to(root) and full != root else None

    def _ivf_index(self) -> Any:
        if self._ivf is None:
            faiss = need("faiss", "searching an approximate index")
            self._ivf = faiss.read_index(str(self.folder / "ivf.faiss"))
        return self._ivf

    def _ivf_search(self, queries: np.ndarray, k: int, nprobe: int) -> tuple[np.ndarray, np.ndarray]:
        """IVF search; a query whose probed lists hold fewer than `k` rows probes twice as many
        lists, until it has `k` or every list was probed."""
        ivf = self._ivf_index()
        ivf.nprobe = nprobe
        scores, rows = ivf.search(queries, k)
        short = np.flatnonzero((rows < 0).any(axis=1))
        while len(short) and nprobe < ivf.nlist:
            nprobe = min(ivf.nlist, nprobe * 2)
            ivf.nprobe = nprobe
            s, r = ivf.search(queries[short], k)
            scores[short], rows[short] = s, r
            short = short[(r < 0).any(axis=1)]
        return scores, rows

    def search(
        self,
        queries: np.ndarray,
        k: int,
        min_similarity: float | None = None,
        nprobe: int | None = None,
        exact: bool = False,
    ) -> list[list[Neighbour]]:
        """The `k` nearest rows of each query (unit vectors [m, dim]), best first, with their
        exact cosine; those below `min_similarity` are left out."""
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        if queries.shape[1] != self.dim:
            raise EmbedError(f"queries have {queries.shape[1]} dimensions, the index {self.dim}")
        if k < 1:
            raise EmbedError(f"k must be 1 or more, not {k}")
        if not self.count or not len(queries):
            return [[] for _ in queries]
        if exact or self.kind == "exact":
            scores, rows = exact_search(self.vectors, queries, k)
        else:
            scores, rows = self._ivf_search(
                queries, min(k, self.count), int(nprobe or self.meta.get("nprobe") or 1)
            )
        items = self.items()
        out: list[list[Neighbour]] = []
        for srow, rrow in zip(scores, rows, strict=True):
            hits = []
            for s, r in zip(srow.tolist(), rrow.tolist(), strict=True):
                if r < 0 or (min_similarity is not None and s < min_similarity):
                    continue
                item = items[r]
                hits.append(
                    Neighbour(
                        r,
                        float(s),
                        item["id"],
                        self.path_of(item),
                        item.get("ref", ""),
                        item.get("provenance") or {},
                    )
                )
            out.append(hits)
        return out


def write_index(
    folder: Path,
    model: dict[str, Any],
    vectors: np.ndarray,
    roots: Sequence[str],
    sources: Sequence[str],
    exact_below: int = EXACT_BELOW,
    keep_ann: bool = False,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write index.json (and the IVF file) for the rows already in vectors.f32 and items.jsonl,
    `vectors` being their memory map; returns the description written to index.json. With `keep_ann`, an
    existing IVF file of the same rows is kept instead of trained again."""
    n, dim = vectors.shape
    meta: dict[str, Any] = {
        "format": FORMAT,
        "model": model,
        "dim": dim,
        "metric": "cosine",
        "count": n,
        "kind": "exact",
        "exact_below": exact_below,
        "roots": list(roots),
        "sources": list(sources),
        **(extra or {}),
    }
    old = _read_meta(folder)
    ann = folder / "ivf.faiss"
    if n > exact_below:
        if keep_ann and old and old.get("kind") == "ivf" and ann.exists():
            meta.update({k: old[k] for k in ("kind", "nlist", "nprobe", "tuned_recall") if k in old})
        else:
            faiss = need("faiss", "an approximate index (more rows than the exact search takes)")
            ivf = train_ivf(vectors)
            nprobe, reached = tune_nprobe(ivf, vectors)
            tmp = ann.with_name(ann.name + ".tmp")
            faiss.write_index(ivf, str(tmp))
            os.replace(tmp, ann)
            meta.update(kind="ivf", nlist=int(ivf.nlist), nprobe=nprobe, tuned_recall=round(reached, 4))
    elif ann.exists():
        ann.unlink()
    tmp = folder / "index.json.tmp"
    tmp.write_text(json.dumps(meta, indent=1, ensure_ascii=False), "utf-8")
    os.replace(tmp, folder / "index.json")
    return meta


def _read_meta(folder: Path) -> dict[str, Any] | None:
    try:
        meta = json.loads((folder / "index.json").read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None
