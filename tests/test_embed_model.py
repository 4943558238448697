"""The Embedder over a tiny CLIP written like a real checkpoint: loading from a folder and from
the hub cache through the one loading function, image and text embeddings, batching, the cache
by content hash, and one-line errors."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from PIL import Image, ImageDraw  # noqa: E402
from tiny_clip import install_in_hub_cache, make_tiny_clip, make_tiny_siglip  # noqa: E402

from visinstruct.embed import EmbeddingCache, EmbedError, load_embedder  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return make_tiny_clip(tmp_path_factory.mktemp("models") / "tiny-clip")


def picture(seed: int, size=(96, 72)) -> Image.Image:
    img = Image.new("RGB", size, (240, 240, 235))
    d = ImageDraw.Draw(img)
    d.ellipse([10 + seed * 5, 10, 40 + seed * 5, 40], fill=(200, 30 + seed * 20, 40))
    d.rectangle([50, 30 + seed, 85, 60], fill=(20, 90, 200 - seed * 15))
    return img


def write(img: Image.Image, path: Path, fmt: str = "PNG") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, fmt)
    return path


def test_images_as_paths_bytes_or_pil_give_one_unit_vector_each(tiny, tmp_path):
    e = load_embedder(tiny)
    assert e.dim == 64 and e.name == str(tiny) and e.fingerprint.startswith(f"{tiny}@")
    paths = [write(picture(i), tmp_path / f"{i}.png") for i in range(3)]
    v = e.embed_images(paths)
    assert v.shape == (3, 64) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-5)
    as_bytes = e.embed_images([p.read_bytes() for p in paths])
    as_pil = e.embed_images([Image.open(p) for p in paths])
    assert np.allclose(v, as_bytes, atol=1e-6) and np.allclose(v, as_pil, atol=1e-5)
    assert not np.allclose(v[0], v[1], atol=1e-3)  # different pictures, different vectors


def test_texts_are_unit_vectors_in_the_image_space(tiny):
    e = load_embedder(tiny)
    t = e.embed_texts(["a red circle", "two blue squares", "一只猫"])
    assert t.shape == (3, 64) and np.allclose(np.linalg.norm(t, axis=1), 1, atol=1e-5)
    assert not np.allclose(t[0], t[1], atol=1e-3)
    with pytest.raises(TypeError):
        e.embed_texts("one string")


def test_batches_give_the_same_vectors_and_count_forward_passes(tiny, tmp_path):
    images = [picture(i) for i in range(7)]
    whole = load_embedder(tiny, batch_size=32).embed_images(images)
    small = load_embedder(tiny, batch_size=3, workers=2)
    calls = []
    forward = small.model.get_image_features
    small.model.get_image_features = lambda **kw: calls.append(kw["pixel_values"].shape[0]) or forward(**kw)
    assert np.allclose(small.embed_images(images), whole, atol=1e-5)
    assert calls == [3, 3, 1] and small.stats.image_batches == 3


def test_the_cache_answers_by_content_and_knows_the_model(tiny, tmp_path):
    cache = tmp_path / "embeddings.db"
    paths = [write(picture(i), tmp_path / "a" / f"{i}.png") for i in range(4)]
    first = load_embedder(tiny, cache=cache)
    v = first.embed_images(paths)
    assert first.stats.images_embedded == 4 and EmbeddingCache(cache).count(first.fingerprint) == 4

    again = load_embedder(tiny, cache=cache)
    calls = []
    forward = again.model.get_image_features
    again.model.get_image_features = lambda **kw: calls.append(1) or forward(**kw)
    copies = [write(Image.open(p), tmp_path / "b" / f"copy-{p.name}") for p in paths]  # same bytes, new names
    assert np.array_equal(again.embed_images(copies), v)
    assert calls == [] and again.stats.images_cached == 4 and again.stats.images_embedded == 0

    other = make_tiny_clip(tmp_path / "retrained", seed=1)  # other weights: other fingerprint
    e2 = load_embedder(other, cache=cache)
    assert e2.fingerprint != first.fingerprint
    e2.embed_images(paths)
    assert e2.stats.images_embedded == 4 and e2.stats.images_cached == 0


def test_a_bad_image_is_named_and_the_others_still_come(tiny, tmp_path):
    good = write(picture(1), tmp_path / "good.png")
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image at all")
    e = load_embedder(tiny)
    results = list(e.iter_images([good, bad, tmp_path / "missing.png"]))
    assert results[0].vector is not None and results[0].error is None
    assert results[1].vector is None and results[1].error.startswith(f"{bad}: not an image")
    assert results[2].error.startswith(f"{tmp_path / 'missing.png'}: cannot read")
    with pytest.raises(EmbedError, match="bad.jpg: not an image"):
        e.embed_images([good, bad])


def test_a_truncated_jpeg_is_refused_by_name(tiny, tmp_path):
    buf = io.BytesIO()
    picture(2, (400, 300)).save(buf, "JPEG")
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    [r] = list(load_embedder(tiny).iter_images([cut]))
    assert r.vector is None and "cut.jpg: truncated or corrupt image" in r.error


def test_unknown_models_and_devices_are_one_line_errors(tiny, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(EmbedError, match=r"^nobody/no-such-clip: cannot load the model from the hub cache"):
        load_embedder("nobody/no-such-clip")
    with pytest.raises(EmbedError, match="not a model folder"):
        load_embedder(str(tmp_path / "no-such-folder"))
    with pytest.raises(EmbedError, match="unknown device 'tpu'"):
        load_embedder(tiny, device="tpu")
    import torch

    if not torch.cuda.is_available():
        with pytest.raises(EmbedError, match="sees no CUDA GPU"):
            load_embedder(tiny, device="cuda")


def test_a_named_checkpoint_loads_from_the_hub_cache_offline(tiny, tmp_path):
    """The same function loads a hub name: the cache laid out as huggingface_hub lays it out,
    HF_HUB_OFFLINE set, in a fresh process (the hub reads its cache folder at import)."""
    hub = tmp_path / "hub"
    install_in_hub_cache(tiny, hub, "tiny-org/tiny-clip")
    img = write(picture(3), tmp_path / "x.png")
    code = (
        "import sys, numpy as np; from visinstruct.embed import load_embedder;"
        "e = load_embedder('tiny-org/tiny-clip'); v = e.embed_images([sys.argv[1]]);"
        "np.save(sys.argv[2], v); print(e.name, e.fingerprint)"
    )
    env = {**os.environ, "HF_HUB_CACHE": str(hub), "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT / "src")}
    out = subprocess.run(
        [sys.executable, "-c", code, str(img), str(tmp_path / "v.npy")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    name, fingerprint = out.stdout.split()
    assert name == "tiny-org/tiny-clip" and fingerprint.startswith("tiny-org/tiny-clip@")
    assert np.allclose(np.load(tmp_path / "v.npy"), load_embedder(tiny).embed_images([img]), atol=1e-6)


def test_a_missing_optional_package_names_the_extra():
    from visinstruct.embed.errors import need

    with pytest.raises(
        EmbedError, match=r"an index needs the 'no_such_module' package .*visinstruct\[embed\]"
    ):
        need("no_such_module", "an index")


def test_a_siglip_checkpoint_embeds_through_the_same_path(tmp_path):
    """SigLIP: the image embedding is the vision tower's pooled output and texts are padded to
    the maximum length; one padded batch and one text alone give the same vector."""
    e = load_embedder(make_tiny_siglip(tmp_path / "tiny-siglip"), batch_size=2)
    assert e.model_type == "siglip" and e.dim == 32
    v = e.embed_images([picture(0), picture(4)])
    assert v.shape == (2, 32) and np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-5)
    texts = ["a red square", "a much longer text than the sixteen tokens this model reads", "x"]
    t = e.embed_texts(texts)
    assert t.shape == (3, 32) and np.allclose(e.embed_texts(["a red square"])[0], t[0], atol=1e-5)
