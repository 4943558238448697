"""Export formats, each read back with the loader its consumer uses."""

from __future__ import annotations

import hashlib
import io
import json
import random
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from PIL import Image

from visinstruct.captions.requests import bundled_pool
from visinstruct.captions.samples import caption_sample, draw_request
from visinstruct.errors import ExportError
from visinstruct.export import FORMATS, ExportSummary, export
from visinstruct.export import parquet as parquet_format
from visinstruct.export.dataengine import split_stem
from visinstruct.records import ImageRecord, Sample, Turn
from visinstruct.store import RunStore, write_image_file

FILE_NAMES = {
    "jsonl": "data.jsonl",
    "llava": "llava.json",
    "sharegpt": "train.json",
    "internvl": "internvl.jsonl",
    "parquet": "data.parquet",
    "dataengine": "dataengine.json",
}
CHAT_FORMATS = ["jsonl", "llava", "sharegpt", "internvl", "parquet"]
TEXT_FORMATS = [f for f in FILE_NAMES if f != "parquet"]
MC_EN_QUESTION = (
    "What time does the clock show?\nA. 3:00\nB. 4:15\nC. 5:30\nD. 6:45\n"
    "Answer with the option's letter from the given choices directly."
)
MC_ZH_QUESTION = "图中钟表显示的是几点？\nA. 三点\nB. 四点\nC. 五点\nD. 六点\n请直接回答正确选项的字母。"


CAPTION_EN = (
    "A round wall clock with a white face and a thin black frame hangs on a green wall. "
    "Its hour hand points just past four and its minute hand at the three: it shows 4:15."
)
CAPTION_ZH = "绿色的墙上挂着一只圆形挂钟，白色表盘，细黑边框。时针刚过四，分针指向三：显示的是四点十五分。"


def caption_samples(image_id: str) -> list[Sample]:
    """A caption sample per language, as the caption stage makes them (one turn, no options)."""
    pool = bundled_pool()
    return [
        caption_sample(
            image_ids=[image_id],
            domain="clocks",
            lang=lang,
            caption=text,
            request=draw_request(pool, 0, image_id, lang),
            provenance={
                "generator": "vlm/caption",
                "caption_model": "fake-vlm",
                "caption_prompt": "caption@v1",
            },
        )
        for lang, text in (("en", CAPTION_EN), ("zh", CAPTION_ZH))
    ]


class Run:
    """A small run: three PNGs, samples of every type (captions too) in en and zh, every status."""

    def __init__(self, root: Path) -> None:
        self.store = RunStore(root)
        self.sizes: dict[str, tuple[int, int]] = {}
        records = []
        for size, colour in [((32, 24), "red"), ((40, 30), "green"), ((20, 50), "blue")]:
            buf = io.BytesIO()
            Image.new("RGB", size, colour).save(buf, "PNG")
            image_id, rel = write_image_file(self.store.dir, buf.getvalue(), "png")
            records.append(ImageRecord(image_id, rel, size[0], size[1], "png", {"source": "test"}))
            self.sizes[image_id] = size
        a, b, c = (r.id for r in records)
        self.a, self.b, self.c = a, b, c
        checks = {"answer": {"ok": True}}
        self.samples = [
            Sample("judge-en", [a], "clocks", "judgement", "en",
                   [Turn("Does the clock show 3:00? Answer yes or no.", "Yes")],
                   category="time_reading", checks=checks, provenance={"generator": "clocks"}),
            Sample("mc-en", [b], "clocks", "multiple_choice", "en", [Turn(MC_EN_QUESTION, "B")],
                   options=["3:00", "4:15", "5:30", "6:45"], answer_letter="B", short_answer="4:15",
                   category="time_reading", checks=checks),
            Sample("short-zh", [c], "clocks", "short_vqa", "zh",
                   [Turn("钟表显示的是几点？请用一个词回答。", "三点")],
                   short_answer="三点", status="edited",
                   checks={"review": {"pass": True, "action": "edit", "reviewer": "t"}}),
            Sample("long-en-2img", [a, b], "clocks", "long_vqa", "en",
                   [Turn("How do the two clocks differ?", "The first shows 3:00, the second 4:15."),
                    Turn("How many minutes apart are they?", "75 minutes: 4:15 minus 3:00."),
                    Turn("Which one is later?", "The second one.")],
                   category="comparison"),
            Sample("mc-zh", [a], "clocks", "multiple_choice", "zh", [Turn(MC_ZH_QUESTION, "C")],
                   options=["三点", "四点", "五点", "六点"], answer_letter="C", short_answer="五点"),
            Sample("rejected-en", [c], "clocks", "judgement", "en", [Turn("Is it noon?", "No")],
                   status="rejected",
                   checks={"planted": {"pass": False, "reason": "x", "severity": "reject"}}),
            Sample("review-en", [b], "clocks", "multiple_choice", "en", [Turn(MC_EN_QUESTION, "B")],
                   options=["3:00", "4:15", "5:30", "6:45"], answer_letter="B", status="needs_review",
                   checks={"planted": {"pass": False, "reason": "x", "severity": "review"}}),
            *caption_samples(b),
        ]  # fmt: skip
        self.store.add_samples("clocks/0", 0, self.samples[:2], records[:2])
        self.store.add_samples("clocks/1", 1, self.samples[2:], records)
        self.by_id = {s.id: s for s in self.samples}

    def ids(self, statuses: tuple[str, ...] = ("accepted", "edited"), mc_only: bool = False) -> list[str]:
        return [
            s.id
            for s in self.samples
            if s.status in statuses and (not mc_only or s.type == "multiple_choice")
        ]


