"""A run's dataset card: the README.md the Hugging Face Hub shows for a dataset repository.

YAML front matter with the Hub's `DatasetCardData` fields (pretty_name, license, language,
multilinguality, task_categories, size_categories, tags) and `configs`, one per data file the
recipe's exports wrote, each `data_files: [{split: train, path: ...}]` relative to the card's
folder: the shape `datasets` reads from a README (`datasets.utils.metadata.MetadataConfigs`), so
`load_dataset(<folder>, <config>)` loads a file. Then, in Markdown: what the data is, how it was
made, counts per domain × type × language × status, answer balance, check results, verification
agreement, cost, image sources with their licenses and attributions, and known limitations.

Every figure comes from the same one-pass statistics the HTML report draws (`report.stats`) and
from the store's own queries. Text a model, a person or a source wrote (check reasons, credits,
titles) is untrusted: it is put in as plain text (HTML special characters as entities, Markdown
punctuation backslash-escaped, no line breaks), and only http(s) addresses become links.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import yaml

from visinstruct.models.ledger import ledger_rows
from visinstruct.records import LETTERS, STATUSES, Sample
from visinstruct.report.charts import fmt_num
from visinstruct.report.html import LANG_NAMES, STATUS_ORDER, _money, _pct
from visinstruct.report.stats import Stats, collect
from visinstruct.store import RunStore, temp_name

CARD_NAME = "README.md"
SHOWN_CREDITS = 100  # attributions listed in the card; the rest counted (every export row has its own)
SHOWN_UNLICENSED = 20
TOP_REASONS = 12
TASK_CATEGORIES = ["visual-question-answering", "image-text-to-text"]
# The Hub's size buckets (upper bound, label).
SIZE_CATEGORIES = [
    (1_000, "n<1K"),
    (10_000, "1K<n<10K"),
    (100_000, "10K<n<100K"),
    (1_000_000, "100K<n<1M"),
    (10_000_000, "1M<n<10M"),
    (100_000_000, "10M<n<100M"),
    (1_000_000_000, "100M<n<1B"),
]
# License identifiers the Hub knows, per (code, version) of `sources.search.licenses`.
HUB_LICENSES = {
    ("cc0", "1.0"): "cc0-1.0",
    **{("by", v): f"cc-by-{v}" for v in ("2.0", "2.5", "3.0", "4.0")},
    **{("by-sa", v): f"cc-by-sa-{v}" for v in ("3.0", "4.0")},
    **{("by-nc", v): f"cc-by-nc-{v}" for v in ("2.0", "3.0", "4.0")},
    ("by-nd", "4.0"): "cc-by-nd-4.0",
    **{("by-nc-nd", v): f"cc-by-nc-nd-{v}" for v in ("3.0", "4.0")},
    **{("by-nc-sa", v): f"cc-by-nc-sa-{v}" for v in ("2.0", "3.0", "4.0")},
}
# the `datasets` builder of each format; the others are JSON
LOADER = {"parquet": "parquet", "parquet-shards": "parquet", "webdataset": "webdataset"}
PREFERRED = ("parquet-shards", "parquet", "jsonl-shards", "jsonl")  # the default config's format, first found


# -- untrusted text -------------------------------------------------------------------------
_MD_PUNCT = re.compile(r"([\\`*_\[\]|~$])")  # inline Markdown (and the Hub's $ math)
_LEADING = re.compile(r"^([#+\-=]|\d+(?=[.)]))")  # what would start a heading or a list
_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}


def md(value: object) -> str:
    """Text as inert Markdown: on one line, HTML special characters as entities (no tag, no
    comment, no entity of its own survives), inline Markdown punctuation backslash-escaped, and
    nothing at its start that would open a heading or a list."""
    text = " ".join(str(value).split())
    text = _MD_PUNCT.sub(r"\\\1", text)
    text = _LEADING.sub(lambda m: m.group(0) + "\\" if m.group(0)[0].isdigit() else "\\" + m.group(0), text)
    return re.sub(r'[&<>"]', lambda m: _HTML[m.group(0)], text)


def code(value: object) -> str:
    """Text as a Markdown code span, or as plain inert text (`md`) when it holds a character a
    code span would pass on raw or end at (a backtick, `<`, `>`, `&`)."""
    text = " ".join(str(value).split())
    if not text or re.search(r"[`<>&|]", text):
        return md(text)
    return f"`{text}`"


def md_link(url: object, text: object) -> str:
    """A Markdown link to an http(s) address (anything else: the text alone)."""
    label = md(text if text not in (None, "") else url)
    if isinstance(url, str) and url.lower().startswith(("https://", "http://")) and url.isprintable():
        return f"[{label}](<{quote(url, safe=':/?#@!$&*+,;=%~')}>)"
    return label


def _table(head: list[str], rows: Iterable[list[str]], right: int = 1) -> str:
    """A Markdown table; columns from `right` on are right-aligned (figures)."""
    align = ["---" if i < right else "---:" for i in range(len(head))]
    lines = ["| " + " | ".join(head) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


# -- the data files -------------------------------------------------------------------------
@dataclass(frozen=True)
class DataFile:
    """One data file an export of the recipe wrote, as the card's `configs` names it (a sharded
    export: the glob of its shards, `train-*.<ext>`, which the Hub's `data_files` takes)."""

    config: str
    format: str
    path: Path
    rows: int
    include: tuple[str, ...]
    absolute_paths: bool = False


