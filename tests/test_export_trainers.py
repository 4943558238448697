"""Exports read the way the trainers read them: LLaVA-1.5's loader, InternVL's meta file, and
image paths that open from any working directory."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image
from test_export import FILE_NAMES, LOADERS, Run, check_images, load_internvl, load_llava

from visinstruct.errors import ExportError, RecipeError
from visinstruct.export import ExportOptions, export
from visinstruct.recipe import parse_recipe

DEFAULT_IMAGE_TOKEN = "<image>"  # llava/constants.py
FILE_FORMATS = ["jsonl", "llava", "sharegpt", "internvl", "dataengine"]


@pytest.fixture
def run(tmp_path: Path):
    r = Run(tmp_path / "run")
    yield r
    r.store.close()


# -- LLaVA-1.5: llava/train/train.py, LazySupervisedDataset.__getitem__ and preprocess_multimodal --


def preprocess_multimodal(sources: list[list[dict]], mm_use_im_start_end: bool = False) -> list[list[dict]]:
    """LLaVA-1.5's own: every `<image>` of a turn folded into one at its start."""
    for source in sources:
        for sentence in source:
            if DEFAULT_IMAGE_TOKEN in sentence["value"]:
                sentence["value"] = sentence["value"].replace(DEFAULT_IMAGE_TOKEN, "").strip()
                sentence["value"] = DEFAULT_IMAGE_TOKEN + "\n" + sentence["value"]
                sentence["value"] = sentence["value"].strip()
            replace_token = DEFAULT_IMAGE_TOKEN
            if mm_use_im_start_end:
                replace_token = "<im_start>" + replace_token + "<im_end>"
            sentence["value"] = sentence["value"].replace(DEFAULT_IMAGE_TOKEN, replace_token)
    return sources


class Llava15Dataset:
    """Shaped like LLaVA-1.5's LazySupervisedDataset: `json.load` of the file, one image a row
    opened at `os.path.join(image_folder, image)`, conversations through preprocess_multimodal."""

    def __init__(self, data_path: Path, image_folder: str) -> None:
        self.list_data_dict = json.load(open(data_path))  # noqa: SIM115 (as LLaVA does)
        self.image_folder = image_folder

    def __len__(self) -> int:
        return len(self.list_data_dict)

    def __getitem__(self, i: int) -> dict:
        sources = [self.list_data_dict[i]]
        if "image" in sources[0]:
            image_file = self.list_data_dict[i]["image"]
            image = Image.open(os.path.join(self.image_folder, image_file)).convert("RGB")
            sources = preprocess_multimodal(copy.deepcopy([e["conversations"] for e in sources]))
            return {"image": image, "conversations": sources[0]}
        return {"conversations": copy.deepcopy(sources[0]["conversations"])}


def next_preprocess_multimodal(sources: list[list[dict]]) -> list[list[dict]]:
    """LLaVA-NeXT's (llava/train/train.py): a lone `<image>` moved to the front, several left as they are."""
    for source in sources:
        for sentence in source:
            num_im = sentence["value"].count(DEFAULT_IMAGE_TOKEN)
            if num_im == 1 and not sentence["value"].startswith(DEFAULT_IMAGE_TOKEN):
                sentence["value"] = sentence["value"].replace(DEFAULT_IMAGE_TOKEN, "").strip()
                sentence["value"] = (DEFAULT_IMAGE_TOKEN + "\n" + sentence["value"]).strip()
    return sources


def next_getitem(row: dict, image_folder: str) -> tuple[list[Image.Image], list[dict]]:
    """LLaVA-NeXT's LazySupervisedDataset.__getitem__: `image` a path or a list of paths."""
    files = row["image"] if type(row["image"]) is list else [row["image"]]
    images = [Image.open(os.path.join(image_folder, f)).convert("RGB") for f in files]
    return images, next_preprocess_multimodal(copy.deepcopy([row["conversations"]]))[0]


