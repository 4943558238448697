"""The closed loop's similar-image pick: by the recipe's embed: model when it has one, by
perceptual hash when it has none. A tiny CLIP over synthetic scenes ranks a pool differently
from the hashes; the pool follows the embedding ranking in one mode and the hash ranking in
the other, the pool is embedded once and through the cache, and a run's samples say which
method chose their images."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from test_loop_targeted import setup  # noqa: E402
from tiny_clip import make_tiny_clip  # noqa: E402

from visinstruct.embed import load_embedder  # noqa: E402
from visinstruct.embed.model import Embedder  # noqa: E402
from visinstruct.loop.similar import ImagePool, PoolImage, phash  # noqa: E402
from visinstruct.recipe import parse_recipe  # noqa: E402
from visinstruct.runner import run_recipe  # noqa: E402
from visinstruct.store import RunStore  # noqa: E402
from visinstruct.synth.scenes.draw import Look  # noqa: E402
from visinstruct.synth.scenes.layout import canvas_dims, pick_sizes, random_scene  # noqa: E402

POOL = range(12)
QUERIES = range(20, 30)


def render(seed: int, path: Path) -> Path:
    """A scene of the engine's `scenes` domain, drawn from `seed`."""
    rng = random.Random(seed)
    w, h = canvas_dims(rng)
    look = Look(rng, w, h)
    n = rng.randint(3, 10)
    look.render(random_scene(rng, look, n, pick_sizes(rng, w, h, n))).save(path)
    return path


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return make_tiny_clip(tmp_path_factory.mktemp("models") / "tiny-clip")


@pytest.fixture(scope="module")
def scenes(tmp_path_factory) -> tuple[list[PoolImage], list[Path]]:
    root = tmp_path_factory.mktemp("scenes")
    pool = []
    for s in POOL:
        path = render(s, root / f"pool-{s}.png")
        pool.append(PoolImage(f"{s:064x}", str(path), "scenes"))
    return pool, [render(s, root / f"query-{s}.png") for s in QUERIES]


def rankings(embedder: Embedder, pool: list[PoolImage], query: Path) -> tuple[list[int], list[int]]:
    """The five nearest pool positions by cosine of embeddings and by hash distance, computed
    here from the model and the hashes directly."""
    vectors = embedder.embed_images([im.path for im in pool])
    sims = vectors @ embedder.embed_images([query])[0]
    by_embedding = np.argsort(-sims, kind="stable")[:5]
    hashes = np.array([phash(im.path) for im in pool], dtype=np.uint64)
    by_hash = np.argsort(np.bitwise_count(hashes ^ np.uint64(phash(query))), kind="stable")[:5]
    return [int(i) for i in by_embedding], [int(i) for i in by_hash]


@pytest.fixture(scope="module")
def disagreeing(tiny, scenes) -> tuple[Path, list[int], list[int]]:
    """The query whose five nearest by embedding and by hash share the fewest images."""
    pool, queries = scenes
    embedder = load_embedder(tiny)
    found = [(q, *rankings(embedder, pool, q)) for q in queries]
    query, emb, ph = min(found, key=lambda f: len(set(f[1]) & set(f[2])))
    assert set(emb) != set(ph), "every query ranks the pool alike: the test could not fail"
    return query, emb, ph


