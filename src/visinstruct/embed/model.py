"""An image and text embedder over a CLIP or SigLIP checkpoint, through `transformers`.

    embedder = load_embedder("openai/clip-vit-base-patch32")      # or a local folder
    vectors = embedder.embed_images(["a.jpg", "b.png"])            # float32 [2, dim], unit length
    queries = embedder.embed_texts(["a photo of a lighthouse"])

`load_embedder` is the one loading path, for a folder written by `save_pretrained` and for a
name in the Hugging Face hub cache alike: it looks in the cache first (`local_files_only`), and
goes to the Hub only when that fails and `HF_HUB_OFFLINE` is not set. The model is any
`transformers` model with `get_image_features` and `get_text_features` (CLIPModel,
SiglipModel, and what `AutoModel` maps to them). open_clip checkpoints are not read: open_clip
needs torchvision, whose PyPI wheels are built against CUDA torch and do not load beside the
CPU build.

Images are embedded in batches of `batch_size`; while the model runs on one batch, a pool of
threads reads, hashes, decodes and preprocesses the next (see prepare.py). With a cache, an
image whose content hash is already there for this model is neither decoded nor embedded. The
cache key is the model's `fingerprint`: its name and a digest of its config and weight files,
so retrained weights in the same folder never meet stale vectors.

Followed: transformers `models/clip/modeling_clip.py` (`get_image_features` returns the
projected pooled output, as a tensor before 5.0 and in `pooler_output` since) and
`models/siglip/modeling_siglip.py`; SigLIP's text tower was trained on text padded to 64
tokens, so its texts are padded to the maximum length, CLIP's to the longest in the batch.
"""

from __future__ import annotations

import hashlib
import os
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from visinstruct.embed.cache import EmbeddingCache
from visinstruct.embed.errors import EmbedError, need
from visinstruct.embed.prepare import (
    Identified,
    ImageInput,
    PrepareError,
    describe,
    identify,
    input_side,
    prepare,
)

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".msgpack", ".h5")
_PAD_TO_MAX = ("siglip", "siglip2")


@dataclass
class EmbedStats:
    """What an embedder did: model calls (forward passes) and images by where they came from."""

    image_batches: int = 0  # forward passes of the image tower
    images_embedded: int = 0  # images run through the model
    images_cached: int = 0  # images whose vector came from the cache
    images_failed: int = 0
    text_batches: int = 0
    texts_embedded: int = 0


@dataclass
class Embedded:
    """One image's result: its unit vector, or the reason it has none."""

    vector: np.ndarray | None
    id: str | None  # content hash (None for a Pillow image given without one)
    error: str | None = None
    cached: bool = False


@dataclass
class _Batch:
    items: list[Identified | None]
    results: list[Embedded | None]
    jobs: dict[int, Future] = field(default_factory=dict)


