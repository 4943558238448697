"""Sharded exports: Parquet, JSON Lines and WebDataset shards of a set size, read back with the
loaders that read them, the same bytes after a kill and a rerun, and a card that points at them."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml
from PIL import Image

from visinstruct.cli import main
from visinstruct.errors import ExportError, RecipeError
from visinstruct.export import ExportOptions, export
from visinstruct.export import parquet as parquet_format
from visinstruct.export.shards import parse_size, wds_key
from visinstruct.recipe import parse_recipe
from visinstruct.runner import run_recipe
from visinstruct.store import RunStore

ROOT = Path(__file__).resolve().parents[1]
SHARD = 400_000  # bytes: tens of shards from a run of about two thousand samples
SHARDED = {"parquet-shards": "parquet", "jsonl-shards": "jsonl", "webdataset": "tar"}
USABLE = ("accepted", "edited")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A quickstart-style synthetic run with the jsonl export and every sharded one."""
    recipe = {
        "name": "shards",
        "seed": 0,
        "languages": ["en", "zh"],
        "synthetic": {
            d: 40 for d in ("charts", "tables", "geometry", "scenes", "ocr", "clocks", "differences")
        },
        "export": [
            {"format": "jsonl", "out": "data.jsonl"},
            *({"format": f, "out": f, "shard_size": SHARD} for f in SHARDED),
        ],
    }
    path = tmp_path_factory.mktemp("shards") / "run"
    run_recipe(parse_recipe(recipe), path, workers=2)
    return path


def jsonl_ids(run_dir: Path) -> list[str]:
    lines = (run_dir / "exports" / "data.jsonl").read_text("utf-8").splitlines()
    return [json.loads(x)["id"] for x in lines]


def index(folder: Path, fmt: str) -> dict:
    return json.loads((folder / f"train.{SHARDED[fmt]}.shards.json").read_text("utf-8"))


def shard_files(folder: Path, fmt: str) -> list[Path]:
    return sorted(folder.glob(f"train-*.{SHARDED[fmt]}"))


def ids_in(path: Path, fmt: str) -> list[str]:
    if fmt == "parquet-shards":
        return pq.read_table(path, columns=["id"]).column("id").to_pylist()
    if fmt == "jsonl-shards":
        return [json.loads(x)["id"] for x in path.read_text("utf-8").splitlines()]
    with tarfile.open(path) as tar:
        return [json.load(tar.extractfile(m))["id"] for m in tar if m.name.endswith(".json")]


def folder_bytes(folder: Path, fmt: str) -> dict[str, bytes]:
    files = [*shard_files(folder, fmt), folder / f"train.{SHARDED[fmt]}.shards.json"]
    return {p.name: p.read_bytes() for p in files}


@pytest.mark.parametrize("fmt", list(SHARDED))
def test_shards_are_near_their_size_and_hold_the_jsonl_rows_in_order(run_dir, fmt):
    folder = run_dir / "exports" / fmt
    files = shard_files(folder, fmt)
    idx = index(folder, fmt)
    assert idx["complete"] is True and idx["format"] == fmt and idx["shard_size"] == SHARD
    assert [s["file"] for s in idx["shards"]] == [p.name for p in files]  # the glob is the export
    assert len(files) >= 4
    for p in files[:-1]:
        assert 0.9 * SHARD <= p.stat().st_size <= 1.1 * SHARD, (p.name, p.stat().st_size)
    assert files[-1].stat().st_size <= 1.1 * SHARD
    ids: list[str] = []
    for p, entry in zip(files, idx["shards"], strict=True):
        got = ids_in(p, fmt)
        assert entry["rows"] == len(got) and entry["bytes"] == p.stat().st_size
        assert entry["sha256"] == hashlib.sha256(p.read_bytes()).hexdigest()
        assert (entry["first_id"], entry["last_id"]) == (got[0], got[-1])
        ids += got
    assert ids == jsonl_ids(run_dir)
    assert idx["rows"] == len(ids)