def count_rows(path: Path, fmt: str) -> int:
    """Rows of a file our exports wrote: Parquet from its footer, JSON Lines by line, and a JSON
    array (written one element a line, `export.common.JsonArray`) by line less its brackets."""
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows
    with open(path, "rb") as f:
        lines = sum(1 for line in f if line.strip())
    return lines if path.suffix == ".jsonl" else max(0, lines - 2)


def export_files(store: RunStore) -> list[DataFile]:
    """The data files of the run's recipe exports that are on disk, in recipe order."""
    from visinstruct.export.llava import MULTI_IMAGE_SUFFIX
    from visinstruct.export.shards import SHARD_FORMATS, index_path, read_index, shard_glob

    recipe = store.get_meta("recipe", {}) or {}
    found: list[tuple[str, str, Path, dict]] = []
    sharded: dict[Path, int] = {}  # rows of each sharded export, from its index
    for spec in recipe.get("export") or []:
        path = store.dir / "exports" / spec["out"]
        fmt = spec["format"]
        if fmt in SHARD_FORMATS:
            index = read_index(index_path(path, fmt))
            if index is not None and index.get("complete") and index["shards"]:
                sharded[shard_glob(path, fmt)] = int(index.get("rows") or 0)
                found.append((fmt, fmt, shard_glob(path, fmt), spec))
            continue
        if path.is_file():
            found.append((fmt, fmt, path, spec))
        if fmt == "llava" and spec.get("single_image"):
            multi = path.with_name(f"{path.stem}{MULTI_IMAGE_SUFFIX}.json")
            if multi.is_file():
                found.append((f"{fmt}-multi-image", fmt, multi, spec))
    names = Counter(name for name, *_ in found)
    out, taken = [], set()
    for name, fmt, path, spec in found:
        stem = path.parent.name if fmt in SHARD_FORMATS else path.stem  # shards: their folder
        config = name if names[name] == 1 else f"{name}-{re.sub(r'[^A-Za-z0-9_-]+', '-', stem)}"
        while config in taken:
            config += "-x"
        taken.add(config)
        include = tuple(spec.get("include") or ("accepted", "edited"))
        rows = sharded[path] if path in sharded else count_rows(path, fmt)
        out.append(DataFile(config, fmt, path, rows, include, bool(spec.get("absolute_paths"))))
    return out


def _default(files: list[DataFile]) -> DataFile | None:
    for fmt in PREFERRED:
        for f in files:
            if f.format == fmt:
                return f
    return files[0] if files else None


def loader(f: DataFile) -> str:
    """The `datasets` builder that reads the file."""
    return LOADER.get(f.format, "json")


def config_files(files: list[DataFile]) -> list[DataFile]:
    """The files the card's `configs` name: the default one first, then the others its builder
    reads. `datasets` picks one builder for a folder, from its first config's files (a Parquet
    config beside JSON ones would be read as JSON), so the rest are listed but not configs."""
    default = _default(files)
    if default is None:
        return []
    return [default] + [f for f in files if f is not default and loader(f) == loader(default)]