class Embedder:
    """Image and text embeddings from one checkpoint; see the module docstring."""

    def __init__(
        self,
        model: Any,
        processor: Any,
        name: str,
        fingerprint: str,
        device: str = "cpu",
        batch_size: int = 32,
        workers: int | None = None,
        cache: EmbeddingCache | None = None,
    ) -> None:
        self.model, self.processor = model, processor
        self.image_processor = getattr(processor, "image_processor", processor)
        self.tokenizer = getattr(processor, "tokenizer", None)
        self.name, self.fingerprint, self.device = name, fingerprint, device
        self.batch_size = max(1, int(batch_size))
        self.workers = max(1, workers if workers is not None else (os.cpu_count() or 1))
        self.cache = cache
        self.stats = EmbedStats()
        self.model_type = str(getattr(model.config, "model_type", ""))
        self.dim = int(self._dim())
        self.side = input_side(self.image_processor)
        self._pool: ThreadPoolExecutor | None = None

    def __repr__(self) -> str:
        return f"Embedder({self.name!r}, dim={self.dim}, device={self.device!r})"

    def _dim(self) -> int:
        """CLIP projects both towers to `projection_dim`; SigLIP's image embedding is the vision
        tower's pooled output (its text head projects to the same width)."""
        cfg = self.model.config
        if getattr(cfg, "projection_dim", None):
            return int(cfg.projection_dim)
        return int(cfg.vision_config.hidden_size)

    # -- images -------------------------------------------------------------------------------
    def embed_images(self, images: Sequence[ImageInput], ids: Sequence[str] | None = None) -> np.ndarray:
        """Unit vectors of `images` (paths, encoded bytes or Pillow images): float32 [n, dim].

        `ids` are the images' content hashes when the caller knows them (a run's image ids), so
        cached images are not even read. An image that cannot be read or decoded raises
        EmbedError naming it; `iter_images` reports such images one by one instead."""
        out = np.empty((len(images), self.dim), dtype=np.float32)
        for i, r in enumerate(self.iter_images(images, ids)):
            if r.vector is None:
                raise EmbedError(r.error or f"{describe(images[i])}: no embedding")
            out[i] = r.vector
        return out

    def iter_images(
        self, images: Iterable[ImageInput], ids: Iterable[str | None] | None = None
    ) -> Iterator[Embedded]:
        """One `Embedded` per input, in input order, streaming: at most two batches in memory."""
        id_iter = iter(ids) if ids is not None else None
        pending: deque[_Batch] = deque()
        chunk: list[tuple[ImageInput, str | None]] = []
        for x in images:
            chunk.append((x, next(id_iter, None) if id_iter is not None else None))
            if len(chunk) == self.batch_size:
                pending.append(self._start(chunk))
                chunk = []
                if len(pending) > 1:
                    yield from self._finish(pending.popleft())
        if chunk:
            pending.append(self._start(chunk))
        while pending:
            yield from self._finish(pending.popleft())

    def _pool_(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="embed-prepare")
        return self._pool

    def _start(self, chunk: list[tuple[ImageInput, str | None]]) -> _Batch:
        """Identify the chunk's inputs, take what the cache has, start preparing the rest."""
        pool = self._pool_()
        read = self.cache is None  # without a cache every input is decoded anyway
        found = [pool.submit(identify, x, known, read or known is None) for x, known in chunk]
        batch = _Batch([None] * len(chunk), [None] * len(chunk))
        for i, f in enumerate(found):
            try:
                batch.items[i] = f.result()
            except PrepareError as e:
                batch.results[i] = Embedded(None, chunk[i][1], str(e))
        hits: dict[str, np.ndarray] = {}
        if self.cache is not None:
            known_ids = [it.id for it in batch.items if it is not None and it.id is not None]
            hits = self.cache.get_many(self.fingerprint, self.dim, known_ids)
        for i, it in enumerate(batch.items):
            if it is None:
                continue
            if it.id is not None and it.id in hits:
                batch.results[i] = Embedded(hits[it.id], it.id, cached=True)
            else:
                batch.jobs[i] = pool.submit(prepare, self.image_processor, it, self.side)
        return batch

    def _finish(self, batch: _Batch) -> Iterator[Embedded]:
        todo: list[int] = []
        arrays: list[np.ndarray] = []
        for i, job in batch.jobs.items():
            it = batch.items[i]
            assert it is not None
            try:
                arrays.append(job.result())
                todo.append(i)
            except PrepareError as e:
                batch.results[i] = Embedded(None, it.id, str(e))
            except Exception as e:  # a processor that cannot take this image
                why = f"{it.ref}: cannot preprocess ({type(e).__name__}: {e})"
                batch.results[i] = Embedded(None, it.id, why)
        if arrays:
            vectors = self._image_forward(np.stack(arrays))
            fresh = []
            for i, v in zip(todo, vectors, strict=True):
                it = batch.items[i]
                assert it is not None
                batch.results[i] = Embedded(v, it.id)
                if it.id is not None:
                    fresh.append((it.id, v))
            if self.cache is not None:
                self.cache.put_many(self.fingerprint, fresh)
        for r in batch.results:
            assert r is not None
            if r.vector is None:
                self.stats.images_failed += 1
            elif r.cached:
                self.stats.images_cached += 1
            yield r

    def _image_forward(self, pixels: np.ndarray) -> np.ndarray:
        torch = need("torch", "embedding images")
        param = next(self.model.parameters())
        with torch.inference_mode():
            x = torch.from_numpy(pixels).to(device=self.device, dtype=param.dtype)
            out = _features(self.model.get_image_features(pixel_values=x))
        self.stats.image_batches += 1
        self.stats.images_embedded += len(pixels)
        return _unit(out.float().cpu().numpy())

    # -- texts --------------------------------------------------------------------------------
    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors of `texts`: float32 [n, dim], in the space of the image vectors."""
        if isinstance(texts, str):
            raise TypeError("embed_texts takes a list of texts, not one string")
        if self.tokenizer is None:
            raise EmbedError(f"{self.name}: the checkpoint has no tokenizer, so it cannot embed texts")
        torch = need("torch", "embedding texts")
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        limit = self._max_text_tokens()
        for start in range(0, len(texts), self.batch_size):
            part = [str(t) for t in texts[start : start + self.batch_size]]
            padding = "max_length" if self.model_type in _PAD_TO_MAX else True
            enc = self.tokenizer(
                part, padding=padding, truncation=True, max_length=limit, return_tensors="pt"
            )
            wanted = ("input_ids", "attention_mask") if self.model_type not in _PAD_TO_MAX else ("input_ids",)
            inputs = {k: v.to(self.device) for k, v in enc.items() if k in wanted}
            with torch.inference_mode():
                feats = _features(self.model.get_text_features(**inputs))
            out[start : start + len(part)] = _unit(feats.float().cpu().numpy())
            self.stats.text_batches += 1
            self.stats.texts_embedded += len(part)
        return out

    def _max_text_tokens(self) -> int:
        text = getattr(self.model.config, "text_config", None)
        return int(getattr(text, "max_position_embeddings", None) or 77)

    def close(self) -> None:
        """Stop the preprocessing threads (the model stays usable; threads restart on demand)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)

    def __enter__(self) -> Embedder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _features(out: Any) -> Any:
    """The projected embedding: a tensor (transformers < 5) or the output's `pooler_output`."""
    if hasattr(out, "pooler_output") and not hasattr(out, "shape"):
        return out.pooler_output
    return out