def test_parquet_shards_load_with_datasets_and_decode_images(run_dir, tmp_path):
    datasets = pytest.importorskip("datasets")
    folder = run_dir / "exports" / "parquet-shards"
    first = shard_files(folder, "parquet-shards")[0]
    # the columns and `huggingface` metadata of the single-file Parquet export
    got, want = pq.read_schema(first), parquet_format.schema()
    assert got.names == want.names and got.metadata[b"huggingface"] == want.metadata[b"huggingface"]
    ds = datasets.load_dataset(
        "parquet", data_files=str(folder / "train-*.parquet"), split="train", cache_dir=str(tmp_path / "hf")
    )
    assert ds["id"] == jsonl_ids(run_dir)
    for i in (0, len(ds) // 2, len(ds) - 1):
        row = ds[i]
        assert row["images"] and all(isinstance(im, Image.Image) and im.size[0] > 0 for im in row["images"])
        assert len(row["images"]) == len(row["image_ids"])


def test_webdataset_yields_every_sample_with_its_images_and_record(run_dir):
    wds = pytest.importorskip("webdataset")
    folder = run_dir / "exports" / "webdataset"
    urls = [str(p) for p in shard_files(folder, "webdataset")]
    path = run_dir / "exports" / "data.jsonl"
    records = {json.loads(x)["id"]: json.loads(x) for x in path.open(encoding="utf-8")}
    seen, multi = [], 0
    for sample in wds.WebDataset(urls, shardshuffle=False).decode():  # bytes stay bytes, json is read
        rec = sample["json"]
        assert sample["__key__"] == wds_key(rec["id"])
        assert rec["image_ids"] == records[rec["id"]]["image_ids"]
        assert rec["turns"] == records[rec["id"]]["turns"]
        assert len(rec["images"]) == len(rec["image_ids"])
        if len(rec["images"]) > 1:
            multi += 1
            assert [n.split(".")[0] for n in rec["images"]] == [str(i) for i in range(len(rec["images"]))]
        for name, image_id in zip(rec["images"], rec["image_ids"], strict=True):
            assert hashlib.sha256(sample[name]).hexdigest() == image_id  # the stored image, whole
        seen.append(rec["id"])
    assert seen == jsonl_ids(run_dir)
    assert multi > 0  # the differences domain: two images a sample, as 0.png and 1.png
    pil = wds.WebDataset(urls[-2:], shardshuffle=False).decode("pil")
    for sample in itertools.islice(pil, 0, None, 7):  # and they decode as images, one or several
        assert all(isinstance(sample[name], Image.Image) for name in sample["json"]["images"])


def test_webdataset_keys_never_hold_a_dot_or_a_slash():
    assert wds_key("a" * 20) == "a" * 20
    assert wds_key("ds/img.01") == "ds%2Fimg%2E01"
    assert wds_key("图.x") == "%E5%9B%BE%2Ex"
    assert wds_key("a.b") != wds_key("a_b") != wds_key("a%2Eb")


def test_card_points_at_the_parquet_shards(run_dir, tmp_path):
    datasets = pytest.importorskip("datasets")
    card = run_dir / "exports" / "README.md"
    front = yaml.safe_load(card.read_text("utf-8").split("---\n")[1])
    default = front["configs"][0]
    assert default["config_name"] == "parquet-shards" and default["default"] is True
    assert default["data_files"] == [{"split": "train", "path": "parquet-shards/train-*.parquet"}]
    ds = datasets.load_dataset(
        str(card.parent), "parquet-shards", split="train", cache_dir=str(tmp_path / "hf")
    )
    assert len(ds) == len(jsonl_ids(run_dir))
    assert "`webdataset/train-*.tar`" in card.read_text("utf-8")  # listed, loaded by its own builder


KILL_AFTER = """
import os, signal, sys
from pathlib import Path
from visinstruct.export import ExportOptions, export
from visinstruct.store import RunStore

limit = int(sys.argv[4])
store = RunStore(Path(sys.argv[1]), create=False)
samples = store.iter_samples
def dying(*a, **k):
    for n, s in enumerate(samples(*a, **k)):
        if n == limit:
            os.kill(os.getpid(), signal.SIGKILL)  # as a kill -9 would, mid-shard: nothing cleans up
        yield s
store.iter_samples = dying
export(store, sys.argv[2], Path(sys.argv[3]), options=ExportOptions(shard_size={shard}))
"""


@pytest.mark.parametrize("fmt", ["parquet-shards", "webdataset"])
def test_a_killed_export_leaves_whole_shards_and_a_rerun_gives_the_same_bytes(run_dir, tmp_path, fmt):
    fresh = folder_bytes(run_dir / "exports" / fmt, fmt)
    out = tmp_path / fmt
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    rows = index(run_dir / "exports" / fmt, fmt)["shards"]
    limit = sum(s["rows"] for s in rows[:3]) + rows[3]["rows"] // 2  # halfway through the fourth shard
    p = subprocess.run(
        [sys.executable, "-c", KILL_AFTER.format(shard=SHARD), str(run_dir), fmt, str(out), str(limit)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == -9, p.stderr
    left = index(out, fmt)
    assert left["complete"] is False and [s["file"] for s in left["shards"]] == [r["file"] for r in rows[:3]]
    assert [p.name for p in shard_files(out, fmt)] == [r["file"] for r in rows[:3]]  # no partial shard
    for name in (r["file"] for r in rows[:3]):
        assert (out / name).read_bytes() == fresh[name]
    assert any(p.name.endswith(".tmp") for p in out.iterdir())  # what the kill left, under a hidden name
    inodes = {p.name: p.stat().st_ino for p in shard_files(out, fmt)}

    with RunStore(run_dir, create=False) as store:
        res = export(store, fmt, out, options=ExportOptions(shard_size=SHARD))
    assert folder_bytes(out, fmt) == fresh
    assert res.n_samples == len(jsonl_ids(run_dir)) and len(res.shards) == len(rows)
    assert {p.name: p.stat().st_ino for p in shard_files(out, fmt)[:3]} == inodes  # kept, not rewritten
    assert not any(p.name.endswith(".tmp") for p in out.iterdir())


def test_a_rerun_rewrites_from_the_first_changed_shard_and_drops_stale_ones(run_dir, tmp_path):
    from visinstruct.review.db import ReviewDB

    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    fmt, folder = "jsonl-shards", copy / "exports" / "jsonl-shards"  # the same code cuts every format
    rows = index(folder, fmt)["shards"]
    inodes = [p.stat().st_ino for p in shard_files(folder, fmt)]
    victim = ids_in(folder / rows[2]["file"], fmt)[1]  # a sample of the third shard is rejected
    db = ReviewDB(copy)
    try:
        db.act(victim, "reject", db.get(victim)["version"], "ann", reason="wrong")
    finally:
        db.close()
    with RunStore(copy, create=False) as store:
        export(store, fmt, folder, options=ExportOptions(shard_size=SHARD))
        export(store, fmt, tmp_path / "fresh", options=ExportOptions(shard_size=SHARD))
    assert folder_bytes(folder, fmt) == folder_bytes(tmp_path / "fresh", fmt)
    now = [p.stat().st_ino for p in shard_files(folder, fmt)]
    assert now[:2] == inodes[:2] and now[2] != inodes[2]
    assert victim not in ids_in(folder / rows[2]["file"], fmt)

    with RunStore(copy, create=False) as store:  # larger shards: fewer files, the others removed
        res = export(store, fmt, folder, options=ExportOptions(shard_size=SHARD * 4))
    assert [p.name for p in shard_files(folder, fmt)] == [p.name for p in res.shards]
    assert len(res.shards) < len(rows)


@pytest.mark.parametrize("size", ["0", "-5MB", "12 parsecs", "1KB", "MB", ""])
def test_a_bad_shard_size_is_one_clear_line(run_dir, tmp_path, capsys, size):
    args = [
        "export",
        str(run_dir),
        "--format",
        "webdataset",
        "--out",
        str(tmp_path / "x"),
        "--shard-size",
        size,
    ]
    with pytest.raises(SystemExit) as e:
        main(args)
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: shard size") and repr(size) in err[0], err
    assert not (tmp_path / "x").exists()
    export = [{"format": "webdataset", "out": "w", "shard_size": size}]
    with pytest.raises(RecipeError, match="shard size"):
        parse_recipe({"name": "x", "synthetic": {"clocks": 1}, "export": export})


def test_shard_size_units_and_where_it_applies(run_dir, tmp_path):
    assert (
        parse_size("256MB") == 256 * 10**6 and parse_size("1GiB") == 2**30 and parse_size(100_000) == 100_000
    )
    assert parse_size("1.5 mb") == 1_500_000
    with RunStore(run_dir, create=False) as store, pytest.raises(ExportError, match="sharded formats"):
        export(store, "jsonl", tmp_path / "x.jsonl", options=ExportOptions(shard_size="1MB"))
    with pytest.raises(RecipeError, match="shard_size"):
        parse_recipe(
            {
                "name": "x",
                "synthetic": {"clocks": 1},
                "export": [{"format": "llava", "out": "a.json", "shard_size": "1MB"}],
            }
        )
    (tmp_path / "file").write_text("x")
    with RunStore(run_dir, create=False) as store, pytest.raises(ExportError, match="is a file"):
        export(store, "parquet-shards", tmp_path / "file")
