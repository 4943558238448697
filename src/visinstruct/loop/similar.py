"""Pick images like a bad case's image: nearest perceptual hashes among a pool.

MLLM-DataEngine picks half of its images by CLIP similarity to the bad case's image.
Perceptual hashes need no model weights and find images of the same look (layout,
colours, composition), which is what a synthetic or scanned pool varies in.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass

import numpy as np


def phash(path: str | os.PathLike[str]) -> int:
    """64-bit perceptual hash of an image file."""
    from visinstruct.checks.dedup import ImageDeduper

    return ImageDeduper().phash(path)


@dataclass(frozen=True)
class PoolImage:
    id: str
    path: str
    domain: str | None


class ImagePool:
    """Images to write targeted questions about; hashes are computed on first use."""

    def __init__(self, images: list[PoolImage]) -> None:
        self.images = images
        self._hashes: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.images)

    def _index(self) -> np.ndarray:
        if self._hashes is None:
            self._hashes = np.array([phash(im.path) for im in self.images], dtype=np.uint64)
        return self._hashes

    def candidates(self, domain: str | None) -> list[int]:
        """Pool positions of `domain`'s images, or of every image when it has none."""
        mine = [i for i, im in enumerate(self.images) if domain and im.domain == domain]
        return mine or list(range(len(self.images)))

    def nearest(self, path: str | os.PathLike[str], among: list[int], k: int = 5) -> list[int]:
        """Up to `k` pool positions from `among` whose images look most like `path`."""
        if not among:
            return []
        target = np.uint64(phash(path))
        hashes = self._index()[among]
        dist = np.bitwise_count(np.bitwise_xor(hashes, target))
        order = np.argsort(dist, kind="stable")[:k]
        return [among[i] for i in order]

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
