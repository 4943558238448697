"""Near-duplicate images by meaning: image embeddings (CLIP, SigLIP) within a cosine threshold.

A perceptual hash sees pixels: an object moved, recoloured or cropped away changes enough
bits that the copy is missed at any distance that does not also join unrelated images. An
image embedding sees what is shown, so such a copy stays close to its original.

`SemanticDeduper` takes images in input order, a batch at a time, and compares each with the
first image of every group seen so far (its *kept* images): an image within `threshold` of a
kept one is a near-duplicate of the most similar of them (the earliest on a tie), else it is
kept. The same image (content hash) given again gets its first answer. Memory holds the kept
vectors, never a matrix of all pairs: the search is a blocked matrix product over the kept
vectors (exact) until `exact_below` of them are kept, then an inverted file (faiss IVF, the
one `embed/index.py` builds, trained on the kept vectors at that point and tuned to its recall
target) that each later kept vector is added to. Images within one batch are compared with
each other exactly. Every similarity reported is the exact cosine of the two vectors.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from visinstruct.checks.results import REVIEW, failed, passed
from visinstruct.embed.index import EXACT_BELOW

CHECK = "semantic_duplicate_image"
_BLOCK = 65_536  # kept rows per block of the exact search


class SemanticDeduper:
    """Near-duplicates among unit vectors in input order; see the module docstring."""

    def __init__(self, dim: int, threshold: float = 0.95, exact_below: int = EXACT_BELOW) -> None:
        if not 0 < threshold <= 1:
            raise ValueError("threshold must be in (0, 1]")
        self.dim, self.threshold, self.exact_below = dim, float(threshold), max(1, exact_below)
        self._kept = np.empty((0, dim), dtype=np.float32)  # exact phase; grows by doubling
        self._n = 0  # kept vectors
        self._ids: list[str] = []  # kept image ids, by row
        self._ivf: Any = None
        self._seen: dict[str, tuple[str | None, float]] = {}  # image id → (earlier id, similarity)

    @property
    def approximate(self) -> bool:
        """Whether the kept vectors are searched through an inverted file (above `exact_below`)."""
        return self._ivf is not None

    def add_batch(self, ids: Sequence[str], vectors: np.ndarray) -> list[tuple[str | None, float]]:
        """Per image, in order: (the earlier image it near-duplicates, their cosine), or
        (None, 0.0) for an image that is kept."""
        q = np.ascontiguousarray(np.atleast_2d(vectors), dtype=np.float32)
        if len(ids) != len(q) or (len(q) and q.shape[1] != self.dim):
            raise ValueError(f"{len(ids)} ids for vectors of shape {q.shape} (dim {self.dim})")
        best_s, best_r = self._search(q)
        out: list[tuple[str | None, float]] = []
        fresh: list[np.ndarray] = []  # vectors kept from this batch, compared inside the batch
        fresh_rows: list[int] = []
        for i, image_id in enumerate(ids):
            if image_id in self._seen:
                out.append(self._seen[image_id])
                continue
            s, r = float(best_s[i]), int(best_r[i])
            if fresh:
                inner = np.stack(fresh) @ q[i]
                j = int(np.argmax(inner))
                if float(inner[j]) > s:
                    s, r = float(inner[j]), fresh_rows[j]
            if r >= 0 and s >= self.threshold:
                res = (self._ids[r], s)
            else:
                fresh.append(q[i])
                fresh_rows.append(self._n)
                self._keep(image_id, q[i])
                res = (None, 0.0)
            self._seen[image_id] = res
            out.append(res)
        return out

    # -- the kept vectors ---------------------------------------------------------------------
    def _search(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each query's most similar kept row and its cosine (-1 and -inf when none is kept)."""
        best_s = np.full(len(q), -np.inf, dtype=np.float32)
        best_r = np.full(len(q), -1, dtype=np.int64)
        if not len(q) or not self._n:
            return best_s, best_r
        if self._ivf is not None:
            scores, rows = self._ivf.search(q, 1)
            found = rows[:, 0] >= 0
            best_s[found], best_r[found] = scores[found, 0], rows[found, 0]
            return best_s, best_r
        for lo in range(0, self._n, _BLOCK):
            block = self._kept[lo : min(self._n, lo + _BLOCK)]
            s = q @ block.T
            j = np.argmax(s, axis=1)  # the first of equal maxima: the earliest row
            top = s[np.arange(len(q)), j]
            better = top > best_s
            best_s[better], best_r[better] = top[better], lo + j[better]
        return best_s, best_r

    def _keep(self, image_id: str, v: np.ndarray) -> None:
        self._ids.append(image_id)
        if self._ivf is not None:
            self._ivf.add(v[None, :])
            self._n += 1
            return
        if self._n == len(self._kept):
            grown = np.empty((max(1024, 2 * len(self._kept)), self.dim), dtype=np.float32)
            grown[: self._n] = self._kept[: self._n]
            self._kept = grown
        self._kept[self._n] = v
        self._n += 1
        if self._n >= self.exact_below:
            self._to_ivf()

    def _to_ivf(self) -> None:
        """From here on the kept vectors live in an IVF index (trained on those kept so far)."""
        from visinstruct.embed.index import train_ivf, tune_nprobe

        kept = self._kept[: self._n]
        ivf = train_ivf(kept)
        ivf.nprobe, _ = tune_nprobe(ivf, kept)
        self._ivf, self._kept = ivf, np.empty((0, self.dim), dtype=np.float32)


def semantic_duplicate_image(image_id: str, of: str | None, similarity: float) -> dict[str, dict]:
    """The `semantic_duplicate_image` result of an image: review when its embedding is within
    the threshold of an earlier image's."""
    if of is None or of == image_id:
        return {CHECK: passed()}
    return {
        CHECK: failed(
            f"image {image_id[:12]} is a semantic near-duplicate of image {of[:12]} "
            f"(embedding similarity {similarity:.3f})",
            REVIEW,
            image=image_id,
            of=of,
            similarity=round(similarity, 4),
        )
    }


__all__ = ["CHECK", "SemanticDeduper", "semantic_duplicate_image"]
