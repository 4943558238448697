"""An index over a pool of synthetic scenes with a tiny CLIP: planted near-copies of each seed
scene rank above unrelated scenes, a similarity floor drops the unrelated ones, building again
embeds nothing, and the neighbours become a recipe's source images with seed and score."""

from __future__ import annotations

import io
import json
import random
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("faiss")

from PIL import Image, ImageEnhance  # noqa: E402
from tiny_clip import make_tiny_clip  # noqa: E402

from visinstruct.cli import main  # noqa: E402
from visinstruct.embed import EmbedError, load_embedder  # noqa: E402
from visinstruct.embed.build import build_index  # noqa: E402
from visinstruct.embed.index import VectorIndex, exact_search, recall_at, write_index  # noqa: E402
from visinstruct.errors import RecipeError  # noqa: E402
from visinstruct.recipe import parse_recipe  # noqa: E402
from visinstruct.runner import run_recipe  # noqa: E402
from visinstruct.store import RunStore  # noqa: E402
from visinstruct.synth.scenes.draw import Look  # noqa: E402
from visinstruct.synth.scenes.layout import canvas_dims, pick_sizes, random_scene  # noqa: E402

SEEDS = range(6)
DOMAIN = "spatial_relationship"  # the seeds' sub-folder: a catalog domain, given to their neighbours
VARIANTS = ("moved", "recoloured", "darker", "jpeg")


def scene(seed: int) -> tuple[Look, list[dict]]:
    """A scene of the engine's `scenes` domain: its look (background, outlines) and objects."""
    rng = random.Random(seed)
    w, h = canvas_dims(rng)
    look = Look(rng, w, h)
    n = rng.randint(3, 10)
    return look, random_scene(rng, look, n, pick_sizes(rng, w, h, n))


def variants(seed: int) -> tuple[Image.Image, dict[str, Image.Image]]:
    """A scene and four small changes of it: an object moved a few pixels, an object of
    another colour, 6% darker, saved as a JPEG of quality 80."""
    look, objects = scene(seed)
    base = look.render(objects)
    moved = [dict(o) for o in objects]
    moved[0]["y"] += 6
    recoloured = [dict(o) for o in objects]
    recoloured[-1]["color"] = "red" if recoloured[-1]["color"] != "red" else "blue"
    buf = io.BytesIO()
    base.save(buf, "JPEG", quality=80)
    return base, {
        "moved": look.render(moved),
        "recoloured": look.render(recoloured),
        "darker": ImageEnhance.Brightness(base).enhance(0.94),
        "jpeg": Image.open(io.BytesIO(buf.getvalue())).convert("RGB"),
    }


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return make_tiny_clip(tmp_path_factory.mktemp("models") / "tiny-clip")


@pytest.fixture(scope="module")
def pool(tmp_path_factory) -> Path:
    """seeds/<DOMAIN>/seed-N.png (kept out of the pool); pool/: each seed's four variants, 20
    unrelated scenes, a duplicate file and a file that is not an image."""
    root = tmp_path_factory.mktemp("pool")
    for s in SEEDS:
        base, changed = variants(s)
        (root / "seeds" / DOMAIN).mkdir(parents=True, exist_ok=True)
        base.save(root / "seeds" / DOMAIN / f"seed-{s}.png")
        for name, img in changed.items():
            (root / "pool" / f"s{s}").mkdir(parents=True, exist_ok=True)
            img.save(root / "pool" / f"s{s}" / f"{name}.png")
    (root / "pool" / "other").mkdir()
    for s in range(100, 120):
        look, objects = scene(s)
        look.render(objects).save(root / "pool" / "other" / f"scene-{s}.png")
    (root / "pool" / "s0" / "z-copy-of-moved.png").write_bytes(
        (root / "pool" / "s0" / "moved.png").read_bytes()
    )
    (root / "pool" / "notes.txt").write_text("not an image")
    return root


def counted(embedder):
    calls = []
    forward = embedder.model.get_image_features
    embedder.model.get_image_features = lambda **kw: (
        calls.append(kw["pixel_values"].shape[0]) or forward(**kw)
    )
    return calls


def planted(path: Path | None) -> str | None:
    """Which seed a pool file was made from, or None for an unrelated scene."""
    return path.parent.name if path is not None and path.parent.name.startswith("s") else None