def size_category(n: int) -> str:
    return next((label for top, label in SIZE_CATEGORIES if n < top), "n>1B")


# -- licenses -------------------------------------------------------------------------------
@dataclass
class Licenses:
    """The image licenses of a run: per (code, version) the images, and the images without one."""

    counts: list[tuple[str | None, str | None, str, int]]  # (code, version, as recorded, images)
    unlicensed: int
    unlicensed_refs: list[tuple[str, str]]
    drawn: int
    total: int

    @property
    def codes(self) -> set[str]:
        return {c or "" for c, *_ in self.counts}

    def hub_id(self) -> str:
        """The Hub license id: the one license every image from a source carries, "unknown" when
        no image names one (drawn images and sources without a license), else "other"."""
        keys = {(c, v) for c, v, *_ in self.counts}
        if not keys:
            return "unknown"
        if len(keys) == 1 and not self.unlicensed:
            return HUB_LICENSES.get(next(iter(keys)), "other")
        return "other"


def licenses(store: RunStore) -> Licenses:
    from visinstruct.sources.search.licenses import normalise_license

    merged: dict[tuple[str | None, str | None], list] = {}
    for raw, version, n in store.license_version_counts():
        code, ver = normalise_license(raw)
        key = (code, str(version) if version else ver) if code else (None, None)
        entry = merged.setdefault(key if code else (None, str(raw)), [key[0], key[1], str(raw), 0])
        entry[3] += n
    n_unlicensed, refs = store.unlicensed_images(limit=SHOWN_UNLICENSED)
    total = store.count_images()
    licensed = sum(e[3] for e in merged.values())
    counts = sorted((tuple(e) for e in merged.values()), key=lambda e: (-e[3], e[2]))
    return Licenses(counts, n_unlicensed, refs, total - licensed - n_unlicensed, total)  # type: ignore[arg-type]


def _license_title(code: str | None, version: str | None, raw: str) -> str:
    from visinstruct.sources.search.licenses import license_name

    return license_name(code, version) if code else f"{raw} (not a license this program recognises)"


# -- provenance -----------------------------------------------------------------------------
@dataclass
class Making:
    """How the samples were made, tallied from their provenance as they stream by."""

    generators: Counter
    prompts: Counter
    engines: Counter


def _tally(samples: Iterable[Sample], making: Making) -> Iterator[Sample]:
    for s in samples:
        p = s.provenance or {}
        making.generators[str(p.get("generator") or "unknown"), str(p.get("generator_version") or "")] += 1
        for key in ("prompt", "caption_prompt"):
            if p.get(key):
                making.prompts[key, str(p[key])] += 1
        translation = p.get("translation")
        if isinstance(translation, dict) and translation.get("prompt"):
            making.prompts["translation_prompt", str(translation["prompt"])] += 1
        if p.get("engine"):
            making.engines[str(p["engine"])] += 1
        yield s


# -- the card -------------------------------------------------------------------------------
def write_card(store: RunStore, out: Path | None = None) -> Path:
    """Write the run's dataset card to `out` (default: `<run-dir>/exports/README.md`) atomically."""
    out = Path(out) if out is not None else store.dir / "exports" / CARD_NAME
    text = render_card(store, out.parent)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_name(out)
    try:
        tmp.write_text(text, encoding="utf-8", newline="\n")
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def render_card(store: RunStore, folder: Path) -> str:
    """The card's text; data file paths are relative to `folder`, where the card goes."""
    making = Making(Counter(), Counter(), Counter())
    stats, _ = collect(_tally(store.iter_samples(), making), gallery=0)
    recipe = store.get_meta("recipe", {}) or {}
    name = str(recipe.get("name") or store.dir.name)
    files = export_files(store)
    lic = licenses(store)
    ledger = ledger_rows(store.db)
    front = _front_matter(name, stats, files, lic, folder, making)
    body = [
        f"# {md(name)}",
        _intro(name, stats, files, lic),
        _files(files, folder),
        _how_made(store, recipe, making, ledger),
        _counts(stats),
        _balance(stats),
        _checks(stats),
        _verification(stats),
        _cost(stats, ledger),
        _sources(store, lic),
        _limitations(stats, files, lic, ledger, making),
    ]
    head = yaml.safe_dump(front, sort_keys=False, allow_unicode=True, width=1000)
    return "---\n" + head + "---\n\n" + "\n\n".join(b for b in body if b) + "\n"