def _unit(v: np.ndarray) -> np.ndarray:
    v = np.ascontiguousarray(v, dtype=np.float32)
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    return v / np.maximum(norms, 1e-12)


# -- loading ----------------------------------------------------------------------------------
def resolve_device(device: str) -> str:
    """ "cpu", "cuda", "cuda:N", "mps", or "auto" (the first of cuda, mps, cpu that is present)."""
    torch = need("torch", "embedding")
    device = (device or "cpu").strip().lower()
    if device == "auto":
        if torch.cuda.is_available():
            return "cuda"
        mps = getattr(torch.backends, "mps", None)
        return "mps" if mps is not None and mps.is_available() else "cpu"
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise EmbedError(f"device {device!r}: this torch build sees no CUDA GPU (use device: cpu)")
        index = device.partition(":")[2]
        if index and (not index.isdigit() or int(index) >= torch.cuda.device_count()):
            raise EmbedError(f"device {device!r}: there are {torch.cuda.device_count()} CUDA devices")
        return device
    if device == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise EmbedError("device 'mps': not available on this machine (use device: cpu)")
        return device
    if device != "cpu":
        raise EmbedError(f"unknown device {device!r} (cpu, cuda, cuda:N, mps or auto)")
    return device


def load_embedder(
    model: str | os.PathLike[str],
    device: str = "cpu",
    batch_size: int = 32,
    workers: int | None = None,
    cache: EmbeddingCache | str | os.PathLike[str] | None = None,
    dtype: str | None = None,
) -> Embedder:
    """An Embedder for `model`: a local folder (`save_pretrained`) or a name in the hub cache.

    `cache` is an EmbeddingCache or the path of its SQLite file; `dtype` ("float16",
    "bfloat16") is for GPUs, CPU runs in float32."""
    transformers = need("transformers", "embedding")
    torch = need("torch", "embedding")
    name = os.fspath(model)
    device = resolve_device(device)
    local = Path(name).expanduser()
    source = str(local) if local.is_dir() else name
    if not local.is_dir() and (local.is_absolute() or name.startswith((".", "~")) or local.exists()):
        raise EmbedError(f"{name}: not a model folder (a folder written by save_pretrained, or a hub name)")
    verbosity = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_error()  # no progress bars or notes about unused weights
    transformers.logging.disable_progress_bar()
    try:
        processor, net, folder = _from_pretrained(transformers, source, name)
    finally:
        transformers.logging.set_verbosity(verbosity)
        transformers.logging.enable_progress_bar()
    if not (hasattr(net, "get_image_features") and hasattr(net, "get_text_features")):
        raise EmbedError(
            f"{name}: a {type(net).__name__}, not an image-text model with get_image_features and "
            "get_text_features (CLIP, SigLIP)"
        )
    if dtype:
        if device == "cpu" and dtype != "float32":
            raise EmbedError(f"dtype {dtype!r} is for GPUs; on the CPU the model runs in float32")
        net = net.to(getattr(torch, dtype))
    net = net.to(device).eval()
    if isinstance(cache, (str, os.PathLike)):
        cache = EmbeddingCache(cache)
    fingerprint = f"{name}@{weights_digest(folder)}"
    return Embedder(net, processor, name, fingerprint, device, batch_size, workers, cache)