@pytest.fixture(scope="module")
def built(tiny, pool, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("index") / "pool-index"
    embedder = load_embedder(tiny, cache=out / "embeddings.db", batch_size=8)
    calls = counted(embedder)
    report = build_index([pool / "pool"], out, embedder=embedder)
    assert report.count == 6 * 4 + 20 and report.duplicates == 1
    # the copy is one row; embedded twice at most (it came in the batch of its original)
    assert report.embedded == sum(calls) and report.embedded + report.cached == 45 and report.embedded >= 44
    assert [r for r, _ in report.refused] == ["notes.txt"]
    assert report.meta["kind"] == "exact" and report.meta["model"]["fingerprint"] == embedder.fingerprint
    return out


def test_planted_neighbours_rank_above_unrelated_scenes(tiny, pool, built):
    index = VectorIndex(built)
    embedder = load_embedder(tiny)
    seeds = sorted((pool / "seeds" / DOMAIN).iterdir())
    hits = index.search(embedder.embed_images(seeds), k=len(VARIANTS))
    for seed, top in zip(seeds, hits, strict=True):
        s = seed.stem.split("-")[1]
        assert {planted(h.path) for h in top} == {f"s{s}"}, (seed.name, [(h.ref, h.score) for h in top])
        assert sorted(h.path.stem for h in top) == sorted(VARIANTS)
        assert [h.score for h in top] == sorted((h.score for h in top), reverse=True)


def test_min_similarity_drops_the_unrelated_scenes(tiny, pool, built, capsys):
    main(["retrieve", str(built), "--seed-images", str(pool / "seeds"), "--k", "50", "--json"])
    every = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert len(every) == 6 * 44  # without a floor, k=50 returns the whole pool for each seed
    main(
        [
            "retrieve",
            str(built),
            "--seed-images",
            str(pool / "seeds"),
            "--k",
            "50",
            "--min-similarity",
            "0.97",
            "--json",
        ]
    )
    kept = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    by_seed: dict[str, list[str]] = {}
    for row in kept:
        assert row["score"] >= 0.97
        seed = Path(row["query"]).stem.split("-")[1]
        assert planted(Path(row["path"])) == f"s{seed}", row  # nothing unrelated passes the floor
        by_seed.setdefault(seed, []).append(Path(row["path"]).stem)
    assert sorted(by_seed) == [str(s) for s in SEEDS]
    assert all(len(v) >= 3 for v in by_seed.values()), by_seed  # most planted neighbours pass


def test_building_again_embeds_nothing(tiny, pool, built, capsys):
    before = (built / "vectors.f32").read_bytes()
    embedder = load_embedder(tiny, cache=built / "embeddings.db")
    calls = counted(embedder)
    report = build_index([pool / "pool"], built, embedder=embedder)
    assert calls == [] and report.embedded == 0 and report.cached == 45 and report.count == 44
    assert (built / "vectors.f32").read_bytes() == before
    # the CLI loads the model the index records and says so
    main(["index", "build", str(pool / "pool"), "--out", str(built)])
    assert "0 embedded, 45 from the cache" in capsys.readouterr().err


def test_text_queries_and_the_cli_listing(tiny, built, capsys):
    main(["retrieve", str(built), "--text", "red circles", "--text", "a blue star", "--k", "3"])
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "text:red circles: 3 neighbours" and out[4] == "text:a blue star: 3 neighbours"
    assert all(line.startswith("  ") and line.strip().split()[1].endswith(".png") for line in out[1:4])


def test_a_query_with_another_model_is_refused(tiny, built, tmp_path):
    other = make_tiny_clip(tmp_path / "other", seed=5)
    with pytest.raises(EmbedError, match="built with .* query with the index's model"):
        from visinstruct.embed.retrieve import open_for_queries

        open_for_queries(built, str(other))


def test_a_hand_edited_item_path_cannot_leave_its_folder(built, tmp_path):
    import shutil

    copy = tmp_path / "edited"
    shutil.copytree(built, copy)
    lines = (copy / "items.jsonl").read_text().splitlines()
    row = json.loads(lines[0])
    row["path"] = "../../../../../../etc/passwd"
    (copy / "items.jsonl").write_text("\n".join([json.dumps(row), *lines[1:]]) + "\n")
    index = VectorIndex(copy)
    assert index.path_of(index.items()[0]) is None
    assert index.path_of(index.items()[1]) is not None


def test_ivf_above_the_threshold_is_tuned_to_the_recall_target(tmp_path):
    """5,000 vectors in 50 clusters, exact search only up to 1,000 rows: an IVF index whose
    nprobe reaches recall@50 of 0.95 on its own vectors, and scores that are exact cosines."""
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((50, 64)).astype(np.float32)
    x = centres[rng.integers(0, 50, 5000)] + 0.6 * rng.standard_normal((5000, 64)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    folder = tmp_path / "ivf"
    folder.mkdir()
    x.tofile(folder / "vectors.f32")
    (folder / "items.jsonl").write_text(
        "".join(json.dumps({"id": f"{i:064x}", "root": 0, "path": f"{i}.png"}) + "\n" for i in range(5000))
    )
    meta = write_index(folder, {"name": "random", "dim": 64}, x, ["."], [], exact_below=1000)
    assert meta["kind"] == "ivf" and meta["tuned_recall"] >= 0.95 and 1 <= meta["nprobe"] <= meta["nlist"]
    index = VectorIndex(folder)
    q = x[rng.choice(5000, 100, replace=False)] + 0.05 * rng.standard_normal((100, 64)).astype(np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    hits = index.search(q, 50)
    truth_scores, truth = exact_search(x, q, 50)
    found = np.array([[h.row for h in row] for row in hits])
    assert recall_at(found, truth) >= 0.9
    for row, hs in zip(q, hits, strict=True):
        assert np.allclose([h.score for h in hs], x[[h.row for h in hs]] @ row, atol=1e-5)
    exact_hits = index.search(q, 50, exact=True)
    assert [[h.row for h in r] for r in exact_hits] == truth.tolist()


def test_a_retrieve_source_brings_the_neighbours_into_a_run(
    tiny, pool, built, tmp_path, fake_openai, monkeypatch
):
    monkeypatch.setenv("VISINSTRUCT_TEST_KEY", "sk-test")
    endpoint = {"base_url": fake_openai.base_url, "provider": "vllm", "api_key_env": "VISINSTRUCT_TEST_KEY"}
    recipe = {
        "name": "retrieved",
        "types": ["short_vqa"],
        "sources": [
            {"retrieve": {"index": str(built), "seeds": str(pool / "seeds"), "k": 4, "min_similarity": 0.5}}
        ],
        "endpoints": {"vlm": {"model": "fake-vlm", **endpoint}, "llm": {"model": "fake-model", **endpoint}},
        "caption": {"endpoint": "vlm"},
        "instructions": {"endpoint": "llm"},
    }
    summary = run_recipe(parse_recipe(recipe), tmp_path / "run", workers=1)
    assert summary.stages["images"].done == 24
    with RunStore(tmp_path / "run", create=False) as store:
        inputs = list(store.iter_inputs())
        assert len(inputs) == 24 and len({i[2] for i in inputs}) == 24  # each neighbour once
        for _, ref, image_id, domain in inputs:
            prov = store.image(image_id).provenance
            assert ref == f"retrieve:{image_id}" and domain == DOMAIN
            assert prov["source"] == "retrieve" and prov["indexed_from"] == "folder"
            seed = Path(prov["seed"]).stem.split("-")[1]
            assert prov["indexed_as"].startswith(f"s{seed}/") and 0.5 <= prov["score"] <= 1.0
            assert prov["rank"] in range(4) and prov["model"] == str(tiny)


def test_a_retrieve_source_is_checked_like_the_rest_of_the_recipe():
    base = {"sources": [{"retrieve": {"index": "i", "seeds": "s", "texts": ["x"]}}]}
    with pytest.raises(
        RecipeError, match=r"sources\.0\.retrieve: .*give exactly one of seeds, texts, domains"
    ):
        parse_recipe(base)
    with pytest.raises(RecipeError, match=r"sources\.0: .*give exactly one of folder"):
        parse_recipe({"sources": [{"folder": "f", "retrieve": {"index": "i", "seeds": "s"}}]})
    with pytest.raises(RecipeError, match=r"min_similarity"):
        parse_recipe({"sources": [{"retrieve": {"index": "i", "seeds": "s", "min_similarity": 2}}]})


def test_domain_descriptions_and_texts_query_the_index(built):
    from visinstruct.domains import builtin_domains
    from visinstruct.embed.retrieve import retrieved_items
    from visinstruct.recipe import RetrieveSpec

    spec = RetrieveSpec(index=str(built), domains=["landmark", "artwork"], k=5)
    items = list(retrieved_items(spec, Path, builtin_domains()))
    assert items and len({i.ref for i in items}) == len(items) <= 10  # each row once
    assert {i.domain for i in items} <= {"landmark", "artwork"}
    assert all(i.provenance["seed"] in ("domain:landmark", "domain:artwork") for i in items)
    assert all(Path(i.path).is_file() and i.error is None for i in items)
    texts = list(retrieved_items(RetrieveSpec(index=str(built), texts=["red"], k=3), Path, {}))
    assert len(texts) == 3 and texts[0].provenance["seed"] == "text:red"
    assert texts[0].domain == Path(texts[0].path).parent.name  # no query domain: the pool folder's
    with pytest.raises(EmbedError, match="unknown domain 'nowhere'"):
        list(retrieved_items(RetrieveSpec(index=str(built), domains=["nowhere"]), Path, builtin_domains()))
