"""Pick images like a bad case's image: the nearest among a pool, by embedding or by hash.

MLLM-DataEngine picks half of its images by CLIP similarity to the bad case's image. With the
recipe's `embed:` model (an `Embedder`), the pool is ranked by the cosine of image embeddings:
images of the same kind (a chart like a chart, a street like a street). Without one, by
perceptual hash, which needs no model weights and finds images of the same look (layout,
colours, composition): near-copies rather than images of the same kind.

The pool is embedded once, on the first similar pick, through the embedder in pool order and
under the images' content ids, so a run's cache answers for every image it has seen and a
restart reads vectors rather than images. Similarities are rounded before ranking (ties go to
the earlier pool image), so the last bits of a vector, which can differ with the batch an image
was embedded in, never change a pick: the same recipe picks the same images after a restart.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from visinstruct.embed.model import Embedder

SIMILARITY_DECIMALS = 5  # cosines compared to 1e-5: far above float32 noise, far below real gaps


def phash(path: str | os.PathLike[str]) -> int:
    """64-bit perceptual hash of an image file."""
    from visinstruct.checks.dedup import ImageDeduper

    return ImageDeduper().phash(path)


@dataclass(frozen=True)
class PoolImage:
    id: str  # content hash (the run's image id), also the embedding cache's key
    path: str
    domain: str | None


class ImagePool:
    """Images to write targeted questions about. `nearest` ranks them by embedding when the
    pool has an embedder, else by perceptual hash; either index is built on first use."""

    def __init__(self, images: list[PoolImage], embedder: Embedder | None = None) -> None:
        self.images = images
        self.embedder = embedder
        self._hashes: np.ndarray | None = None
        self._vectors: np.ndarray | None = None  # [n, dim]; a row of zeros: not embeddable
        self._queries: dict[str, np.ndarray | None] = {}  # bad-case image path → its vector

    def __len__(self) -> int:
        return len(self.images)

    @property
    def method(self) -> str:
        """How `nearest` ranks: "embedding" or "phash"."""
        return "embedding" if self.embedder is not None else "phash"

    def candidates(self, domain: str | None) -> list[int]:
        """Pool positions of `domain`'s images, or of every image when it has none."""
        mine = [i for i, im in enumerate(self.images) if domain and im.domain == domain]
        return mine or list(range(len(self.images)))

    def nearest(self, path: str | os.PathLike[str], among: list[int], k: int = 5) -> list[int]:
        """Up to `k` pool positions from `among` whose images are most like `path`'s
        (raises OSError when that image cannot be read)."""
        if not among:
            return []
        if self.embedder is not None:
            return self._nearest_by_embedding(os.fspath(path), among, k)
        return self._nearest_by_phash(path, among, k)

    # -- perceptual hash ------------------------------------------------------------------------
    def _nearest_by_phash(self, path: str | os.PathLike[str], among: list[int], k: int) -> list[int]:
        if self._hashes is None:
            self._hashes = np.array([phash(im.path) for im in self.images], dtype=np.uint64)
        target = np.uint64(phash(path))
        dist = np.bitwise_count(np.bitwise_xor(self._hashes[among], target))
        order = np.argsort(dist, kind="stable")[:k]
        return [among[i] for i in order]

    # -- embedding ------------------------------------------------------------------------------
    def _pool_vectors(self) -> np.ndarray:
        """The pool's unit vectors, in pool order; an image the embedder cannot read gets zeros
        (it is then never among the nearest)."""
        if self._vectors is None:
            assert self.embedder is not None
            rows = np.zeros((len(self.images), self.embedder.dim), dtype=np.float32)
            paths, ids = [im.path for im in self.images], [im.id for im in self.images]
            for i, r in enumerate(self.embedder.iter_images(paths, ids)):
                if r.vector is not None:
                    rows[i] = r.vector
            self._vectors = rows
        return self._vectors

    def _query(self, path: str) -> np.ndarray:
        from visinstruct.embed.errors import EmbedError

        if path not in self._queries:
            assert self.embedder is not None
            try:
                self._queries[path] = self.embedder.embed_images([path])[0]
            except EmbedError:
                self._queries[path] = None
        vector = self._queries[path]
        if vector is None:
            raise OSError(f"{path}: cannot be embedded")
        return vector

    def _nearest_by_embedding(self, path: str, among: list[int], k: int) -> list[int]:
        target = self._query(path)
        rows = self._pool_vectors()[among]
        usable = np.flatnonzero(rows.any(axis=1))
        sims = np.round(rows[usable] @ target, SIMILARITY_DECIMALS)
        order = np.argsort(-sims, kind="stable")[:k]
        return [among[usable[i]] for i in order]

    def choose(
        self, rng: random.Random, domain: str | None, like: str | None, similar: float
    ) -> tuple[PoolImage, str]:
        """One image and how it was chosen ("similar" or "random"): with probability
        `similar`, one of the five nearest to `like` (when that image exists), else any."""
        among = self.candidates(domain)
        if like and rng.random() < similar and os.path.isfile(like):
            try:
                near = self.nearest(like, among)
            except OSError:  # an unreadable bad-case image: fall back to any image
                near = []
            if near:
                return self.images[rng.choice(near)], "similar"
        return self.images[rng.choice(among)], "random"
