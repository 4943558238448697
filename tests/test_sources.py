import asyncio
import io
import json
import os
import random
import socket
from pathlib import Path

import pytest
from PIL import Image

from visinstruct.recipe import SourceSpec
from visinstruct.sources import (
    IMAGE_EXTENSIONS,
    Ingested,
    SourceError,
    SourceItem,
    download,
    ingest,
    ingest_one,
    iter_folder,
    iter_hf,
    iter_manifest,
    iter_url_list,
    sniff_image_type,
)
from visinstruct.stages.ingest import source_items

# -- images made here -------------------------------------------------------------------------


def photo(size=(64, 48), seed=0) -> Image.Image:
    """A noisy RGB image: JPEG cannot squeeze it to nothing, so truncating its file loses pixels."""
    rng = random.Random(seed)
    return Image.frombytes("RGB", size, bytes(rng.randrange(256) for _ in range(size[0] * size[1] * 3)))


def encode(im: Image.Image, fmt: str, **options) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **options)
    return buf.getvalue()


def jpeg(size=(64, 48), seed=0) -> bytes:
    return encode(photo(size, seed), "JPEG", quality=90)


def png(size=(40, 30), color=(10, 200, 30)) -> bytes:
    return encode(Image.new("RGB", size, color), "PNG")


def stored(run_dir: Path, result: Ingested) -> bytes:
    assert result.image is not None, result.error
    return (run_dir / result.image.path).read_bytes()


def reopen(run_dir: Path, result: Ingested) -> Image.Image:
    im = Image.open(run_dir / result.image.path)
    im.load()
    assert im.size == (result.image.width, result.image.height)
    return im


@pytest.fixture(scope="module")
def bomb_png() -> bytes:
    return encode(Image.new("1", (20000, 20000)), "PNG")


