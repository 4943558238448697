"""Image and text embeddings (CLIP, SigLIP), an on-disk index of them, and retrieval.

    from visinstruct.embed import load_embedder
    embedder = load_embedder("path/to/clip", cache="embeddings.db")
    vectors = embedder.embed_images(paths)        # float32 [n, dim], unit length
    queries = embedder.embed_texts(["a lighthouse at dusk"])

Importing this package imports neither torch nor transformers: they are loaded when a model is,
with an error naming the `embed` extra when they are missing.

    model.py     the Embedder and `load_embedder` (transformers checkpoints)
    prepare.py   reading, hashing, decoding and preprocessing images on a thread pool
    cache.py     embeddings by (model fingerprint, image content hash) in SQLite
"""

from visinstruct.embed.cache import EmbeddingCache
from visinstruct.embed.errors import EmbedError
from visinstruct.embed.model import Embedded, Embedder, EmbedStats, load_embedder

__all__ = ["EmbedError", "EmbedStats", "Embedded", "Embedder", "EmbeddingCache", "load_embedder"]