@pytest.fixture
def run(tmp_path: Path):
    r = Run(tmp_path / "run")
    yield r
    r.store.close()


# -- loaders: each reads a format the way its consumer does, checks the image placeholders and
# -- returns {id: {"images": [path or PIL image], "turns": [(question, answer), ...]}}


def strip_prefix(text: str, prefix: str) -> str:
    assert text.startswith(prefix), (text, prefix)
    return text[len(prefix) :]


def as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def pairs_of(messages: list[dict], role: str, text: str, user: str, assistant: str) -> list[tuple[str, str]]:
    roles = [m[role] for m in messages]
    assert roles == [user, assistant] * (len(messages) // 2)
    return [(messages[i][text], messages[i + 1][text]) for i in range(0, len(messages), 2)]


def load_jsonl(out: Path, tmp_path: Path) -> dict[str, dict]:
    got = {}
    with open(out, encoding="utf-8") as f:
        for line in f:
            rec = json.loads(line)
            for key in ("id", "images", "image_ids", "domain", "type", "language", "turns", "options",
                        "answer_letter", "status", "checks", "provenance"):  # fmt: skip
                assert key in rec
            assert len(rec["images"]) == len(rec["image_ids"])
            got[rec["id"]] = {
                "images": [out.parent / p for p in rec["images"]],
                "turns": [(t["question"], t["answer"]) for t in rec["turns"]],
                "record": rec,
            }
    return got


def load_llava(out: Path, tmp_path: Path) -> dict[str, dict]:
    got = {}
    for row in json.loads(out.read_text("utf-8")):
        paths = as_list(row["image"])
        conv = row["conversations"]
        assert sum(c["value"].count("<image>") for c in conv) == len(paths)
        pairs = pairs_of(conv, "from", "value", "human", "gpt")
        pairs[0] = (strip_prefix(pairs[0][0], "<image>\n" * len(paths)), pairs[0][1])
        got[row["id"]] = {"images": [out.parent / p for p in paths], "turns": pairs}
    return got


def load_sharegpt(out: Path, tmp_path: Path) -> dict[str, dict]:
    got = {}
    for row in json.loads(out.read_text("utf-8")):
        paths = row["images"]
        msgs = row["messages"]
        assert sum(m["content"].count("<image>") for m in msgs) == len(paths)
        pairs = pairs_of(msgs, "role", "content", "user", "assistant")
        pairs[0] = (strip_prefix(pairs[0][0], "<image>" * len(paths)), pairs[0][1])
        got[row["id"]] = {"images": [out.parent / p for p in paths], "turns": pairs}
    return got


def load_internvl(out: Path, tmp_path: Path) -> dict[str, dict]:
    got = {}
    with open(out, encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            paths = as_list(row["image"])
            if len(paths) == 1:
                assert isinstance(row["image"], str)
                sizes = [(row["width"], row["height"])]
                prefix = "<image>\n"
            else:
                sizes = list(zip(row["width_list"], row["height_list"], strict=True))
                prefix = "".join(f"Image-{i}: <image>\n" for i in range(1, len(paths) + 1))
            conv = row["conversations"]
            assert sum(c["value"].count("<image>") for c in conv) == len(paths)
            pairs = pairs_of(conv, "from", "value", "human", "gpt")
            pairs[0] = (strip_prefix(pairs[0][0], prefix), pairs[0][1])
            for p, size in zip(paths, sizes, strict=True):
                with Image.open(out.parent / p) as im:
                    assert im.size == size
            got[row["id"]] = {"images": [out.parent / p for p in paths], "turns": pairs}
    return got


def load_parquet(out: Path, tmp_path: Path) -> dict[str, dict]:
    datasets = pytest.importorskip("datasets")
    ds = datasets.load_dataset("parquet", data_files=str(out), split="train", cache_dir=str(tmp_path / "hf"))
    assert isinstance(ds.features["images"].feature, datasets.Image)
    raw = pq.read_table(out).to_pylist()  # the embedded bytes, to compare with the image ids
    got = {}
    for row, raw_row in zip(ds, raw, strict=True):
        assert row["id"] == raw_row["id"]
        assert all(isinstance(im, Image.Image) for im in row["images"])
        assert len(row["images"]) == len(row["image_ids"])
        for im, emb, image_id in zip(row["images"], raw_row["images"], row["image_ids"], strict=True):
            assert hashlib.sha256(emb["bytes"]).hexdigest() == image_id
            assert emb["path"] == f"{image_id}.png"
            im.load()
        assert isinstance(json.loads(row["checks"]), dict)
        assert isinstance(json.loads(row["provenance"]), dict)
        got[row["id"]] = {
            "images": row["images"],
            "image_ids": row["image_ids"],
            "turns": [(t["question"], t["answer"]) for t in row["turns"]],
            "record": row,
        }
    return got


LOADERS = {
    "jsonl": load_jsonl,
    "llava": load_llava,
    "sharegpt": load_sharegpt,
    "internvl": load_internvl,
    "parquet": load_parquet,
}


def check_images(run: Run, sample: Sample, images: list) -> None:
    assert len(images) == len(sample.images)
    for image, image_id in zip(images, sample.images, strict=True):
        if isinstance(image, Path):
            assert image.is_file()
            assert hashlib.sha256(image.read_bytes()).hexdigest() == image_id
            with Image.open(image) as im:
                assert im.size == run.sizes[image_id]
        else:
            assert image.size == run.sizes[image_id]


# -- every chat format round-trips ---------------------------------------------------------------


@pytest.mark.parametrize("fmt", CHAT_FORMATS)
def test_round_trip(run: Run, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / "exports" / "nested" / FILE_NAMES[fmt]
    summary = export(run.store, fmt, out)
    got = LOADERS[fmt](out, tmp_path)

    assert list(got) == run.ids()  # plan order; rejected and needs_review left out by default
    for sample_id, rec in got.items():
        sample = run.by_id[sample_id]
        assert rec["turns"] == [(t.question, t.answer) for t in sample.turns]
        check_images(run, sample, rec["images"])
    assert len(got["long-en-2img"]["images"]) == 2
    assert len(got["long-en-2img"]["turns"]) == 3
    assert got["short-zh"]["turns"][0] == ("钟表显示的是几点？请用一个词回答。", "三点")

    assert (summary.format, summary.path) == (fmt, out)
    assert (summary.n_samples, summary.n_images, summary.set_aside) == (len(run.ids()), 3, 0)
    if fmt != "parquet":  # each image copied once beside the output
        assert sorted(p.name for p in (out.parent / "images").iterdir()) == sorted(
            f"{i}.png" for i in (run.a, run.b, run.c)
        )
    assert not list(out.parent.glob(".*.tmp"))


@pytest.mark.parametrize("fmt", CHAT_FORMATS)
def test_caption_samples_are_one_turn_from_request_to_caption(run: Run, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / "out" / FILE_NAMES[fmt]
    export(run.store, fmt, out)
    got = LOADERS[fmt](out, tmp_path)
    captions = [s for s in run.samples if s.type == "caption"]
    assert {s.language for s in captions} == {"en", "zh"}
    for s in captions:
        assert got[s.id]["turns"] == [(s.turns[0].question, s.turns[0].answer)]
        assert s.turns[0].answer in (CAPTION_EN, CAPTION_ZH)
        check_images(run, s, got[s.id]["images"])
        if "record" in got[s.id]:  # the full record: no options, no letter, the request's id kept
            rec = got[s.id]["record"]
            assert (rec["type"], list(rec["options"]), rec["answer_letter"]) == ("caption", [], None)
            prov = rec["provenance"] if isinstance(rec["provenance"], dict) else json.loads(rec["provenance"])
            assert prov["caption_request"].startswith(f"detailed/{s.language}/")


@pytest.mark.parametrize("fmt", CHAT_FORMATS)
def test_include_needs_review(run: Run, tmp_path: Path, fmt: str) -> None:
    statuses = ("accepted", "edited", "needs_review")
    out = tmp_path / "out" / FILE_NAMES[fmt]
    summary = export(run.store, fmt, out, include=statuses)
    got = LOADERS[fmt](out, tmp_path)
    assert list(got) == run.ids(statuses)
    assert "review-en" in got and "rejected-en" not in got
    assert summary.n_samples == len(run.ids(statuses))


def test_jsonl_keeps_the_full_record(run: Run, tmp_path: Path) -> None:
    out = tmp_path / "out" / "data.jsonl"
    export(run.store, "jsonl", out)
    rec = load_jsonl(out, tmp_path)["mc-en"]["record"]
    assert rec["image_ids"] == [run.b]
    assert rec["images"] == [f"images/{run.b}.png"]
    assert rec["options"] == ["3:00", "4:15", "5:30", "6:45"]
    assert rec["answer_letter"] == "B"
    assert rec["checks"] == {"answer": {"ok": True}}
    assert rec["status"] == "accepted"
    expected = run.by_id["mc-en"].to_dict()
    expected.pop("images")
    assert {k: v for k, v in rec.items() if k not in ("images", "image_ids")} == expected


def test_llava_layout(run: Run, tmp_path: Path) -> None:
    out = tmp_path / "llava.json"
    export(run.store, "llava", out)
    rows = {r["id"]: r for r in json.loads(out.read_text("utf-8"))}
    assert rows["judge-en"]["image"] == f"images/{run.a}.png"
    assert rows["judge-en"]["conversations"] == [
        {"from": "human", "value": "<image>\nDoes the clock show 3:00? Answer yes or no."},
        {"from": "gpt", "value": "Yes"},
    ]
    two = rows["long-en-2img"]
    assert two["image"] == [f"images/{run.a}.png", f"images/{run.b}.png"]
    assert two["conversations"][0]["value"] == "<image>\n<image>\nHow do the two clocks differ?"
    assert two["conversations"][2] == {"from": "human", "value": "How many minutes apart are they?"}


def test_sharegpt_registers_dataset_info(run: Run, tmp_path: Path) -> None:
    out_dir = tmp_path / "lf"
    out_dir.mkdir()
    (out_dir / "dataset_info.json").write_text(json.dumps({"other": {"file_name": "other.json"}}))
    export(run.store, "sharegpt", out_dir / "train.json")
    info = json.loads((out_dir / "dataset_info.json").read_text("utf-8"))
    assert info["other"] == {"file_name": "other.json"}
    assert info["train"] == {
        "file_name": "train.json",
        "formatting": "sharegpt",
        "columns": {"messages": "messages", "images": "images"},
        "tags": {
            "role_tag": "role",
            "content_tag": "content",
            "user_tag": "user",
            "assistant_tag": "assistant",
        },
    }
    row = json.loads((out_dir / "train.json").read_text("utf-8"))[0]
    assert row["messages"][0] == {
        "role": "user",
        "content": "<image>Does the clock show 3:00? Answer yes or no.",
    }
    assert row["images"] == [f"images/{run.a}.png"]


def test_internvl_layout(run: Run, tmp_path: Path) -> None:
    out = tmp_path / "internvl.jsonl"
    export(run.store, "internvl", out)
    rows = {r["id"]: r for r in map(json.loads, out.read_text("utf-8").splitlines())}
    one = rows["mc-en"]
    assert (one["image"], one["width"], one["height"]) == (f"images/{run.b}.png", 40, 30)
    assert one["conversations"][0]["value"] == "<image>\n" + MC_EN_QUESTION
    two = rows["long-en-2img"]
    assert two["width_list"] == [32, 40] and two["height_list"] == [24, 30]
    assert two["conversations"][0]["value"].startswith("Image-1: <image>\nImage-2: <image>\nHow do")


def test_parquet_schema_and_row_groups(run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parquet_format, "ROW_GROUP_SIZE", 2)
    out = tmp_path / "data.parquet"
    export(run.store, "parquet", out)
    f = pq.ParquetFile(out)
    assert f.metadata.num_rows == len(run.ids()) == 7
    assert f.num_row_groups == 4
    meta = json.loads(f.schema_arrow.metadata[b"huggingface"])
    assert meta["info"]["features"]["images"] == {"feature": {"_type": "Image"}, "_type": "Sequence"}
    got = load_parquet(out, tmp_path)
    rec = got["mc-zh"]["record"]
    assert rec["options"] == ["三点", "四点", "五点", "六点"]
    assert (rec["answer_letter"], rec["short_answer"], rec["language"]) == ("C", "五点", "zh")
    assert [im.size for im in got["long-en-2img"]["images"]] == [(32, 24), (40, 30)]
    # statistics on short text columns only: image bytes never go into the footer
    group = f.metadata.row_group(0)
    with_stats = {
        group.column(i).path_in_schema for i in range(group.num_columns) if group.column(i).is_stats_set
    }
    assert "id" in with_stats and not any(p.startswith("images") for p in with_stats), with_stats


def test_parquet_row_groups_close_by_image_bytes_and_store_a_repeated_image_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = RunStore(tmp_path / "run")
    buf = io.BytesIO()
    Image.frombytes("L", (256, 256), random.Random(3).randbytes(256 * 256)).save(buf, "PNG")  # noise
    png = buf.getvalue()
    image_id, rel = write_image_file(store.dir, png, "png")
    rec = ImageRecord(image_id, rel, 256, 256, "png", {"source": "test"})
    samples = [
        Sample(f"s{i}", [image_id], "ocr", "short_vqa", "en", [Turn(f"What is in box {i}?", "Noise")])
        for i in range(40)
    ]
    store.add_samples("ocr/0", 0, samples, [rec])
    out = tmp_path / "data.parquet"
    # a group holds rows until their image bytes reach ROW_GROUP_BYTES: 10 images' worth here
    monkeypatch.setattr(parquet_format, "ROW_GROUP_BYTES", 10 * len(png))
    export(store, "parquet", out)
    f = pq.ParquetFile(out)
    assert f.metadata.num_rows == 40 and f.num_row_groups == 4
    # each row holds the image, yet each group stores it once (dictionary encoding)
    assert len(png) * 4 <= out.stat().st_size < len(png) * 6
    got = load_parquet(out, tmp_path)
    assert all(r["images"][0].tobytes() == Image.open(io.BytesIO(png)).tobytes() for r in got.values())
    store.close()


def test_dataengine_rows(run: Run, tmp_path: Path) -> None:
    out = tmp_path / "de" / "dataengine.json"
    summary = export(run.store, "dataengine", out)
    rows = json.loads(out.read_text("utf-8"))
    assert [r["id"] for r in rows] == run.ids(mc_only=True)
    assert summary.n_samples == 2 and summary.n_images == 2
    en, zh = rows
    assert en == {
        "id": "mc-en",
        "instruction": "What time does the clock show?",
        "answer": "B. 4:15",
        "short_answer": "4:15",
        "options": ["3:00", "4:15", "5:30", "6:45"],
        "choice_answer": "B",
        "image": f"images/{run.b}.png",
        "qtype": "time_reading",
    }
    assert (zh["instruction"], zh["short_answer"], zh["choice_answer"]) == (
        "图中钟表显示的是几点？",
        "五点",
        "C",
    )
    assert zh["qtype"] == "clocks"  # no category: the domain
    for r in rows:
        path = out.parent / r["image"]
        assert hashlib.sha256(path.read_bytes()).hexdigest() in (run.a, run.b)

    statuses = ("accepted", "edited", "needs_review")
    export(run.store, "dataengine", out, include=statuses)
    assert [r["id"] for r in json.loads(out.read_text("utf-8"))] == run.ids(statuses, mc_only=True)


def test_split_stem_falls_back_to_the_whole_question() -> None:
    assert split_stem(MC_EN_QUESTION, ["3:00", "4:15", "5:30", "6:45"]) == "What time does the clock show?"
    assert split_stem("Pick one: 3:00, 4:15, 5:30 or 6:45?", ["3:00", "4:15", "5:30", "6:45"]) == (
        "Pick one: 3:00, 4:15, 5:30 or 6:45?"
    )
    assert split_stem("Which?\n(A) x\n(B) y", ["x", "y"]) == "Which?"


# -- text, errors and atomic output ---------------------------------------------------------------


@pytest.mark.parametrize("fmt", TEXT_FORMATS)
def test_chinese_is_written_unescaped(run: Run, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / FILE_NAMES[fmt]
    export(run.store, fmt, out)
    text = out.read_text("utf-8")
    assert ("钟表显示的是几点" if fmt != "dataengine" else "图中钟表显示的是几点") in text
    assert "\\u" not in text


def test_unknown_format_names_the_known_ones(run: Run, tmp_path: Path) -> None:
    with pytest.raises(ExportError) as e:
        export(run.store, "coco", tmp_path / "x.json")
    assert "'coco'" in str(e.value)
    assert all(name in str(e.value) for name in FORMATS)
    assert not (tmp_path / "x.json").exists()


def test_bad_include_and_output_path(run: Run, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="'approved'"):
        export(run.store, "jsonl", tmp_path / "x.jsonl", include=("accepted", "approved"))
    with pytest.raises(ExportError, match="directory"):
        export(run.store, "jsonl", tmp_path)
    summary = export(run.store, "jsonl", tmp_path / "x.jsonl", include="edited")  # one status as a string
    assert summary.n_samples == 1


@pytest.mark.parametrize("fmt", list(FILE_NAMES))
def test_failed_export_leaves_no_partial_file(run: Run, tmp_path: Path, fmt: str) -> None:
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    old = out_dir / FILE_NAMES[fmt]
    old.write_text("previous export")
    new = out_dir / ("new-" + FILE_NAMES[fmt])
    run.store.image_path(run.b).unlink()  # mc-en, long-en-2img, review-en lose an image

    for out in (old, new):
        with pytest.raises(ExportError, match=f"sample mc-en: image file .*{run.b}.* missing"):
            export(run.store, fmt, out)
    assert old.read_text() == "previous export"
    assert not new.exists()
    assert not [p for p in out_dir.rglob("*") if p.name.endswith(".tmp")]
    if fmt == "sharegpt":
        assert not (out_dir / "dataset_info.json").exists()


def test_placeholder_in_text_is_refused(tmp_path: Path) -> None:
    with RunStore(tmp_path / "run") as store:
        buf = io.BytesIO()
        Image.new("RGB", (8, 8)).save(buf, "PNG")
        image_id, rel = write_image_file(store.dir, buf.getvalue(), "png")
        sample = Sample("bad", [image_id], "d", "short_vqa", "en", [Turn("What is <image>?", "x")])
        store.add_samples("u", 0, [sample], [ImageRecord(image_id, rel, 8, 8, "png")])
        with pytest.raises(ExportError, match="sample bad"):
            export(store, "llava", tmp_path / "llava.json")
        assert not (tmp_path / "llava.json").exists()
        assert export(store, "jsonl", tmp_path / "data.jsonl").n_samples == 1  # no placeholders there


@pytest.mark.parametrize("fmt", ["llava", "sharegpt", "dataengine"])
def test_empty_export_is_valid_json(tmp_path: Path, fmt: str) -> None:
    with RunStore(tmp_path / "run") as store:
        out = tmp_path / FILE_NAMES[fmt]
        assert export(store, fmt, out) == ExportSummary(fmt, out, 0, 0)
        assert json.loads(out.read_text("utf-8")) == []


def test_export_twice_into_the_same_folder(run: Run, tmp_path: Path) -> None:
    out = tmp_path / "out" / "llava.json"
    first = export(run.store, "llava", out)
    second = export(run.store, "llava", out)
    assert first == second
    assert len(list((out.parent / "images").iterdir())) == 3
    assert list(load_llava(out, tmp_path)) == run.ids()