def _rel(path: Path, folder: Path) -> str:
    return Path(os.path.relpath(path.resolve(), folder.resolve())).as_posix()


def _front_matter(
    name: str, stats: Stats, files: list[DataFile], lic: Licenses, folder: Path, making: Making
) -> dict:
    configs = config_files(files)
    n = configs[0].rows if configs else stats.usable
    front: dict = {"pretty_name": name, "license": lic.hub_id()}
    if front["license"] == "other":
        front["license_name"] = (
            "mixed"
            if len(lic.counts) + bool(lic.unlicensed) > 1
            else re.sub(r"\W+", "-", lic.counts[0][2]).lower()
        )
        front["license_details"] = "See the section 'Image sources and licenses' of this card."
    langs = stats.languages()
    if langs:
        front["language"] = langs
        front["multilinguality"] = "multilingual" if len(langs) > 1 else "monolingual"
    front["task_categories"] = list(TASK_CATEGORIES)
    front["size_categories"] = [size_category(n)]
    tags = ["visinstruct", "visual-instruction-tuning", "multimodal"]
    if any(g.startswith("synth/") for g, _ in making.generators):
        tags.append("synthetic")
    front["tags"] = tags
    if configs:
        front["configs"] = [
            {
                "config_name": f.config,
                "data_files": [{"split": "train", "path": _rel(f.path, folder)}],
                **({"default": True} if i == 0 else {}),
            }
            for i, f in enumerate(configs)
        ]
    return front


def _intro(name: str, stats: Stats, files: list[DataFile], lic: Licenses) -> str:
    types = ", ".join(code(t) for t in stats.types()) or "none"
    langs = ", ".join(f"{md(lang)} ({md(LANG_NAMES.get(lang, lang))})" for lang in stats.languages())
    domains = ", ".join(md(d) for d in stats.domains()) or "none"
    lines = [
        f"Visual instruction-tuning data made with visinstruct from the recipe "
        f"{code(name)}: {fmt_num(stats.total)} samples over {fmt_num(lic.total)} images, in "
        f"{len(stats.domains())} domains ({domains}), instruction types {types}, "
        f"languages {langs or 'none'}.",
        "",
        f"Of the {fmt_num(stats.total)} samples, {fmt_num(stats.usable)} passed the checks "
        f"(accepted {fmt_num(stats.by_status['accepted'])}, edited {fmt_num(stats.by_status['edited'])}), "
        f"{fmt_num(stats.by_status['needs_review'])} await review and "
        f"{fmt_num(stats.by_status['rejected'])} were rejected. Each sample is one or more images with "
        "a question and its answer (several turns for `long_vqa`; four options and a correct letter "
        "for `multiple_choice`; a caption request and the image's caption for `caption`).",
    ]
    if not files:
        lines += ["", "**No export of the run is on disk yet**: this card names no data file."]
    return "\n".join(lines)


def _files(files: list[DataFile], folder: Path) -> str:
    if not files:
        return ""
    configs = config_files(files)
    rows = [
        [
            code(f.config) if f in configs else "–",
            md(f.format),
            code(_rel(f.path, folder)),
            ", ".join(md(s) for s in f.include),
            fmt_num(f.rows),
        ]
        for f in files
    ]
    default = configs[0]
    others = [f for f in files if f not in configs]
    lines = [
        "## Files",
        "",
        _table(["config", "format", "file", "statuses", "rows"], rows, right=4),
        "",
        f"Each config is one file, or the shards of one export (a glob), as a single `train` split; "
        f"{code(default.config)} is the default. Parquet files and WebDataset tars embed their images; "
        "the JSON files refer to images under `images/` beside them.",
        "",
        "```python",
        "from datasets import load_dataset",
        f'ds = load_dataset("path/to/this/folder", {json.dumps(default.config)}, split="train")',
    ]
    for f in others[:1]:
        lines.append(
            f"rows = load_dataset({json.dumps(loader(f))}, data_files={json.dumps(_rel(f.path, folder))}, "
            'split="train")'
        )
    lines.append("```")
    if others:
        lines += [
            "",
            "The files without a config are the training formats of other trainers; `datasets` reads "
            f"them with its {code(loader(others[0]))} builder given `data_files`, as above.",
        ]
    return "\n".join(lines)


