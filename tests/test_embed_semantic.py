"""The recipe's embedder in the gate and in domain assignment, with a tiny CLIP: semantic
near-duplicate images (the same scene with small changes that the perceptual hash misses) go to
review and unrelated scenes do not; zero-shot domains are the domain texts nearest each image's
embedding, assigned without a model request; both need `embed:`."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

pytest.importorskip("torch")
pytest.importorskip("transformers")

from test_embed_index import scene  # noqa: E402
from tiny_clip import make_tiny_clip  # noqa: E402

from visinstruct.checks.dedup import ImageDeduper  # noqa: E402
from visinstruct.checks.semantic import SemanticDeduper, semantic_duplicate_image  # noqa: E402
from visinstruct.domains import builtin_domains  # noqa: E402
from visinstruct.embed import load_embedder  # noqa: E402
from visinstruct.embed.model import Embedder  # noqa: E402
from visinstruct.errors import RecipeError  # noqa: E402
from visinstruct.recipe import parse_recipe  # noqa: E402
from visinstruct.runner import run_recipe  # noqa: E402
from visinstruct.store import RunStore  # noqa: E402

THRESHOLD = 0.95
DOMAIN = "image_scene"  # the folder's sub-folder: the planted images' source domain
# unrelated scenes; 103 is left out: for this untrained model it embeds within 0.97 of scene 5
UNRELATED = (100, 101, 102, 104, 105, 106, 107, 108)
ASSIGN_SYSTEM = "You sort images into domains"  # the assign_domain prompt's system text


def recoloured(objects: list[dict], which: slice) -> list[dict]:
    out = [dict(o) for o in objects]
    for o in out[which]:
        o["color"] = "red" if o["color"] != "red" else "blue"
    return out


def planted_images() -> dict[str, object]:
    """file name → image: three scenes, each followed by small changes of it (objects
    recoloured, every object shifted right, the frame cropped by 5%), then unrelated scenes."""
    out: dict[str, object] = {}
    for seed, changes in ((0, ["recoloured2"]), (3, ["recoloured"]), (5, ["shifted", "cropped"])):
        look, objects = scene(seed)
        base = look.render(objects)
        out[f"s{seed}-0.png"] = base
        w, h = base.size
        for n, change in enumerate(changes, 1):
            if change == "recoloured":
                img = look.render(recoloured(objects, slice(-1, None)))
            elif change == "recoloured2":
                img = look.render(recoloured(objects, slice(0, 2)))
            elif change == "shifted":
                img = look.render([{**o, "x": o["x"] + w // 12} for o in objects])
            else:
                c = int(min(w, h) * 0.05)
                img = base.crop((c, c, w - c, h - c)).resize((w, h))
            out[f"s{seed}-{n}-{change}.png"] = img
    for seed in UNRELATED:
        look, objects = scene(seed)
        out[f"u{seed}.png"] = look.render(objects)
    return out


def original_of(name: str) -> str | None:
    """The planted original a file near-copies, or None."""
    return None if name.startswith("u") or name.endswith("-0.png") else name.split("-")[0] + "-0.png"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return make_tiny_clip(tmp_path_factory.mktemp("models") / "tiny-clip")


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("images")
    (root / DOMAIN).mkdir()
    for name, img in planted_images().items():
        img.save(root / DOMAIN / name)
    return root


def image_id(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def recipe_for(server, images: Path, model: Path | None, **extra) -> dict:
    endpoint = {"base_url": server.base_url, "provider": "vllm", "api_key_env": "VISINSTRUCT_TEST_KEY"}
    data = {
        "name": "semantic",
        "types": ["short_vqa"],
        "sources": [{"folder": str(images)}],
        "endpoints": {"vlm": {"model": "fake-vlm", **endpoint}, "llm": {"model": "fake-model", **endpoint}},
        "caption": {"endpoint": "vlm"},
        "instructions": {"endpoint": "llm"},
        **extra,
    }
    if model is not None:
        data["embed"] = {"model": str(model), "batch_size": 4}
    return data


def checks_by_file(run: Path, folder: Path, name: str) -> dict[str, list[dict]]:
    """file name → the results of check `name` on the samples of that image."""
    ids = {image_id(p): p.name for p in (folder / DOMAIN).iterdir()}
    out: dict[str, list[dict]] = {}
    with RunStore(run, create=False) as store:
        for s in store.iter_samples():
            for i in s.images:
                if name in s.checks:
                    out.setdefault(ids[i], []).append(s.checks[name])
    return out


# -- the deduper ------------------------------------------------------------------------------
def unit_rows(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    v = rng.normal(size=(n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


@pytest.mark.parametrize("exact_below", [10**9, 300])
def test_the_deduper_flags_near_copies_of_earlier_images_exactly_and_through_an_inverted_file(exact_below):
    if exact_below < 10**9:
        pytest.importorskip("faiss")
    rng = np.random.default_rng(0)
    base = unit_rows(rng, 2000, 32)
    near = base[:200] + 0.02 * rng.normal(size=(200, 32)).astype(np.float32)
    near /= np.linalg.norm(near, axis=1, keepdims=True)
    vectors = np.concatenate([base, near, base[:1]])
    ids = [f"b{i}" for i in range(2000)] + [f"n{i}" for i in range(200)] + ["b0"]  # b0 again
    d = SemanticDeduper(32, THRESHOLD, exact_below=exact_below)
    found = []
    for lo in range(0, len(ids), 128):
        found += d.add_batch(ids[lo : lo + 128], vectors[lo : lo + 128])
    assert d.approximate == (exact_below < 10**9)
    assert all(of is None for of, _ in found[:2000])  # random directions: no two within 0.95
    for i, (of, sim) in enumerate(found[2000:2200]):
        assert of == f"b{i}" and sim == pytest.approx(float(near[i] @ base[i]), abs=1e-5)
    assert found[-1] == (None, 0.0)  # the same image again is not a copy of itself
    # inside one batch: a copy right after its original
    d2 = SemanticDeduper(32, THRESHOLD)
    assert [of for of, _ in d2.add_batch(["x", "y", "z"], np.stack([base[0], base[1], near[0]]))] == [
        None,
        None,
        "x",
    ]


def test_the_result_has_the_shape_of_the_other_image_dedup_checks():
    assert semantic_duplicate_image("a", None, 0.0) == {"semantic_duplicate_image": {"pass": True}}
    r = semantic_duplicate_image("b" * 64, "a" * 64, 0.97312)["semantic_duplicate_image"]
    assert r["pass"] is False and r["severity"] == "review" and r["of"] == "a" * 64
    assert r["image"] == "b" * 64 and r["similarity"] == 0.9731 and "0.973" in r["reason"]


# -- in a run -----------------------------------------------------------------------------------
def test_the_planted_changes_are_missed_by_the_perceptual_hash_and_close_by_embedding(tiny, folder):
    """The premise of the run below, measured directly: every planted change is farther than
    the perceptual-hash distance from its original and within the threshold by embedding; no
    two other images are within the threshold."""
    files = sorted((folder / DOMAIN).iterdir())
    hashes = {p.name: ImageDeduper().phash(p) for p in files}
    vectors = dict(zip([p.name for p in files], load_embedder(tiny).embed_images(files), strict=True))
    for name in hashes:
        of = original_of(name)
        if of is not None:
            assert (hashes[name] ^ hashes[of]).bit_count() > 4, name  # image_distance: 4
            assert float(vectors[name] @ vectors[of]) >= THRESHOLD, name
    names = list(vectors)
    for i, a in enumerate(names):
        for b in names[:i]:
            if (original_of(a) or a) != (original_of(b) or b):  # not copies of one scene
                assert float(vectors[a] @ vectors[b]) < THRESHOLD, (a, b)


def test_semantic_near_duplicates_go_to_review_and_a_rerun_embeds_nothing(
    tiny, folder, tmp_path, fake_openai, monkeypatch
):
    monkeypatch.setenv("VISINSTRUCT_TEST_KEY", "sk-test")
    checks = {"semantic_dedup": True, "semantic_threshold": THRESHOLD}
    recipe = parse_recipe(recipe_for(fake_openai, folder, tiny, checks=checks))
    run_recipe(recipe, tmp_path / "run", workers=1)
    semantic = checks_by_file(tmp_path / "run", folder, "semantic_duplicate_image")
    phash = checks_by_file(tmp_path / "run", folder, "near_duplicate_image")
    assert set(semantic) == {p.name for p in (folder / DOMAIN).iterdir()}  # every image's samples
    for name, results in semantic.items():
        of = original_of(name)
        for r in results:
            if of is None:
                assert r == {"pass": True}, name
            else:
                assert r["pass"] is False and r["severity"] == "review", name
                assert r["of"] == image_id(folder / DOMAIN / of) and THRESHOLD <= r["similarity"] <= 1
        assert all(p["pass"] for p in phash[name]), name  # the perceptual hash misses them
    with RunStore(tmp_path / "run", create=False) as store:
        flagged = [s for s in store.iter_samples() if s.checks["semantic_duplicate_image"]["pass"] is False]
        assert flagged and all(s.status == "needs_review" for s in flagged)

    forward = []
    original = Embedder._image_forward
    monkeypatch.setattr(
        Embedder, "_image_forward", lambda self, px: forward.append(len(px)) or original(self, px)
    )
    run_recipe(recipe, tmp_path / "run", workers=1)
    assert forward == []  # every vector came from the run's embedding cache
    assert checks_by_file(tmp_path / "run", folder, "semantic_duplicate_image") == semantic


def test_without_the_option_nothing_is_compared_by_embedding(
    tiny, folder, tmp_path, fake_openai, monkeypatch
):
    monkeypatch.setenv("VISINSTRUCT_TEST_KEY", "sk-test")
    run_recipe(parse_recipe(recipe_for(fake_openai, folder, tiny)), tmp_path / "run", workers=1)
    assert checks_by_file(tmp_path / "run", folder, "semantic_duplicate_image") == {}
    assert checks_by_file(tmp_path / "run", folder, "near_duplicate_image")  # the pHash check ran
    assert not (tmp_path / "run" / "embeddings.db").exists()  # the model was never loaded


def test_semantic_dedup_and_zero_shot_domains_need_an_embed_section(fake_openai, folder):
    with pytest.raises(
        RecipeError, match=r"checks\.semantic_dedup compares images by embedding: add an `embed:`"
    ):
        parse_recipe(recipe_for(fake_openai, folder, None, checks={"semantic_dedup": True}))
    for shape in ("zero_shot", {"method": "zero_shot", "domains": ["ocr"]}):
        with pytest.raises(RecipeError, match=r"assign_domains: zero_shot .* add an `embed:` section"):
            parse_recipe(recipe_for(fake_openai, folder, None, assign_domains=shape))
    with pytest.raises(RecipeError, match=r"semantic_threshold"):
        parse_recipe(recipe_for(fake_openai, folder, Path("m"), checks={"semantic_threshold": 1.5}))
    with pytest.raises(RecipeError, match=r"assign_domains"):
        parse_recipe(recipe_for(fake_openai, folder, Path("m"), assign_domains="embedding"))


# -- zero-shot domains ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def flat(folder, tmp_path_factory) -> Path:
    """The same images with no domain folder: the run assigns their domains."""
    root = tmp_path_factory.mktemp("flat")
    for p in sorted((folder / DOMAIN).iterdir())[:8]:
        shutil.copyfile(p, root / p.name)
    return root


def assigned(run: Path) -> dict[str, tuple[str, dict]]:
    """image id → (domain, how it was assigned)."""
    with RunStore(run, create=False) as store:
        return {
            image_id: store.contexts_of(image_id, "domain")[""]
            for _seq, _ref, image_id, _domain in store.iter_inputs()
        }


def domain_requests(server) -> list:
    bodies: list = []

    def hook(body, choice):
        if ASSIGN_SYSTEM in str(body.get("messages", [{}])[0].get("content", "")):
            bodies.append(body)

    server.reply_hook = hook
    return bodies


def test_zero_shot_domains_are_deterministic_and_ask_no_model(tiny, flat, tmp_path, fake_openai, monkeypatch):
    monkeypatch.setenv("VISINSTRUCT_TEST_KEY", "sk-test")
    asked = domain_requests(fake_openai)
    llm = parse_recipe(recipe_for(fake_openai, flat, tiny))
    run_recipe(llm, tmp_path / "llm", workers=1)
    assert len(asked) == 8  # the LLM path: one request an image
    asked.clear()
    recipe = parse_recipe(recipe_for(fake_openai, flat, tiny, assign_domains="zero_shot"))
    run_recipe(recipe, tmp_path / "a", workers=1)
    run_recipe(recipe, tmp_path / "b", workers=1)
    assert asked == []
    a, b = assigned(tmp_path / "a"), assigned(tmp_path / "b")
    assert a == b and len(a) == 8
    catalog = builtin_domains()
    for domain, meta in a.values():
        assert domain in catalog and meta["method"] == "zero_shot" and meta["model"] == str(tiny)
        assert meta["prompt"] == "zero_shot_domain@v1" and -1 <= meta["score"] <= 1
        assert meta["runner_up"] in catalog and meta["runner_up_score"] <= meta["score"]
    assert all(meta["method"] == "llm" for _, meta in assigned(tmp_path / "llm").values())
    with RunStore(tmp_path / "a", create=False) as store:  # the samples carry the domain
        samples = list(store.iter_samples())
        assert samples and all(s.domain == a[s.images[0]][0] for s in samples)


CANDIDATES = [
    "red circles on a pale ground",
    "a blue square and a green triangle",
    "many small shapes scattered everywhere",
    "one large object in the middle",
    "stripes and outlines",
    "a dark crowded picture",
]


def test_each_image_gets_the_domain_whose_text_is_nearest_its_embedding(
    tiny, flat, tmp_path, fake_openai, monkeypatch
):
    """Two domains of our own, the prompt reduced to the description: the expected domain of
    each image is computed here with the embedder, and the two domains must both be used (a
    wiring that picked the first domain, or the wrong one, fails)."""
    monkeypatch.setenv("VISINSTRUCT_TEST_KEY", "sk-test")
    embedder = load_embedder(tiny)
    files = sorted(flat.iterdir())
    images = embedder.embed_images(files)
    texts = embedder.embed_texts(CANDIDATES)
    pair = None
    for i in range(len(CANDIDATES)):
        for j in range(i + 1, len(CANDIDATES)):
            pick = np.argmax(images @ texts[[i, j]].T, axis=1)
            if 0 < pick.sum() < len(files) and np.min(np.abs(images @ (texts[i] - texts[j]))) > 1e-3:
                pair = (i, j)
                break
        if pair:
            break
    assert pair is not None, "no two candidate texts split the images"
    domains = tmp_path / "domains"
    domains.mkdir()
    base = builtin_domains()["image_scene"].model_dump(exclude={"source", "name"})
    for name, k in zip(("alpha", "beta"), pair, strict=True):
        d = {**base, "name": name, "description": {"en": CANDIDATES[k], "zh": CANDIDATES[k]}}
        (domains / f"{name}.yaml").write_text(yaml.safe_dump(d, allow_unicode=True), "utf-8")
    prompts = tmp_path / "prompts"
    prompts.mkdir()
    (prompts / "zero_shot_domain.yaml").write_text(
        "id: zero_shot_domain\nversion: 7\ntext:\n  en: '{description}'\n  zh: '{description}'\n", "utf-8"
    )
    spec = {"method": "zero_shot", "domains": ["alpha", "beta"]}
    recipe = parse_recipe(
        recipe_for(
            fake_openai, flat, tiny, assign_domains=spec, domains_dir=[str(domains)], prompts_dir=str(prompts)
        )
    )
    asked = domain_requests(fake_openai)
    run_recipe(recipe, tmp_path / "run", workers=1)
    got = assigned(tmp_path / "run")
    want_vectors = texts[list(pair)]
    for f, v in zip(files, images, strict=True):
        scores = want_vectors @ v
        domain, meta = got[image_id(f)]
        assert domain == ("alpha", "beta")[int(np.argmax(scores))], f.name
        assert meta["score"] == pytest.approx(float(scores.max()), abs=1e-3)
        assert meta["prompt"] == "zero_shot_domain@v7"
    assert {d for d, _ in got.values()} == {"alpha", "beta"} and asked == []

    unknown = recipe_for(
        fake_openai, flat, tiny, assign_domains={"method": "zero_shot", "domains": ["alpha", "nowhere"]},
        domains_dir=[str(domains)],
    )  # fmt: skip
    with pytest.raises(RecipeError, match=r"assign_domains\.domains: 'nowhere' is not in the domain catalog"):
        run_recipe(parse_recipe(unknown), tmp_path / "other", workers=1)


def test_the_estimate_counts_domain_requests_only_when_an_llm_assigns(tiny, flat, fake_openai):
    from visinstruct.stages.estimate import requests

    def stages(**extra) -> list[str]:
        return [r.stage for r in requests(parse_recipe(recipe_for(fake_openai, flat, tiny, **extra)), flat)]

    assert stages().count("assign_domain") == 8
    assert stages(assign_domains="zero_shot").count("assign_domain") == 0
    assert stages(assign_domains=False).count("assign_domain") == 0
    assert stages(assign_domains="zero_shot").count("caption") == 8
