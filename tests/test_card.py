"""The dataset card: Hub front matter whose configs load, figures equal to the run's own,
licenses and attributions of mixed sources, and untrusted text kept inert."""

from __future__ import annotations

import json
import sqlite3
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml
from markdown_it import MarkdownIt

from visinstruct.checks import failed
from visinstruct.cli import cli
from visinstruct.recipe import load_recipe, parse_recipe
from visinstruct.report.card import write_card
from visinstruct.runner import run_recipe as run
from visinstruct.store import RunStore

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = "<script>alert('card')</script>"


def front_matter(text: str) -> tuple[dict, str]:
    assert text.startswith("---\n")
    head, body = text[4:].split("\n---\n", 1)
    return yaml.safe_load(head), body


def section(body: str, title: str) -> str:
    part = body.split(f"\n## {title}\n", 1)[1]
    return part.split("\n## ", 1)[0]


def table_rows(text: str) -> list[list[str]]:
    """The cells of the first Markdown table in `text`, header and rule left out."""
    lines = [line for line in text.splitlines() if line.startswith("|")]
    return [[c.strip() for c in line.strip("|").split(" | ")] for line in lines[2:]]


def number(cell: str) -> int:
    return int(cell.strip("*").split(" ")[0].replace(",", ""))


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory) -> Path:
    recipe = load_recipe(ROOT / "recipes" / "quickstart.yaml")
    path = tmp_path_factory.mktemp("quick") / "run"
    summary = run(recipe, path, workers=1)
    assert summary.card == path / "exports" / "README.md"
    return path


def test_quickstart_card_front_matter_and_configs_load(quickstart, tmp_path):
    card = quickstart / "exports" / "README.md"
    text = card.read_text("utf-8")
    front, _ = front_matter(text)
    assert front["pretty_name"] == "quickstart"
    assert front["language"] == ["en", "zh"]
    assert front["license"] == "unknown"  # drawn images only: no third-party license to derive
    assert "visual-question-answering" in front["task_categories"]
    assert front["size_categories"] == ["1K<n<10K"]
    configs = front["configs"]
    assert [c.get("default") for c in configs][0] is True
    for c in configs:
        for f in c["data_files"]:
            assert f["split"] == "train" and (card.parent / f["path"]).is_file(), f

    huggingface_hub = pytest.importorskip("huggingface_hub")
    data = huggingface_hub.DatasetCard.load(card).data.to_dict()
    assert data["license"] == "unknown" and data["configs"] == configs

    datasets = pytest.importorskip("datasets")
    with sqlite3.connect(quickstart / "run.db") as db:
        usable = db.execute("SELECT COUNT(*) FROM samples WHERE status IN ('accepted', 'edited')").fetchone()[
            0
        ]
    for c in configs:
        ds = datasets.load_dataset(
            str(card.parent), c["config_name"], split="train", cache_dir=str(tmp_path / "hf")
        )
        assert len(ds) == usable
    # every export the recipe wrote is listed, with its own row count
    _, body = front_matter(text)
    files = {row[2].strip("`"): number(row[4]) for row in table_rows(section(body, "Files"))}
    assert set(files) == {
        "quickstart.jsonl",
        "llava/quickstart.json",
        "sharegpt/quickstart.json",
        "internvl/quickstart.jsonl",
        "parquet/quickstart.parquet",
        "dataengine/quickstart.json",
    }
    assert files["quickstart.jsonl"] == usable
    rows = (card.parent / "dataengine" / "quickstart.json").read_text("utf-8")
    assert files["dataengine/quickstart.json"] == len(json.loads(rows))


def test_quickstart_card_counts_are_the_runs(quickstart):
    _, body = front_matter((quickstart / "exports" / "README.md").read_text("utf-8"))
    with sqlite3.connect(quickstart / "run.db") as db:
        cells = {
            (d, t, lang, s): n
            for d, t, lang, s, n in db.execute(
                "SELECT domain, type, language, status, COUNT(*) FROM samples GROUP BY 1, 2, 3, 4"
            )
        }
        total = db.execute("SELECT COUNT(*) FROM samples").fetchone()[0]
        mc = dict(
            db.execute(
                "SELECT language || ':' || json_extract(data, '$.answer_letter'), COUNT(*) FROM samples "
                "WHERE type = 'multiple_choice' GROUP BY 1"
            )
        )
        images = db.execute("SELECT COUNT(*) FROM images").fetchone()[0]
    part = section(body, "Samples")
    head = next(line for line in part.splitlines() if line.startswith("|"))
    header = [c.strip() for c in head.strip("|").split(" | ")]
    statuses = [h.replace("\\", "") for h in header[3:-1]]
    seen = {}
    for row in table_rows(part):
        if row[0] == "**total**":
            assert number(row[-1]) == total
            for s, cell in zip(statuses, row[3:-1], strict=True):
                assert number(cell) == sum(n for k, n in cells.items() if k[3] == s)
            continue
        d, t, lang = (c.replace("\\", "") for c in row[:3])
        for s, cell in zip(statuses, row[3:-1], strict=True):
            seen[d, t, lang, s] = number(cell)
        assert number(row[-1]) == sum(cells.get((d, t, lang, s), 0) for s in statuses)
    assert {k: n for k, n in seen.items() if n} == cells

    letters = table_rows(section(body, "Answer balance"))
    for row in letters:
        if row[0] in "ABCD":
            assert number(row[1]) == mc.get(f"en:{row[0]}", 0)
            assert number(row[2]) == mc.get(f"zh:{row[0]}", 0)
    assert f"{total:,} samples over {images:,} images" in body