def _how_made(store: RunStore, recipe: dict, making: Making, ledger: list[tuple]) -> str:
    lines = ["## How it was made", ""]
    lines.append(
        f"- Recipe: {code(recipe.get('name') or store.dir.name)}, seed {md(recipe.get('seed', '–'))}"
    )
    fingerprint = store.get_meta("recipe_hash")
    if fingerprint:
        lines.append(f"- Recipe fingerprint: {code(fingerprint)}")
    if making.engines:
        lines.append("- visinstruct version: " + ", ".join(f"{md(v)}" for v in sorted(making.engines)))
    catalog = store.get_meta("catalog_version") or recipe.get("catalog_version")
    if catalog:
        lines.append(f"- Domain catalog version: {md(catalog)}")
    else:
        lines.append("- Domain catalog version: not recorded by the run")
    lines += ["", "Generators (the `generator` of each sample's provenance):", ""]
    lines.append(
        _table(
            ["generator", "version", "samples"],
            [
                [code(g), md(v) if v else "–", fmt_num(n)]
                for (g, v), n in sorted(making.generators.items(), key=lambda kv: (-kv[1], kv[0]))
            ],
            right=2,
        )
    )
    lines.append("")
    calls = [r for r in ledger if r[3] or r[4]]
    if calls:
        lines += ["Models per endpoint and stage (from the run's ledger):", ""]
        lines.append(
            _table(
                ["endpoint", "stage", "model", "requests", "from cache"],
                [
                    [md(ep), md(st), code(model), fmt_num(req), fmt_num(c)]
                    for ep, st, model, req, c, *_ in calls
                ],
                right=3,
            )
        )
    else:
        lines.append("No model was called: every question and answer was written by the generators above.")
    lines.append("")
    if making.prompts:
        lines += ["Prompts (id @ version, as recorded in each sample's provenance):", ""]
        lines.append(
            _table(
                ["use", "prompt", "samples"],
                [
                    [md(k.replace("_", " ")), code(ref), fmt_num(n)]
                    for (k, ref), n in sorted(making.prompts.items())
                ],
                right=2,
            )
        )
    else:
        lines.append("No prompt was used (no sample records one).")
    return "\n".join(lines)


def _statuses(stats: Stats) -> list[str]:
    return [s for s in STATUS_ORDER if s in stats.by_status] + sorted(set(stats.by_status) - set(STATUSES))


def _counts(stats: Stats) -> str:
    if not stats.total:
        return "## Samples\n\nThe run has no samples."
    statuses = list(STATUS_ORDER) + sorted(set(stats.by_status) - set(STATUS_ORDER))
    rows = []
    for d in stats.domains():
        for t in stats.types():
            for lang in stats.languages():
                cells = [stats.by_cell.get((d, t, lang, s), 0) for s in statuses]
                if sum(cells):
                    rows.append([md(d), md(t), md(lang), *map(fmt_num, cells), fmt_num(sum(cells))])
    totals = [stats.by_status.get(s, 0) for s in statuses]
    rows.append(["**total**", "", "", *(f"**{fmt_num(n)}**" for n in totals), f"**{fmt_num(stats.total)}**"])
    return "\n".join(
        [
            "## Samples",
            "",
            "Every sample of the run, per domain × instruction type × language × status. The data files "
            "hold the statuses named in their row of **Files**.",
            "",
            _table(["domain", "type", "language", *(md(s) for s in statuses), "total"], rows, right=3),
        ]
    )


def _share(n: int, total: int) -> str:
    return f"{fmt_num(n)} ({_pct(n, total)})"


