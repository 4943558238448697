"""Several inputs showing one image (manifest lines, dataset rows): each is an input of its own and
keeps its text, while the image is stored once by content and captioned once."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from visinstruct.recipe import parse_recipe
from visinstruct.runner import run_recipe as run
from visinstruct.sources import iter_manifest
from visinstruct.store import RunStore

TEXTS = ["bar B is the tallest", "the axis starts at 10", "three bars are red"]


@pytest.fixture(autouse=True)
def key(monkeypatch):
    monkeypatch.setenv("VISINSTRUCT_TEST_KEY", "sk-test")


def chart(seed: int) -> bytes:
    img = Image.new("RGB", (200, 150), (255, 255, 255))
    d = ImageDraw.Draw(img)
    for i in range(3):
        d.rectangle(
            [20 + i * 60, 140 - (i + seed) * 25 % 120, 60 + i * 60, 140], fill=(200, 30 * i, seed * 40)
        )
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def recipe(server, source: dict) -> dict:
    endpoint = {"base_url": server.base_url, "provider": "vllm", "api_key_env": "VISINSTRUCT_TEST_KEY"}
    return {
        "name": "shared",
        "seed": 3,
        "languages": ["en"],
        "types": ["short_vqa"],
        "sources": [{**source, "domain": "structuralized_imagetext_understanding"}],
        "endpoints": {"vlm": {"model": "fake-vlm", **endpoint}, "llm": {"model": "fake-model", **endpoint}},
        "caption": {"endpoint": "vlm", "languages": ["en"]},
        "instructions": {"endpoint": "llm"},
    }


def sent(server) -> list[dict]:
    """Every request body the server answers, recorded."""
    bodies: list[dict] = []
    server.reply_hook = lambda body, choice: bodies.append(body)
    return bodies


def user_text(body: dict) -> str:
    out = []
    for m in body["messages"]:
        content = m["content"]
        out += [content] if isinstance(content, str) else [p.get("text", "") for p in content]
    return "\n".join(out)


def check_run(run_dir: Path, bodies: list[dict], shared: bytes, n_inputs: int) -> None:
    """Each of `TEXTS` reached the run by its own input; the shared image is stored and captioned once."""
    import hashlib

    shared_id = hashlib.sha256(shared).hexdigest()
    with RunStore(run_dir, create=False) as store:
        inputs = list(store.iter_inputs())
        n_images = store.db.execute("SELECT COUNT(*) FROM images").fetchone()[0]
        captions = store.db.execute("SELECT image_id, language FROM contexts WHERE kind='caption'").fetchall()
        samples = list(store.iter_samples(["accepted", "review", "rejected", "edited"]))
    assert len(inputs) == n_inputs
    assert sum(image_id == shared_id for _, _, image_id, _ in inputs) == 3, "each line is an input"
    assert n_images == 2, "the shared image is stored once"
    assert sorted(captions) == sorted({(i, "en") for _, _, i, _ in inputs}), "one caption per image"
    caption_requests = [b for b in bodies if b["model"] == "fake-vlm"]
    assert len(caption_requests) == 2, "the shared image is captioned once"
    # each line's text went to the writer of its instructions and is recorded on its samples
    writes = [user_text(b) for b in bodies if b["model"] == "fake-model"]
    for text in TEXTS:
        assert sum(text in w for w in writes) == 1, text
    known = {s.provenance.get("known") for s in samples if shared_id in s.images}
    assert set(TEXTS) <= known
    refs = {s.provenance["source"] for s in samples if shared_id in s.images}
    assert len(refs) == 3, "the samples of each line name their own input"


def test_manifest_lines_sharing_an_image_each_keep_their_text(fake_openai, tmp_path):
    shared, other = chart(1), chart(2)
    (tmp_path / "imgs").mkdir()
    (tmp_path / "imgs" / "bars.png").write_bytes(shared)
    (tmp_path / "imgs" / "copy.png").write_bytes(shared)  # the same image under another name
    (tmp_path / "imgs" / "other.png").write_bytes(other)
    lines = [
        {"path": "imgs/bars.png", "text": TEXTS[0]},
        {"path": "imgs/other.png", "text": "a single bar"},
        {"path": "imgs/bars.png", "text": TEXTS[1]},
        {"path": "imgs/copy.png", "text": TEXTS[2]},
    ]
    manifest = tmp_path / "charts.jsonl"
    manifest.write_text("".join(json.dumps(x) + "\n" for x in lines))
    items = list(iter_manifest(manifest))
    assert [i.ref for i in items] == ["imgs/bars.png", "imgs/other.png", "imgs/bars.png#3", "imgs/copy.png"]
    assert [i.known_text for i in items] == [TEXTS[0], "a single bar", TEXTS[1], TEXTS[2]]

    bodies = sent(fake_openai)
    rec = parse_recipe(recipe(fake_openai, {"manifest": str(manifest)}))
    summary = run(rec, tmp_path / "run", workers=1)
    assert summary.stages["images"].done == 4 and summary.stages["instructions"].failed == 0
    check_run(tmp_path / "run", bodies, shared, 4)

    # a second run has everything: nothing is sent, nothing changes
    fake_openai.reset()
    again = run(rec, tmp_path / "run", workers=1)
    assert fake_openai.requests == 0 and again.samples == summary.samples


def test_hf_rows_sharing_an_image_each_keep_their_text(fake_openai, tmp_path):
    datasets = pytest.importorskip("datasets")
    shared, other = chart(3), chart(4)
    ds = datasets.Dataset.from_dict(
        {
            "image": [{"bytes": b, "path": None} for b in (shared, shared, other, shared)],
            "note": [TEXTS[0], TEXTS[1], "a single bar", TEXTS[2]],
        }
    ).cast_column("image", datasets.Image())
    ds.save_to_disk(str(tmp_path / "saved"))

    bodies = sent(fake_openai)
    rec = parse_recipe(recipe(fake_openai, {"hf": str(tmp_path / "saved"), "text_column": "note"}))
    summary = run(rec, tmp_path / "run", workers=2)
    assert summary.stages["images"].done == 4 and summary.stages["instructions"].failed == 0
    check_run(tmp_path / "run", bodies, shared, 4)