def test_llava15_loader_fails_on_a_multi_image_row(run: Run, tmp_path: Path) -> None:
    """What --single-image is for: the loader cannot open a row whose `image` is a list."""
    out = tmp_path / "exports" / "llava.json"
    export(run.store, "llava", out)
    ds = Llava15Dataset(out, str(out.parent))
    two = [i for i, row in enumerate(ds.list_data_dict) if isinstance(row["image"], list)]
    assert two
    with pytest.raises(TypeError):
        ds[two[0]]


@pytest.mark.parametrize("absolute", [False, True])
def test_llava_single_image_loads_through_llava15(run: Run, tmp_path: Path, absolute: bool) -> None:
    out = tmp_path / "exports" / "llava.json"
    summary = export(
        run.store, "llava", out, options=ExportOptions(single_image=True, absolute_paths=absolute)
    )
    multi = tmp_path / "exports" / "llava_multi_image.json"
    single_ids = [i for i in run.ids() if len(run.by_id[i].images) == 1]
    assert summary.n_samples == len(single_ids)
    assert "caption" in {run.by_id[i].type for i in single_ids}  # caption rows load like the others
    assert summary.set_aside == 1 and summary.files == (multi,)

    ds = Llava15Dataset(out, str(out.parent))
    assert [row["id"] for row in ds.list_data_dict] == single_ids
    for i, row in enumerate(ds.list_data_dict):
        assert isinstance(row["image"], str)
        item = ds[i]
        sample = run.by_id[row["id"]]
        with open(os.path.join(str(out.parent), row["image"]), "rb") as f:
            assert hashlib.sha256(f.read()).hexdigest() == sample.images[0]
        assert item["image"].size == run.sizes[sample.images[0]]
        conv = item["conversations"]
        # one image, one <image> token, and preprocess_multimodal leaves the row as written
        assert sum(c["value"].count(DEFAULT_IMAGE_TOKEN) for c in conv) == 1
        assert conv == row["conversations"]
        assert conv[0]["value"] == f"{DEFAULT_IMAGE_TOKEN}\n{sample.turns[0].question}"
        assert [c["value"] for c in conv[1::2]] == [t.answer for t in sample.turns]

    # the rows with several images, in the LLaVA-NeXT / OneVision layout
    got = load_llava(multi, tmp_path)
    assert list(got) == ["long-en-2img"]
    check_images(run, run.by_id["long-en-2img"], got["long-en-2img"]["images"])
    [row] = json.loads(multi.read_text("utf-8"))
    ims, conv = next_getitem(row, str(out.parent))
    assert [im.size for im in ims] == [run.sizes[i] for i in run.by_id["long-en-2img"].images]
    assert sum(c["value"].count(DEFAULT_IMAGE_TOKEN) for c in conv) == len(ims) == 2


def test_single_image_is_a_llava_option(run: Run, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="llava option"):
        export(run.store, "sharegpt", tmp_path / "x.json", options=ExportOptions(single_image=True))
    assert not (tmp_path / "x.json").exists()


# -- InternVL: internvl_chat/internvl/train/internvl_chat_finetune.py, --meta_path -------------


def read_internvl_meta(meta_path: Path) -> list[tuple[str, list[dict], str]]:
    """As build_datasets and LazySupervisedDataset do: each entry's annotation opened as given
    (from the working directory), its rows read a line each, images at os.path.join(root, image)."""
    out = []
    ds_collections = json.loads(open(meta_path).read())  # noqa: SIM115
    for ds_name in ds_collections:
        meta = ds_collections[ds_name]
        assert meta["annotation"].endswith("jsonl")
        assert meta["repeat_time"] == 1 and meta["data_augment"] is False
        with open(meta["annotation"]) as f:
            raw_data = f.readlines()
        out.append((ds_name, [json.loads(line) for line in raw_data], meta["root"]))
    return out