@pytest.fixture
def bad_folder(tmp_path: Path, bomb_png: bytes) -> Path:
    root = tmp_path / "bad"
    root.mkdir()
    good_jpeg = jpeg()
    (root / "good.jpg").write_bytes(good_jpeg)
    (root / "same_as_good.jpeg").write_bytes(good_jpeg)
    (root / "good.png").write_bytes(png())
    (root / "truncated.jpg").write_bytes(jpeg(seed=1)[: len(good_jpeg) // 2])
    (root / "empty.jpg").write_bytes(b"")
    (root / "notes.png").write_text("these are notes, not pixels\n")
    (root / "bomb.png").write_bytes(bomb_png)
    (root / "tiny.png").write_bytes(png(size=(8, 8)))
    (root / "cmyk.jpg").write_bytes(encode(Image.new("CMYK", (40, 32), (0, 255, 255, 0)), "JPEG"))
    deep = Image.new("I;16", (40, 30))
    deep.putdata([(x * 1600) for x in range(40)] * 30)
    (root / "deep.png").write_bytes(encode(deep, "PNG"))
    frames = [Image.new("RGB", (32, 24), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    (root / "anim.gif").write_bytes(encode(frames[0], "GIF", save_all=True, append_images=frames[1:]))
    rotated = photo((60, 40), seed=2)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise when shown
    (root / "rotated.jpg").write_bytes(encode(rotated, "JPEG", exif=exif.tobytes()))
    palette = Image.new("P", (30, 30), 1)
    palette.putpalette([0, 0, 0, 255, 0, 0] * 128)
    (root / "palette.png").write_bytes(encode(palette, "PNG", transparency=0))
    return root


# -- ingesting a folder of good, bad and odd images -------------------------------------------


def test_bad_images_folder(bad_folder: Path, tmp_path: Path):
    run_dir = tmp_path / "run"
    results = {r.item.ref: r for r in ingest(iter_folder(bad_folder), run_dir, workers=1)}
    assert sorted(results) == sorted(p.name for p in bad_folder.iterdir())

    errors = {ref: r.error for ref, r in results.items() if r.error}
    assert set(errors) == {"truncated.jpg", "empty.jpg", "notes.png", "bomb.png", "tiny.png"}
    assert errors["truncated.jpg"].startswith("truncated.jpg: truncated or corrupt image (")
    assert errors["empty.jpg"] == "empty.jpg: empty file (0 bytes)"
    assert errors["notes.png"].startswith("notes.png: not an image")
    assert errors["bomb.png"].startswith("bomb.png: decompression bomb (400000000 pixels, limit ")
    assert errors["tiny.png"].startswith("tiny.png: too small (8x8")
    for ref in errors:
        assert results[ref].image is None

    # good files are stored byte for byte, under their content hash
    for ref in ("good.jpg", "good.png", "palette.png"):
        r = results[ref]
        assert stored(run_dir, r) == (bad_folder / ref).read_bytes()
        assert "normalised" not in r.image.provenance
        assert r.image.provenance["ref"] == ref
        assert r.image.provenance["source"] == "folder"
    assert results["good.jpg"].image.format == "jpeg"
    assert results["good.jpg"].image.path.endswith(".jpg")
    assert results["good.png"].image.format == "png"
    assert (results["good.jpg"].image.width, results["good.jpg"].image.height) == (64, 48)

    # the same file under two names is one image
    assert results["same_as_good.jpeg"].image.id == results["good.jpg"].image.id
    assert results["same_as_good.jpeg"].image.path == results["good.jpg"].image.path

    # odd but valid images are normalised to 8-bit RGB / L / RGBA and say why
    cmyk = results["cmyk.jpg"]
    assert "CMYK" in cmyk.image.provenance["normalised"]
    assert cmyk.image.format == "jpeg"
    im = reopen(run_dir, cmyk)
    assert im.format == "JPEG" and im.mode == "RGB"
    red, green, blue = im.getpixel((20, 16))
    assert red > 200 and green < 60 and blue < 60  # C=0 M=255 Y=255 K=0 is red

    deep = results["deep.png"]
    assert "I;16" in deep.image.provenance["normalised"]
    im = reopen(run_dir, deep)
    assert im.format == "PNG" and im.mode == "L"
    assert im.getpixel((0, 0)) == 0 and im.getpixel((39, 0)) == round(39 * 1600 * 255 / 65535)

    anim = results["anim.gif"]
    assert anim.image.provenance["animated"] is True
    assert "first frame" in anim.image.provenance["normalised"]
    assert anim.image.provenance["original_format"] == "gif"
    im = reopen(run_dir, anim)
    assert im.format == "PNG" and im.mode in ("RGB", "RGBA")
    assert im.convert("RGB").getpixel((5, 5)) == (255, 0, 0)

    rot = results["rotated.jpg"]
    assert "EXIF orientation 6" in rot.image.provenance["normalised"]
    assert (rot.image.width, rot.image.height) == (40, 60)
    assert reopen(run_dir, rot).getexif().get(0x0112) is None
    assert rot.image.provenance["original_sha256"] != rot.image.id

    for ref in ("cmyk.jpg", "deep.png", "anim.gif", "rotated.jpg"):
        im = reopen(run_dir, results[ref])
        assert im.mode in ("RGB", "L", "RGBA")


def test_workers_preserve_order(bad_folder: Path, tmp_path: Path):
    items = list(iter_folder(bad_folder))
    serial = list(ingest(items, tmp_path / "one", workers=1))
    parallel = list(ingest(iter(items), tmp_path / "two", workers=2))
    assert [r.item.ref for r in parallel] == [i.ref for i in items]
    assert [(r.image.id if r.image else None, r.error) for r in parallel] == [
        (r.image.id if r.image else None, r.error) for r in serial
    ]


def test_ingest_reports_items_that_carry_an_error(tmp_path: Path):
    item = SourceItem(ref="x.jpg", error="x.jpg: cannot list the folder")
    assert ingest_one(item, tmp_path) == Ingested(item, None, "x.jpg: cannot list the folder")
    missing = ingest_one(SourceItem(ref="gone.jpg", path=str(tmp_path / "gone.jpg")), tmp_path)
    assert missing.error == "gone.jpg: cannot read (No such file or directory)"
    url = ingest_one(SourceItem(ref="http://x/y.jpg", url="http://x/y.jpg"), tmp_path)
    assert url.error.startswith("http://x/y.jpg: not downloaded")


def test_max_side_downscales_and_keeps_metadata(tmp_path: Path):
    item = SourceItem(
        ref="big.png", data=png(size=(400, 100)), domain="d", tags=["t"], known_text="hi", provenance={"k": 1}
    )
    r = ingest_one(item, tmp_path, max_side=200)
    assert (r.image.width, r.image.height) == (200, 50)
    prov = r.image.provenance
    assert prov["normalised"] == "downscaled from 400x100"
    assert prov["original_size"] == [400, 100]
    assert (prov["k"], prov["domain"], prov["tags"], prov["known_text"]) == (1, "d", ["t"], "hi")
    assert ingest_one(item, tmp_path, max_side=400).image.provenance.get("normalised") is None


def test_transparent_image_becomes_png(tmp_path: Path):
    im = Image.new("RGBA", (30, 30), (255, 0, 0, 0))
    im.paste((0, 0, 255, 255), (0, 0, 15, 30))
    data = encode(im, "WEBP", lossless=True)
    gif = encode(Image.new("RGB", (30, 30), (0, 0, 255)), "GIF")
    r = ingest_one(SourceItem(ref="a.webp", data=data), tmp_path)
    assert r.image.format == "webp" and stored(tmp_path, r) == data  # WebP RGBA is kept as it is
    r = ingest_one(SourceItem(ref="b.gif", data=gif), tmp_path)
    assert r.image.format == "png" and reopen(tmp_path, r).mode == "RGB"


# -- folders ----------------------------------------------------------------------------------


def test_iter_folder_domains_order_and_hidden(tmp_path: Path):
    root = tmp_path / "photos"
    for rel in ("b.jpg", "a.png", "animals/cat.JPG", "animals/sub/dog.png", "charts/bar.webp"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b"whatever")
    (root / ".hidden.jpg").write_bytes(b"x")
    (root / ".git").mkdir()
    (root / ".git" / "x.png").write_bytes(b"x")
    (root / "readme.txt").write_text("not an image extension")

    everything = list(iter_folder(root))
    [readme] = [i for i in everything if i.error is not None]  # reported, hidden ones are not
    assert (readme.ref, readme.path) == ("readme.txt", None)
    assert readme.error == "readme.txt: not an image file (.txt)"
    items = [i for i in everything if i.error is None]
    assert [(i.ref, i.domain) for i in items] == [
        ("a.png", None),
        ("animals/cat.JPG", "animals"),
        ("animals/sub/dog.png", "animals"),
        ("b.jpg", None),
        ("charts/bar.webp", "charts"),
    ]
    assert items[1].path == str(root / "animals" / "cat.JPG")
    assert items[1].provenance == {"source": "folder", "path": str(root / "animals" / "cat.JPG")}
    assert all(i.data is None and i.url is None for i in items)
    assert {i.domain for i in iter_folder(root, domain_from_subfolder=False)} == {None}
    only_png = list(iter_folder(root, extensions=("png",)))
    assert [i.ref for i in only_png if i.error is None] == ["a.png", "animals/sub/dog.png"]
    assert next(i for i in only_png if i.ref == "b.jpg").error.startswith(
        "b.jpg: unsupported image type .jpg (supported: .png)"
    )

    with pytest.raises(SourceError, match="no such folder"):
        list(iter_folder(tmp_path / "nope"))


def unix_socket(path: Path) -> None:
    """A socket file at `path` (its name may be long: bind from inside the folder)."""
    here = os.getcwd()
    os.chdir(path.parent)
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.bind(path.name)
    finally:
        os.chdir(here)


def test_folder_refuses_what_is_not_a_regular_file(tmp_path: Path):
    """A named pipe called x.png would block the run when opened: such entries are reported by type
    and never opened."""
    root = tmp_path / "photos"
    (root / "sub").mkdir(parents=True)
    (root / "good.png").write_bytes(png())
    os.mkfifo(root / "x.png")
    unix_socket(root / "sock.jpg")
    (root / "broken.jpg").symlink_to(root / "nowhere.jpg")
    (root / "loop.png").symlink_to("loop.png")
    (root / "linked").symlink_to(root / "sub")
    (root / "zero.png").symlink_to("/dev/zero")
    os.mkfifo(root / ".hidden.png")  # hidden entries stay silent
    items = {i.ref: i for i in iter_folder(root)}
    errors = {ref: i.error for ref, i in items.items() if i.error}
    assert errors == {
        "x.png": "x.png: not a regular file (named pipe)",
        "sock.jpg": "sock.jpg: not a regular file (socket)",
        "broken.jpg": "broken.jpg: not a regular file (a broken link)",
        "loop.png": "loop.png: not a regular file (a link loop)",
        "linked": "linked: not a regular file (a link to a folder; links to folders are not followed)",
        "zero.png": "zero.png: not a regular file (character device)",
    }
    assert all(items[ref].path is None for ref in errors)  # nothing to open
    assert items["good.png"].error is None
    results = {r.item.ref: r.error for r in ingest(iter_folder(root), tmp_path / "run", workers=2)}
    assert results == {"good.png": None, **errors}


def test_ingest_refuses_a_path_that_is_not_a_regular_file(tmp_path: Path):
    """A manifest line can name any path: ingestion looks before it opens."""
    unix_socket(tmp_path / "sock.png")
    sock = ingest_one(SourceItem(ref="sock.png", path=str(tmp_path / "sock.png")), tmp_path)
    assert sock.error == "sock.png: not a regular file (socket)"
    null = ingest_one(SourceItem(ref="null.png", path="/dev/null"), tmp_path)
    assert null.error == "null.png: not a regular file (character device)"
    here = ingest_one(SourceItem(ref="dir.png", path=str(tmp_path)), tmp_path)
    assert here.error == "dir.png: not a regular file (folder)"
    os.mkfifo(tmp_path / "pipe.png")
    pipe = ingest_one(SourceItem(ref="pipe.png", path=str(tmp_path / "pipe.png")), tmp_path)
    assert pipe.error == "pipe.png: not a regular file (named pipe)"


def test_folder_reports_every_file_it_does_not_take(tmp_path: Path):
    root = tmp_path / "photos"
    (root / "icons").mkdir(parents=True)
    (root / "good.jpg").write_bytes(jpeg())
    (root / "logo.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    (root / "icons" / "phone.HEIC").write_bytes(b"\0\0\0\x18ftypheic")
    (root / "photo.avif").write_bytes(b"\0\0\0\x1cftypavif")
    (root / "raw.dng").write_bytes(b"II*\0")
    (root / "notes.txt").write_text("a caption")
    (root / "Makefile").write_text("all:")
    (root / ".DS_Store").write_bytes(b"\0")
    (root / ".cache").mkdir()
    (root / ".cache" / "x.txt").write_text("x")
    supported = ", ".join(IMAGE_EXTENSIONS)
    items = list(iter_folder(root))
    assert [(i.ref, i.error) for i in items] == [
        ("Makefile", "Makefile: not an image file (no extension)"),
        ("good.jpg", None),
        ("icons/phone.HEIC", f"icons/phone.HEIC: unsupported image type .heic (supported: {supported})"),
        ("logo.svg", f"logo.svg: unsupported image type .svg (supported: {supported})"),
        ("notes.txt", "notes.txt: not an image file (.txt)"),
        ("photo.avif", f"photo.avif: unsupported image type .avif (supported: {supported})"),
        ("raw.dng", f"raw.dng: unsupported image type .dng (supported: {supported})"),
    ]
    assert items[2].domain == "icons" and items[2].path is None
    assert items[2].provenance == {"source": "folder", "path": str(root / "icons" / "phone.HEIC")}


def test_a_source_limit_counts_images_not_refused_files(tmp_path: Path):
    root = tmp_path / "photos"
    root.mkdir()
    for n in range(4):
        (root / f"{n}.jpg").write_bytes(jpeg(seed=n))
        (root / f"{n}.txt").write_text("a sidecar caption")
    spec = SourceSpec(folder=str(root), limit=3)
    items = list(source_items(spec, lambda p: tmp_path / p))
    assert [i.ref for i in items if i.error is None] == ["0.jpg", "1.jpg", "2.jpg"]
    assert [i.ref for i in items if i.error] == ["0.txt", "1.txt"]


# -- manifests --------------------------------------------------------------------------------


@pytest.fixture
def manifest_dir(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    (d / "imgs").mkdir(parents=True)
    (d / "imgs" / "a.jpg").write_bytes(jpeg())
    (d / "imgs" / "b.png").write_bytes(png())
    (tmp_path / "outside.png").write_bytes(png())
    return d


def test_manifest_jsonl(manifest_dir: Path, tmp_path: Path):
    lines = [
        json.dumps(
            {
                "path": "imgs/a.jpg",
                "domain": "photos",
                "tags": ["cat", "pet"],
                "text": "a cat",
                "license": "CC-BY-4.0",
                "author": "someone",
            }
        ),
        json.dumps({"path": "../../etc/passwd"}),
        "{not json",
        "",
        json.dumps({"url": "https://example.com/x.jpg", "tags": "red, blue ,", "known_text": "EXIT"}),
        json.dumps({"path": "/etc/passwd"}),
        json.dumps({"path": str(manifest_dir / "imgs" / "b.png")}),
        json.dumps({"path": "imgs/../../outside.png"}),
        "[1, 2]",
        json.dumps({"domain": "x"}),
        json.dumps({"path": "imgs/b.png", "tags": {"no": 1}}),
    ]
    manifest = manifest_dir / "manifest.jsonl"
    manifest.write_text("\n".join(lines) + "\n")
    items = list(iter_manifest(manifest))
    assert len(items) == 10

    a = items[0]
    assert (a.ref, a.path, a.domain, a.tags, a.known_text, a.error) == (
        "imgs/a.jpg",
        str(manifest_dir / "imgs" / "a.jpg"),
        "photos",
        ["cat", "pet"],
        "a cat",
        None,
    )
    assert a.provenance["license"] == "CC-BY-4.0" and a.provenance["author"] == "someone"
    assert a.provenance["line"] == 1 and a.provenance["source"] == "manifest"

    assert (
        items[1].error == "../../etc/passwd: the path leaves the manifest's folder (line 2 of manifest.jsonl)"
    )
    assert items[1].path is None
    assert items[2].ref == "manifest.jsonl:3"
    assert items[2].error.startswith("manifest.jsonl:3: line 3 is not valid JSON (")
    url = items[3]
    assert (url.url, url.path, url.tags, url.known_text, url.error) == (
        "https://example.com/x.jpg",
        None,
        ["red", "blue"],
        "EXIT",
        None,
    )
    assert items[4].error == "/etc/passwd: the path leaves the manifest's folder (line 6 of manifest.jsonl)"
    assert items[5].error is None and items[5].path == str(manifest_dir / "imgs" / "b.png")
    assert "leaves the manifest's folder (line 8" in items[6].error
    assert items[7].error == "manifest.jsonl:9: line 9 is not a JSON object (got list)"
    assert items[8].error == "manifest.jsonl:10: no 'path' or 'url' (line 10 of manifest.jsonl)"
    assert "'tags' must be a list" in items[9].error and "line 11" in items[9].error

    results = list(ingest(items, tmp_path / "run", workers=1))
    ok = [r.item.ref for r in results if r.image is not None]
    assert ok == ["imgs/a.jpg", str(manifest_dir / "imgs" / "b.png")]
    assert results[0].image.provenance["known_text"] == "a cat"
    assert results[3].error.startswith("https://example.com/x.jpg: not downloaded")


def test_manifest_csv(manifest_dir: Path, tmp_path: Path):
    manifest = manifest_dir / "list.csv"
    manifest.write_text(
        "path,domain,tags,known_text,license,source_id\n"
        'imgs/a.jpg,photos,"cat,pet",Hello,CC0,17\n'
        "../../etc/passwd,,,,,\n"
        "imgs/b.png,charts,too,many,fields,here,extra\n"
        "\n"
        'imgs/b.png,charts,,"multi\nline",,\n'
        '"imgs/a.jpg"x,,,,,\n'
    )
    items = list(iter_manifest(manifest))
    assert [i.ref for i in items] == [
        "imgs/a.jpg",
        "../../etc/passwd",
        "list.csv:4",
        "imgs/b.png",
        "list.csv:8",
    ]
    a = items[0]
    assert (a.domain, a.tags, a.known_text, a.error) == ("photos", ["cat", "pet"], "Hello", None)
    assert a.provenance["license"] == "CC0" and a.provenance["source_id"] == "17"
    assert items[1].error == "../../etc/passwd: the path leaves the manifest's folder (line 3 of list.csv)"
    assert items[2].error == "list.csv:4: line 4 has 7 fields, the header has 6"
    assert items[3].known_text == "multi\nline" and items[3].provenance["line"] == 6
    assert items[4].error.startswith("list.csv:8: line 8 is not valid CSV (")
    results = list(ingest(items, tmp_path / "run", workers=1))
    assert [r.error is None for r in results] == [True, False, False, True, False]

    headless = manifest_dir / "bad.csv"
    headless.write_text("file,label\nx.jpg,a\n")
    with pytest.raises(SourceError, match="no 'path' or 'url' column"):
        list(iter_manifest(headless))
    with pytest.raises(SourceError, match="cannot read the manifest"):
        list(iter_manifest(manifest_dir / "missing.jsonl"))


def test_manifest_links_loops_and_escapes(manifest_dir: Path, tmp_path: Path):
    """A link loop is a rejected line (not a crash); links and `..` still cannot leave the folder."""
    d = manifest_dir
    (d / "self.png").symlink_to("self.png")
    (d / "ping.png").symlink_to("pong.png")
    (d / "pong.png").symlink_to("ping.png")
    (d / "out.png").symlink_to(tmp_path / "outside.png")  # a link inside, pointing outside
    (d / "inside.png").symlink_to(d / "imgs" / "b.png")
    (d / "up").symlink_to(tmp_path)  # a link to a folder above
    os.mkfifo(d / "pipe.png")
    paths = [
        "self.png",
        "ping.png",
        "imgs/../self.png",
        "out.png",
        "up/outside.png",
        "imgs/../../outside.png",
        "inside.png",
        "pipe.png",
        "imgs/a.jpg",
    ]
    manifest = d / "m.jsonl"
    manifest.write_text("".join(json.dumps({"path": p}) + "\n" for p in paths))
    items = list(iter_manifest(manifest))
    errors = [i.error for i in items]
    assert errors[:3] == [
        "self.png: the path is a link loop (line 1 of m.jsonl)",
        "ping.png: the path is a link loop (line 2 of m.jsonl)",
        "imgs/../self.png: the path is a link loop (line 3 of m.jsonl)",
    ]
    for n in (3, 4, 5):
        assert errors[n] == f"{paths[n]}: the path leaves the manifest's folder (line {n + 1} of m.jsonl)"
    assert errors[6:] == [None, None, None]
    assert items[6].path == str(d / "imgs" / "b.png")
    results = [r.error for r in ingest(items, tmp_path / "run", workers=1)]
    assert results[6:] == [None, "pipe.png: not a regular file (named pipe)", None]


def test_a_manifest_or_url_list_that_is_a_pipe_is_refused(tmp_path: Path):
    pipe = tmp_path / "list.jsonl"
    os.mkfifo(pipe)
    with pytest.raises(
        SourceError, match=r"list.jsonl: cannot read the manifest: not a regular file \(named pipe\)"
    ):
        list(iter_manifest(pipe))
    with pytest.raises(
        SourceError, match=r"list.jsonl: cannot read the URL list: not a regular file \(named pipe\)"
    ):
        list(iter_url_list(pipe))
    urls = tmp_path / "urls.txt"
    urls.write_bytes(b"https://example.com/a.jpg\n\xff\n")
    with pytest.raises(
        SourceError, match=r"urls.txt: the URL list is not a UTF-8 text file \(invalid byte 0xff at"
    ):
        list(iter_url_list(urls))


# -- Hugging Face datasets --------------------------------------------------------------------


@pytest.fixture
def hf_dataset():
    datasets = pytest.importorskip("datasets")
    images = [jpeg(seed=i) for i in range(3)]
    ds = datasets.Dataset.from_dict(
        {
            "image": [{"bytes": b, "path": None} for b in images],
            "topic": ["cats", "dogs", "cats"],
            "ocr": ["one", None, "three"],
        }
    ).cast_column("image", datasets.Image())
    return ds, images


def test_hf_saved_dataset(hf_dataset, tmp_path: Path):
    ds, images = hf_dataset
    ds.save_to_disk(str(tmp_path / "saved"))
    items = list(iter_hf(tmp_path / "saved", domain_column="topic", text_column="ocr"))
    assert [i.data for i in items] == images
    assert [i.ref for i in items] == [f"hf:{tmp_path / 'saved'}#{n}" for n in range(3)]
    assert [i.domain for i in items] == ["cats", "dogs", "cats"]
    assert [i.known_text for i in items] == ["one", None, "three"]
    assert items[1].provenance == {
        "source": "hf",
        "dataset": str(tmp_path / "saved"),
        "split": "train",
        "row": 1,
    }
    assert len(list(iter_hf(tmp_path / "saved", limit=2))) == 2

    results = list(ingest(items, tmp_path / "run", workers=1))
    assert [stored(tmp_path / "run", r) for r in results] == images

    with pytest.raises(SourceError, match="no column 'picture'"):
        list(iter_hf(tmp_path / "saved", image_column="picture"))
    with pytest.raises(SourceError, match="not images"):
        list(iter_hf(tmp_path / "saved", image_column="topic"))


def test_hf_parquet(hf_dataset, tmp_path: Path):
    ds, images = hf_dataset
    (tmp_path / "pq").mkdir()
    ds.to_parquet(str(tmp_path / "pq" / "train.parquet"))
    from_folder = list(iter_hf(tmp_path / "pq", domain_column="topic", limit=2))
    assert [i.data for i in from_folder] == images[:2]
    assert [i.domain for i in from_folder] == ["cats", "dogs"]
    from_file = list(iter_hf(tmp_path / "pq" / "train.parquet"))
    assert [i.data for i in from_file] == images
    assert from_file[2].ref == f"hf:{tmp_path / 'pq' / 'train.parquet'}#2"


def test_hf_missing_dataset(tmp_path: Path):
    pytest.importorskip("datasets")
    (tmp_path / "x.txt").write_text("x")
    with pytest.raises(SourceError, match="not a dataset file"):
        list(iter_hf(tmp_path / "x.txt"))


# -- URLs -------------------------------------------------------------------------------------


def test_sniff_image_type():
    assert sniff_image_type(jpeg()) == "image/jpeg"
    assert sniff_image_type(png()) == "image/png"
    assert sniff_image_type(b"<html>") is None


def test_download(tmp_path: Path):
    web = pytest.importorskip("aiohttp.web")
    cat = jpeg(seed=5)
    release = asyncio.Event()

    async def image(request):
        return web.Response(body=cat, content_type="image/jpeg")

    async def html(request):
        return web.Response(text="<html>hello</html>", content_type="text/html")

    async def huge(request):  # no Content-Length: the size cap must stop the reading
        resp = web.StreamResponse(headers={"Content-Type": "image/jpeg"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        for _ in range(64):
            await resp.write(b"\xff" * 65536)
        return resp

    async def declared(request):
        return web.Response(body=b"\xff" * 300_000, content_type="image/png")

    async def slow(request):
        await asyncio.wait_for(release.wait(), 10)
        return web.Response(body=cat, content_type="image/jpeg")

    async def octet(request):
        return web.Response(body=cat, content_type="application/octet-stream")

    async def octet_text(request):
        return web.Response(body=b"plain words", content_type="application/octet-stream")

    async def scenario():
        app = web.Application()
        for route, handler in [
            ("/cat.jpg", image),
            ("/page", html),
            ("/huge.jpg", huge),
            ("/declared.png", declared),
            ("/slow.jpg", slow),
            ("/octet", octet),
            ("/octet-text", octet_text),
        ]:
            app.router.add_get(route, handler)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        base = f"http://127.0.0.1:{port}"
        urls = [
            f"{base}/cat.jpg",
            f"{base}/page",
            f"{base}/huge.jpg",
            f"{base}/declared.png",
            f"{base}/slow.jpg",
            f"{base}/missing.jpg",
            "http://127.0.0.1:9/x.jpg",
            f"{base}/octet",
            f"{base}/octet-text",
            "file:///etc/passwd",
            "data:image/png;base64,iVBORw0KGgo=",
        ]
        items = [SourceItem(ref=u, url=u, domain="web") for u in urls]
        items.append(SourceItem(ref="local.png", data=png()))
        try:
            got = await download(items, concurrency=4, timeout=0.5, max_bytes=200_000)
        finally:
            release.set()
            await runner.cleanup()
        return base, items, got

    base, items, got = asyncio.run(scenario())
    assert [g.ref for g in got] == [i.ref for i in items]
    assert all(i.data is None and i.error is None for i in items[:-1])  # the given items are not changed
    by_path = {g.ref.replace(base, ""): g for g in got}

    ok = by_path["/cat.jpg"]
    assert ok.error is None and ok.data == cat and ok.domain == "web"
    assert ok.provenance["content_type"] == "image/jpeg"
    assert by_path["/octet"].data == cat and by_path["/octet"].provenance["content_type"] == "image/jpeg"

    def error(path):
        g = by_path[path]
        assert g.data is None
        return g.error.removeprefix(g.ref + ": ")

    assert error("/page") == "not an image (content type text/html)"
    assert error("/huge.jpg") == "too large (more than 200000 bytes)"
    assert error("/declared.png") == "too large (300000 bytes, limit 200000)"
    assert error("/slow.jpg") == "timed out after 0.5 s"
    assert error("/missing.jpg") == "HTTP 404 Not Found"
    assert error("http://127.0.0.1:9/x.jpg").startswith("cannot connect to 127.0.0.1:9 (")
    assert error("/octet-text").startswith("not an image (content type application/octet-stream")
    assert error("file:///etc/passwd") == "unsupported URL scheme 'file' (only http and https are fetched)"
    assert error("data:image/png;base64,iVBORw0KGgo=").startswith("unsupported URL scheme 'data'")
    assert by_path["local.png"] is items[-1]

    results = list(ingest(got, tmp_path / "run", workers=1))
    assert stored(tmp_path / "run", results[0]) == cat
    assert results[0].image.provenance["url"] == f"{base}/cat.jpg"
    assert [r.error is None for r in results] == [True] + [False] * 6 + [True] + [False] * 3 + [True]


def test_a_png_whose_rows_are_corrupt_is_refused(tmp_path: Path):
    """Reading a PNG's EXIF decodes it; a decoding error there must not be swallowed (the file was
    once stored as sound because the second decode found nothing left to do)."""
    import struct
    import zlib

    data = encode(Image.new("RGB", (40, 30), (10, 200, 30)), "PNG", compress_level=1)
    n = struct.unpack_from(">I", data, 33)[0]  # the IDAT chunk, after the signature and IHDR
    raw = bytearray(zlib.decompress(data[41 : 41 + n]))
    raw[5 * (1 + 40 * 3)] = 9  # row 5: a filter type PNG does not have
    idat = zlib.compress(bytes(raw))
    chunk = struct.pack(">I", len(idat)) + b"IDAT" + idat + struct.pack(">I", zlib.crc32(b"IDAT" + idat))
    bad = data[:33] + chunk + data[45 + n :]
    got = ingest_one(SourceItem(ref="rows.png", data=bad), tmp_path)
    assert got.image is None and got.error.startswith("rows.png: truncated or corrupt image (")
    assert not list(tmp_path.rglob("*.png"))  # nothing stored