def test_quickstart_card_renders_without_template_text(quickstart):
    text = (quickstart / "exports" / "README.md").read_text("utf-8")
    _, body = front_matter(text)
    html = MarkdownIt("commonmark").enable("table").render(body)
    assert "{{" not in html and "{%" not in html and "%}" not in html
    assert "<table>" in html
    assert "None" not in body and "nan" not in body.lower().split()


def test_card_command_writes_elsewhere(quickstart, tmp_path):
    from click.testing import CliRunner

    out = tmp_path / "pub" / "README.md"
    res = CliRunner().invoke(cli, ["card", str(quickstart), "--out", str(out)])
    assert res.exit_code == 0, res.output
    front, _ = front_matter(out.read_text("utf-8"))
    for c in front["configs"]:
        assert (out.parent / c["data_files"][0]["path"]).resolve().is_file()


# -- licenses and untrusted text -------------------------------------------------------------
@pytest.fixture(autouse=True)
def key(monkeypatch):
    monkeypatch.setenv("VISINSTRUCT_TEST_KEY", "sk-test")


def _photo(path: Path, seed: int) -> None:
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (240, 180), (seed * 50 % 255, 120, 90))
    ImageDraw.Draw(img).rectangle([20 + seed * 9, 30, 120, 140], fill=(250, 200 - seed * 30, 0))
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, "PNG")


def test_mixed_licenses_are_named_attributed_and_share_alike_warned(fake_openai, tmp_path):
    folder = tmp_path / "imgs"
    rows = [
        {
            "path": "a.png",
            "domain": "ocr",
            "license": "CC BY-SA 4.0",
            "creator": "Ana <b>Bold</b>",
            "title": f"Sign {SCRIPT}",
            "source_page": "https://example.org/a",
        },
        {"path": "b.png", "domain": "ocr", "license": "CC0", "creator": "Bo", "title": "Menu"},
        {"path": "c.png", "domain": "ocr"},  # no license: flagged
    ]
    for n, row in enumerate(rows):
        _photo(folder / row["path"], n + 1)
    manifest = folder / "manifest.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")

    def reply(req: dict) -> str | None:
        text = " ".join(str(m.get("content")) for m in req["messages"])
        if "Describe this image" in text:
            return f"A shop sign reading OPEN. {SCRIPT} The wall is blue, the door is green, " * 8
        return None

    fake_openai.responder = reply
    endpoint = {"base_url": fake_openai.base_url, "provider": "vllm", "api_key_env": "VISINSTRUCT_TEST_KEY"}
    recipe = parse_recipe(
        {
            "name": "licensed",
            "seed": 3,
            "languages": ["en"],
            "sources": [{"manifest": str(manifest)}],
            "endpoints": {
                "vlm": {"model": "fake-vlm", **endpoint},
                "llm": {"model": "fake-model", **endpoint},
            },
            "caption": {"endpoint": "vlm", "languages": ["en"]},
            "instructions": {"endpoint": "llm"},
            "export": [{"format": "jsonl", "out": "licensed.jsonl"}],
        }
    )
    path = tmp_path / "run"
    run(recipe, path, workers=1)
    with RunStore(path, create=False) as store:
        samples = list(store.iter_samples())
        assert samples
        caption = store.contexts_of(samples[0].images[0], "caption")["en"][0]
        assert SCRIPT in caption  # the model wrote it
        # a check reason quoting the model's caption, as a judge's reason may
        samples[0].checks["judge"] = failed(f"the answer contradicts the caption: {caption[:80]}")
        samples[0].status = "rejected"
        store.replace_samples([samples[0]])
        card = write_card(store)
    text = card.read_text("utf-8")
    front, body = front_matter(text)
    assert front["license"] == "other" and front["license_name"] == "mixed"
    sources = section(body, "Image sources and licenses")
    assert "CC BY-SA 4.0" in sources and "CC0 1.0" in sources
    assert "Share-alike" in sources and "same or a compatible license" in sources
    assert "Unknown license" in sources and "c.png" in sources
    attributions = sources.split("### Attributions", 1)[1]
    assert "Ana" in attributions and "Bo" in attributions and "Menu" in attributions
    assert "(<https://example.org/a>)" in attributions
    assert "the answer contradicts the caption" in section(body, "Checks")

    # nothing a model or a source wrote is raw HTML, in the file or once rendered
    assert "<script" not in text and "<b>" not in text
    html = MarkdownIt("commonmark").enable("table").render(body)
    parser = Tags()
    parser.feed(html)
    assert not {"script", "b", "img", "iframe"} & set(parser.tags)
    assert "&lt;script&gt;" in html

    # one license across the sources: its Hub id
    with RunStore(path, create=False) as store:
        store.db.execute("UPDATE images SET provenance = json_set(provenance, '$.license', 'CC0 1.0')")
        store.db.commit()
        front, _ = front_matter(write_card(store).read_text("utf-8"))
    assert front["license"] == "cc0-1.0"


def test_untrusted_text_helpers():
    from visinstruct.report.card import code, md, md_link

    assert "<" not in md("<img src=x onerror=alert(1)>") and "\n" not in md("a\nb")
    assert md("[x](javascript:alert(1))").count("\\[") == 1
    assert md_link("javascript:alert(1)", "x") == "x"
    assert (
        "<" not in code("a<b")
        and code("ok_name") == "`ok_name`"
        and "|" not in code("a|b").replace("\\|", "")
    )