@pytest.mark.parametrize("absolute", [False, True])
def test_internvl_meta_file(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, absolute: bool
) -> None:
    out = tmp_path / "exports" / "internvl" / "train.jsonl"
    summary = export(run.store, "internvl", out, options=ExportOptions(absolute_paths=absolute))
    meta_path = out.parent / "train_meta.json"
    assert summary.files == (meta_path,)
    meta = json.loads(meta_path.read_text("utf-8"))
    assert list(meta) == ["train"]
    assert meta["train"]["length"] == len(run.ids()) == len(out.read_text("utf-8").splitlines())
    assert set(meta["train"]) == {"root", "annotation", "data_augment", "repeat_time", "length"}

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # InternVL opens the annotation from where it is started
    [(name, rows, root)] = read_internvl_meta(meta_path)
    assert name == "train"
    assert [r["id"] for r in rows] == run.ids()
    for row in rows:
        paths = [row["image"]] if isinstance(row["image"], str) else row["image"]
        assert all(os.path.isabs(p) == absolute for p in paths)
        sample = run.by_id[row["id"]]
        for path, image_id in zip(paths, sample.images, strict=True):
            with open(os.path.join(root, path), "rb") as f:
                assert hashlib.sha256(f.read()).hexdigest() == image_id


def test_internvl_needs_a_jsonl_name(run: Run, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match=r"ends in \.jsonl"):
        export(run.store, "internvl", tmp_path / "out" / "train.json")
    assert not (tmp_path / "out").exists()


# -- absolute paths: rows open from any working directory (ms-swift resolves against the CWD) --