def _balance(stats: Stats) -> str:
    parts = [
        "## Answer balance",
        "",
        "A model should not learn that one letter or “yes” is usually right: per language, each "
        "letter should be near 25% and each of yes and no near 50%.",
    ]
    langs = [lang for lang in stats.languages() if any(k[0] == lang for k in stats.letters)]
    if langs:
        letters = sorted({letter for _, letter in stats.letters} | set(LETTERS))
        totals = {lang: sum(stats.letters.get((lang, x), 0) for x in letters) for lang in langs}
        rows = [
            [
                md(x),
                *(_share(stats.letters.get((lang, x), 0), totals[lang]) for lang in langs),
            ]
            for x in letters
        ]
        rows.append(["**samples**", *(f"**{fmt_num(totals[lang])}**" for lang in langs)])
        parts += ["", "Multiple choice, correct letter:", "", _table(["letter", *map(md, langs)], rows)]
    else:
        parts += ["", "No multiple-choice samples."]
    langs = [lang for lang in stats.languages() if any(k[0] == lang for k in stats.yes_no)]
    if langs:
        answers = ["yes", "no"] + (["other"] if any(k[1] == "other" for k in stats.yes_no) else [])
        totals = {lang: sum(stats.yes_no.get((lang, a), 0) for a in answers) for lang in langs}
        rows = [
            [
                a,
                *(_share(stats.yes_no.get((lang, a), 0), totals[lang]) for lang in langs),
            ]
            for a in answers
        ]
        rows.append(["**samples**", *(f"**{fmt_num(totals[lang])}**" for lang in langs)])
        parts += ["", "Judgement, yes / no:", "", _table(["answer", *map(md, langs)], rows)]
    else:
        parts += ["", "No judgement samples."]
    return "\n".join(parts)