def _from_pretrained(transformers: Any, source: str, name: str) -> tuple[Any, Any, Path]:
    """(processor, model, the folder its files were read from), from the cache before the Hub."""
    offline = os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")
    attempts = [True] if offline or Path(source).is_dir() else [True, False]
    last: Exception | None = None
    for local_only in attempts:
        try:
            processor = transformers.AutoProcessor.from_pretrained(source, local_files_only=local_only)
            net = transformers.AutoModel.from_pretrained(source, local_files_only=local_only)
            folder = Path(source) if Path(source).is_dir() else _snapshot(transformers, source)
            return processor, net, folder
        except (OSError, ValueError, KeyError) as e:
            last = e
    reason = str(last).strip().splitlines()[0] if last else "unknown"
    where = "the folder" if Path(source).is_dir() else "the hub cache" + ("" if offline else " or the Hub")
    raise EmbedError(f"{name}: cannot load the model from {where} ({reason})")


def _snapshot(transformers: Any, name: str) -> Path:
    """The hub-cache folder a named model was read from."""
    from huggingface_hub import try_to_load_from_cache

    path = try_to_load_from_cache(name, "config.json")
    if not isinstance(path, str):
        raise OSError(f"{name}: config.json is not in the hub cache")
    return Path(path).parent


def weights_digest(folder: Path) -> str:
    """A digest of a checkpoint folder's config and weight files (16 hex digits).

    A hub-cache snapshot links each file to a blob named by its own hash: the blob names are
    digested, so a cached model is not read twice. A plain folder's files are hashed."""
    h = hashlib.sha256()
    files = sorted(
        p for p in Path(folder).iterdir() if p.name == "config.json" or p.name.endswith(WEIGHT_SUFFIXES)
    )
    for p in files:
        h.update(p.name.encode() + b"\0")
        target = p.resolve()
        if p.is_symlink() and target.parent.name == "blobs":
            h.update(target.name.encode())
        else:
            with open(target, "rb") as f:
                h.update(hashlib.file_digest(f, "sha256").digest())
    return h.hexdigest()[:16]


def describe_model(embedder: Embedder) -> dict[str, Any]:
    """What an index records of the model that made its vectors."""
    return {
        "name": embedder.name,
        "fingerprint": embedder.fingerprint,
        "dim": embedder.dim,
        "type": embedder.model_type,
    }


__all__ = ["EmbedStats", "Embedded", "Embedder", "describe_model", "load_embedder"]