@pytest.mark.parametrize("fmt", FILE_FORMATS)
def test_absolute_paths_open_from_another_directory(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    out = tmp_path / "exports" / FILE_NAMES[fmt]
    export(run.store, fmt, out, options=ExportOptions(absolute_paths=True))
    text = out.read_text("utf-8")
    rows = [json.loads(x) for x in text.splitlines()] if out.suffix == ".jsonl" else json.loads(text)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    n = 0
    for row in rows:
        paths = row.get("images", row.get("image", []))
        paths = [paths] if isinstance(paths, str) else paths
        ids = row.get("image_ids") or run.by_id[row["id"]].images
        for path, image_id in zip(paths, ids, strict=True):
            assert os.path.isabs(path)
            with open(path, "rb") as f:  # as a loader does, relative to nothing but the path
                assert hashlib.sha256(f.read()).hexdigest() == image_id
            n += 1
    assert n > len(rows) - 1


@pytest.mark.parametrize("fmt", ["llava", "sharegpt", "internvl", "jsonl"])
def test_relative_paths_by_default(run: Run, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / "exports" / FILE_NAMES[fmt]
    export(run.store, fmt, out)
    got = LOADERS[fmt](out, tmp_path)
    assert got and str(tmp_path) not in out.read_text("utf-8")


def test_internvl_loader_reads_absolute_rows(run: Run, tmp_path: Path) -> None:
    out = tmp_path / "exports" / "internvl.jsonl"
    export(run.store, "internvl", out, options=ExportOptions(absolute_paths=True))
    assert list(load_internvl(out, tmp_path)) == run.ids()


# -- the command line and the recipe ask for the same ----------------------------------------


def test_cli_single_image_and_absolute_paths(run: Run, tmp_path: Path) -> None:
    out = tmp_path / "exports" / "llava.json"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")}
    p = subprocess.run(
        [sys.executable, "-m", "visinstruct.cli", "export", str(run.store.dir), "--format", "llava",
         "--out", str(out), "--single-image", "--absolute-paths"],
        capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    said = " ".join(p.stderr.split())
    assert "1 samples with several images left out" in said
    assert f"→ {out.parent / 'llava_multi_image.json'}" in said
    rows = json.loads(out.read_text("utf-8"))
    assert rows and all(isinstance(r["image"], str) and os.path.isabs(r["image"]) for r in rows)

    bad = subprocess.run(
        [sys.executable, "-m", "visinstruct.cli", "export", str(run.store.dir), "--format", "sharegpt",
         "--out", str(tmp_path / "s.json"), "--single-image"],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert bad.returncode != 0 and "Traceback" not in bad.stderr
    assert "llava option" in bad.stderr


def test_recipe_export_options() -> None:
    def recipe(*exports: dict):
        return parse_recipe({"synthetic": {"clocks": 2}, "export": list(exports)})

    rec = recipe({"format": "llava", "out": "l.json", "single_image": True, "absolute_paths": True})
    assert rec.export[0].single_image and rec.export[0].absolute_paths
    assert not recipe({"format": "llava", "out": "l.json"}).export[0].single_image
    with pytest.raises(RecipeError, match="single_image is a llava option"):
        recipe({"format": "sharegpt", "out": "s.json", "single_image": True})
    with pytest.raises(RecipeError, match="jsonl"):
        recipe({"format": "internvl", "out": "i.json"})


def test_recipe_run_writes_single_image_and_meta_exports(tmp_path: Path) -> None:
    """The recipe's export options reach the files a run writes, and the run says what it set aside."""
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        "name: t\nseed: 0\nsynthetic: {clocks: 2, differences: 2}\nexport:\n"
        "  - {format: llava, out: llava15/train.json, single_image: true, absolute_paths: true}\n"
        "  - {format: internvl, out: internvl/train.jsonl}\n",
        "utf-8",
    )
    run_dir = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")}
    p = subprocess.run(
        [sys.executable, "-m", "visinstruct.cli", "run", str(recipe), "--run-dir", str(run_dir),
         "--workers", "1"],
        capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    ex = run_dir / "exports"
    single = json.loads((ex / "llava15" / "train.json").read_text("utf-8"))
    multi = json.loads((ex / "llava15" / "train_multi_image.json").read_text("utf-8"))
    assert single and multi
    assert all(isinstance(r["image"], str) and os.path.isabs(r["image"]) for r in single)
    assert all(len(r["image"]) == 2 for r in multi)
    said = " ".join(p.stderr.split())
    assert f"{len(multi)} samples with several images left out" in said
    meta = json.loads((ex / "internvl" / "train_meta.json").read_text("utf-8"))
    n = len((ex / "internvl" / "train.jsonl").read_text("utf-8").splitlines())
    assert meta["train"]["length"] == n == len(single) + len(multi)


def test_failed_single_image_export_leaves_neither_file(run: Run, tmp_path: Path) -> None:
    out = tmp_path / "out" / "llava.json"
    run.store.image_path(run.b).unlink()
    with pytest.raises(ExportError, match="missing"):
        export(run.store, "llava", out, options=ExportOptions(single_image=True))
    assert not out.exists() and not (out.parent / "llava_multi_image.json").exists()
    assert not [p for p in (tmp_path / "out").rglob("*") if p.name.endswith(".tmp")]


def swift_check_path(path: str, root_image_dir: str | None) -> str | None:
    """ms-swift's swift/template/vision_utils.py `_check_path`: a path that exists from the working
    directory, else joined to ROOT_IMAGE_DIR when set; None when neither finds a file."""
    if os.path.exists(path):
        return os.path.abspath(path)
    if root_image_dir is not None:
        path = os.path.join(root_image_dir, path)
    path = os.path.abspath(os.path.expanduser(path))
    return path if os.path.exists(path) else None


def test_ms_swift_finds_absolute_paths_without_root_image_dir(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rel_out = tmp_path / "rel" / "train.json"
    abs_out = tmp_path / "abs" / "train.json"
    export(run.store, "sharegpt", rel_out)
    export(run.store, "sharegpt", abs_out, options=ExportOptions(absolute_paths=True))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    rel_paths = [p for row in json.loads(rel_out.read_text("utf-8")) for p in row["images"]]
    abs_paths = [p for row in json.loads(abs_out.read_text("utf-8")) for p in row["images"]]
    assert all(swift_check_path(p, None) is None for p in rel_paths)  # what fails without the option
    assert all(swift_check_path(p, str(rel_out.parent)) for p in rel_paths)
    assert all(swift_check_path(p, None) == p for p in abs_paths)