def test_with_an_embedder_similar_picks_follow_the_embeddings(tiny, scenes, disagreeing, tmp_path):
    pool, _ = scenes
    query, emb, ph = disagreeing
    embedder = load_embedder(tiny, cache=tmp_path / "embeddings.db", batch_size=4)
    by_embedding = ImagePool(pool, embedder)
    by_hash = ImagePool(pool)
    assert (by_embedding.method, by_hash.method) == ("embedding", "phash")
    among = by_embedding.candidates("scenes")
    assert by_embedding.nearest(query, among) == emb
    assert by_hash.nearest(query, among) == ph

    picked = {"embedding": set(), "phash": set()}
    for seed in range(60):
        for p in (by_embedding, by_hash):
            image, how = p.choose(random.Random(seed), "scenes", str(query), 1.0)
            assert how == "similar"
            picked[p.method].add(image.id)
    assert picked["embedding"] == {pool[i].id for i in emb}
    assert picked["phash"] == {pool[i].id for i in ph}

    # the pool was embedded once, in batches, and the bad case's image once
    assert embedder.stats.images_embedded == len(pool) + 1
    assert embedder.stats.image_batches == -(-len(pool) // 4) + 1
    embedder.close()


def test_the_pool_is_embedded_through_the_cache_and_ranks_alike_in_any_batch(
    tiny, scenes, disagreeing, tmp_path
):
    pool, _ = scenes
    query, emb, _ = disagreeing
    cache = tmp_path / "embeddings.db"
    first = load_embedder(tiny, cache=cache, batch_size=5)
    assert ImagePool(pool, first).nearest(query, list(range(len(pool)))) == emb
    # a restart: the same images by id come from the cache, nothing is read or embedded again
    again = load_embedder(tiny, cache=cache, batch_size=1)
    assert ImagePool(pool, again).nearest(query, list(range(len(pool)))) == emb
    assert (again.stats.images_embedded, again.stats.images_cached) == (0, len(pool) + 1)
    # without a cache and in batches of one, the same ranking
    plain = load_embedder(tiny, batch_size=1)
    assert ImagePool(pool, plain).nearest(query, list(range(len(pool)))) == emb
    for e in (first, again, plain):
        e.close()


@pytest.mark.parametrize("with_embedder", [True, False])
def test_an_unreadable_bad_case_image_falls_back_to_a_random_pick(tiny, scenes, tmp_path, with_embedder):
    pool, _ = scenes
    broken = tmp_path / "bad.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    embedder = load_embedder(tiny) if with_embedder else None
    p = ImagePool(pool, embedder)
    for seed in range(5):
        image, how = p.choose(random.Random(seed), "scenes", str(broken), 1.0)
        assert how == "random" and image in pool
    if embedder is not None:
        assert embedder.stats.images_embedded == 0  # the pool is not embedded for nothing
        embedder.close()


def counting_forwards(monkeypatch) -> list[int]:
    """Images per forward pass of every embedder's image tower, from now on."""
    calls: list[int] = []
    forward = Embedder._image_forward

    def spy(self, pixels):
        calls.append(len(pixels))
        return forward(self, pixels)

    monkeypatch.setattr(Embedder, "_image_forward", spy)
    return calls


def similar_picks(run_dir: Path) -> dict[str, tuple[str, str | None, str]]:
    """unit → (image choice, similar_by, image id) of a run's targeted samples."""
    with RunStore(run_dir, create=False) as store:
        return {
            s.provenance["unit"]: (s.provenance["image_choice"], s.provenance.get("similar_by"), s.images[0])
            for s in store.iter_samples()
            if s.provenance.get("generator") == "llm/targeted"
        }


@pytest.fixture
def key(monkeypatch):
    monkeypatch.setenv("VISINSTRUCT_TEST_KEY", "sk-test")


def test_a_run_with_embed_picks_by_embedding_and_says_so(tiny, tmp_path, fake_openai, monkeypatch, key):
    data = setup(tmp_path, fake_openai)
    data["embed"] = {"model": str(tiny), "batch_size": 4}
    forwards = counting_forwards(monkeypatch)
    run_recipe(parse_recipe(data), tmp_path / "run", workers=1)
    picks = similar_picks(tmp_path / "run")
    counting = {u: p for u, p in picks.items() if u.startswith("targeted/counting/")}
    assert counting and {(how, by) for how, by, _ in counting.values()} == {("similar", "embedding")}
    # no recorded mistakes: any image, and no similarity method to name
    assert {(how, by) for u, (how, by, _) in picks.items() if u not in counting} == {("random", None)}
    # the eight pool images, once; the bad cases' images are copies of pool images (cache hits)
    assert sum(forwards) == 8
    assert (tmp_path / "run" / "embeddings.db").is_file()

    forwards.clear()
    run_recipe(parse_recipe(data), tmp_path / "run", workers=1)
    assert forwards == [], "a rerun reads every vector from the run's cache"
    assert similar_picks(tmp_path / "run") == picks

    # a fresh run of the same recipe (new cache) picks the same images
    run_recipe(parse_recipe(data), tmp_path / "again", workers=1)
    assert similar_picks(tmp_path / "again") == picks


def test_a_run_without_embed_picks_by_perceptual_hash(tmp_path, fake_openai, key):
    data = setup(tmp_path, fake_openai)
    run_recipe(parse_recipe(data), tmp_path / "run", workers=1)
    picks = similar_picks(tmp_path / "run")
    counting = [(how, by) for u, (how, by, _) in picks.items() if u.startswith("targeted/counting/")]
    assert counting and set(counting) == {("similar", "phash")}
    assert not (tmp_path / "run" / "embeddings.db").exists()