def _checks(stats: Stats) -> str:
    if not stats.failed_checks:
        return "## Checks\n\nEvery check passed on every sample."
    rows = [
        [code(n), md(sev), fmt_num(c)]
        for (n, sev), c in sorted(stats.failed_checks.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    top = stats.reasons.most_common(TOP_REASONS)
    reasons = [[code(n), md(r), fmt_num(c)] for (n, r), c in top]
    return "\n".join(
        [
            "## Checks",
            "",
            "A failed `reject` check rejects the sample; a failed `review` check sends it to review.",
            "",
            _table(["check", "severity", "failed samples"], rows, right=2),
            "",
            f"Most common reasons (top {len(top)}):",
            "",
            _table(["check", "reason", "samples"], reasons, right=2),
        ]
    )


def _verification(stats: Stats) -> str:
    if not stats.verified:
        return "## Verification\n\nNo sample was verified by a second model."
    disagree = sum(n for (_, v), n in stats.verify_type.items() if v == "disagree")
    rows = []
    for t in stats.types():
        agree, dis = stats.verify_type.get((t, "agree"), 0), stats.verify_type.get((t, "disagree"), 0)
        if agree or dis:
            rows.append([md(t), fmt_num(agree + dis), fmt_num(agree), fmt_num(dis), _pct(agree, agree + dis)])
    return "\n".join(
        [
            "## Verification",
            "",
            f"A second model answered {fmt_num(stats.verified)} samples independently; it agreed on "
            f"{fmt_num(stats.verified - disagree)} ({_pct(stats.verified - disagree, stats.verified)}).",
            "",
            _table(["type", "verified", "agree", "disagree", "rate"], rows),
        ]
    )


def _cost(stats: Stats, ledger: list[tuple]) -> str:
    if not ledger or not any(r[3] or r[4] or r[9] for r in ledger):
        return "## Cost\n\nNo model calls: the run cost nothing in model spend."
    spend = sum(r[9] for r in ledger)
    tin, tout = sum(r[7] for r in ledger), sum(r[8] for r in ledger)
    per_k = _money(1000 * spend / stats.usable) if stats.usable else "–"
    return "\n".join(
        [
            "## Cost",
            "",
            f"Model spend recorded in the run's ledger: {_money(spend)} ({fmt_num(tin)} input and "
            f"{fmt_num(tout)} output tokens), {per_k} per 1,000 accepted samples (accepted and edited: "
            f"{fmt_num(stats.usable)}).",
        ]
    )


def _sources(store: RunStore, lic: Licenses) -> str:
    lines = ["## Image sources and licenses", ""]
    lines.append(
        f"{fmt_num(lic.total)} images: {fmt_num(lic.drawn)} drawn by visinstruct's generators, "
        f"{fmt_num(sum(c[3] for c in lic.counts))} with a license named by their source, "
        f"{fmt_num(lic.unlicensed)} from a source that names no license."
    )
    if not lic.counts and not lic.unlicensed:
        lines += [
            "",
            "No image comes from a third party, so no image license applies; the card says "
            "`license: unknown` until you set the license you publish the data under.",
        ]
    elif not lic.counts:
        lines += ["", "No image names a license: the card says `license: unknown`."]
    datasets = store.dataset_counts()
    if datasets:
        lines += ["", "Datasets imported:", ""]
        lines.append(
            _table(
                ["dataset", "images", "samples"],
                [[md(d), fmt_num(n), fmt_num(made)] for d, n, _, _, made in datasets],
            )
        )
    if lic.counts:
        lines += ["", "Images per license:", ""]
        lines.append(
            _table(
                ["license", "images"],
                [[md(_license_title(c, v, raw)), fmt_num(n)] for c, v, raw, n in lic.counts],
            )
        )
    if len(lic.counts) > 1:
        lines += [
            "",
            "**Mixed licenses**: the images carry "
            + ", ".join(md(_license_title(c, v, raw)) for c, v, raw, _ in lic.counts)
            + ". Each image keeps its own license (every export row names it in `attribution`); "
            "the card's `license: other` stands for that mix.",
        ]
    codes = lic.codes
    if any("sa" in c.split("-") for c in codes):
        lines += [
            "",
            "**Share-alike**: some images are under a CC BY-SA (ShareAlike) license. If you adapt "
            "them (crop, edit, or build on them), you must share the adaptation under the same or a "
            "compatible license, and credit their creators.",
        ]
    if any("nc" in c.split("-") for c in codes):
        lines += ["", "**Non-commercial**: some images may not be used for commercial purposes."]
    if any("nd" in c.split("-") for c in codes):
        lines += ["", "**No derivatives**: some images may not be shared in adapted form."]
    if lic.unlicensed:
        refs = ", ".join(code(ref) for _, ref in lic.unlicensed_refs)
        more = lic.unlicensed - len(lic.unlicensed_refs)
        lines += [
            "",
            f"**Unknown license**: {fmt_num(lic.unlicensed)} images came from a source that names no "
            f"license: {refs}" + (f" and {fmt_num(more)} more" if more > 0 else "") + ". Make sure you "
            "may publish them before you do.",
        ]
    licensed = sum(c[3] for c in lic.counts)
    if licensed:
        from visinstruct.report.html import _license_label

        shown = store.licensed_images(limit=SHOWN_CREDITS)
        lines += ["", "### Attributions", ""]
        for image_id, prov in shown:
            work = md_link(prov.get("source_page"), prov.get("title") or prov.get("url") or image_id[:12])
            creator = md_link(prov.get("creator_url"), prov.get("creator") or "unknown creator")
            license_ = md_link(prov.get("license_url"), _license_label(prov))
            lines.append(f"- {work} by {creator}, {license_} (image {code(image_id[:12])})")
        if licensed > len(shown):
            lines += [
                "",
                f"… and {fmt_num(licensed - len(shown))} more images; every export row carries its "
                "images' attribution (`attribution`).",
            ]
    return "\n".join(lines)


def _limitations(
    stats: Stats, files: list[DataFile], lic: Licenses, ledger: list[tuple], making: Making
) -> str:
    items = [
        "The questions and answers were written by programs and models, and checked by automatic "
        "rules: some may still be wrong, ambiguous or badly phrased.",
    ]
    if any(g.startswith("synth/") for g, _ in making.generators):
        items.append(
            "Drawn images (charts, tables, diagrams, scenes) are simpler and more regular than "
            "photographs or scans; a model trained on them alone may not transfer to real images."
        )
    if any(r[3] or r[4] for r in ledger):
        items.append("Text written by a model may be subject to the terms of use of that model's provider.")
    if stats.by_status["needs_review"]:
        items.append(
            f"{fmt_num(stats.by_status['needs_review'])} samples await review; a data file holds them "
            "only when its statuses name `needs_review`."
        )
    absolute = [f.config for f in files if f.absolute_paths]
    if absolute:
        items.append(
            "The files of " + ", ".join(code(c) for c in absolute) + " hold absolute image paths "
            "of the machine they were written on; they do not resolve elsewhere."
        )
    if lic.unlicensed:
        items.append(f"{fmt_num(lic.unlicensed)} images have no known license.")
    items.append("Only the languages listed in the front matter are covered.")
    return "## Known limitations\n\n" + "\n".join(f"- {i}" for i in items)
