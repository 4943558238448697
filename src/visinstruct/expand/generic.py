"""Generic importers: an existing VQA or instruction dataset brought in as it is.

Four layouts, each a `(root, split, **options)` reader (see `visinstruct.expand`):

* `read_llava` — LLaVA instruction data: a JSON array (or JSON Lines) of `{id, image,
  conversations: [{from: human|gpt, value}]}`, `image` a path or a list of paths (LLaVA-NeXT /
  OneVision). Followed: haotian-liu/LLaVA `docs/Finetune_Custom_Data.md` and
  `llava/train/train.py` (`LazySupervisedDataset`: `image` joined to the image folder,
  `<image>` the placeholder, `llava/constants.py`).
* `read_sharegpt` — LLaMA-Factory's ShareGPT layout: `messages` with `role`/`content`
  (user/assistant/system, as `data/mllm_demo.json`) or `conversations` with `from`/`value`
  (human/gpt/system, the defaults of `DatasetAttr`), and an `images` list. Followed:
  hiyouga/LLaMA-Factory `data/README.md` ("Sharegpt Format", "Multimodal Image Dataset"),
  `src/llamafactory/data/parser.py` (the default tags) and `src/llamafactory/data/converter.py`
  (`SharegptDatasetConverter`: a leading system message is the system prompt; the rest must
  alternate user/assistant and come in pairs, else the example is skipped as broken; media
  paths are joined to the media folder). A `dataset_info.json` in the folder that registers
  `split` names the file, its columns and its tags.
* `read_vqa` — JSON Lines or CSV rows of image path, question, answer and options.
* `read_hf` — a Hugging Face dataset (a `save_to_disk` folder, parquet/arrow, or a Hub name)
  with question / answer / options / image columns, loaded by `visinstruct.sources.hf`.

`root` is the data file, or a folder holding `<split>.json` / `<split>.jsonl` / `<split>.csv`
(or a single data file). Image paths are resolved against `image_root` (default: the data
file's folder; for `read_hf`, the dataset's folder) and must stay inside it.

**Conversations** (LLaVA, ShareGPT) become `Dialogue`s, their turns verbatim with the `<image>`
placeholders removed (an export places them again, one per image, before the first question).
Records are grouped by their image (the same path, or the same list of paths for a
multi-image record: `more_images`), in the order the file first names each. The type of a
dialogue is read from its text:

* `multiple_choice` — one turn whose question lists four options as lines "A. …" to "D. …"
  (the layout the rules check) and whose answer is a letter ("B", "(B)", "B. red"):
  `options` are the lines' texts, `answer_letter` the letter, `short_answer` its option;
* `judgement` — one turn answered by yes or no ("Yes", "No, it is not", "是", "否"; at most
  40 words): `short_answer` "yes" / "no";
* `short_vqa` — one turn with a short answer (a word, a number, a phrase of at most 8 words,
  20 characters in Chinese, on one line): `short_answer` the answer;
* `caption` — one turn with a longer answer (a description, an explanation): the type of one
  long answer, since a `long_vqa` is a conversation of at least two turns;
* `long_vqa` — two turns or more.

The language is Chinese when the first question holds Han characters, else English.

**Tables** (VQA, HF) become `Truth`s, grouped by image (by path for files, by content for
dataset images: a shared image is kept once, with every question about it). The answer:

* with options (a JSON list, or text split on "|" or lines; "A. " prefixes dropped): a letter,
  a 0-based index (a number) or an option's text → the option's text, kind `choice`;
  anything else is a bad record ("not among the choices");
* without: yes/no (and true/false) → "yes"/"no", kind `yes_no`; a number → as a person
  writes it (`fmt_answer`), kind `number`; else the text, kind `text`.

`answer_raw` keeps the value as the file has it. Optional columns: `id` (or `question_id`,
`qid`; default `<file>:<line>` or `row<n>`), `category`, `solution` (or `explanation`: its
lines become the solution steps).

A record that cannot be used — a line that does not parse, no question or no answer, a broken
conversation, an image missing or outside the image folder — is a `BadRecord` with the dataset,
the record id and the reason; the rest imports.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from visinstruct.answers import LETTERS, answer_letter, unlettered_options, yes_no
from visinstruct.checks.rules import DEFAULT_LIMITS, option_lines, units
from visinstruct.expand.base import BadRecord, DatasetImage, Dialogue, Truth, fmt_answer, inside, load_json
from visinstruct.sources.ingest import SourceError

#: The domain of an imported image when the recipe's source names none (`domain:` sets it).
DOMAIN = "complex_reasoning"

_IMAGE_TAG = re.compile(r"<image>\n?")
_HAN = re.compile(r"[\u4e00-\u9fff]")
_NUMBER = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)")
_LETTER = re.compile(r"\s*[(（]?([A-Da-d])(?:$|[\s.．、:：)）,，])")
_ID_COLUMNS = ("id", "question_id", "qid")
_SOLUTION_COLUMNS = ("solution", "explanation")
_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant"}


# -- files --------------------------------------------------------------------------------


def data_file(root: Path, split: str, dataset: str, suffixes: tuple[str, ...]) -> Path:
    """The file to read: `root` itself, or in the folder `root` the file `<split><suffix>`, or
    its only data file."""
    if root.is_file():
        return root
    for suffix in suffixes:
        if (root / f"{split}{suffix}").is_file():
            return root / f"{split}{suffix}"
    found = sorted(p for p in root.iterdir() if p.suffix.lower() in suffixes and p.is_file())
    found = [p for p in found if p.name != "dataset_info.json"]
    if len(found) == 1:
        return found[0]
    names = " or ".join(f"{split}{s}" for s in suffixes)
    raise SourceError(
        f"{dataset}: no {names} in {root}" + (f" (several data files: {found})" if found else "")
    )


def image_base(image_root: Any, file: Path) -> Path:
    """Where relative image paths point: `image_root` (relative to the data file's folder), or
    the data file's folder."""
    if image_root in (None, ""):
        return file.parent.resolve()
    p = Path(os.fspath(image_root))
    return (p if p.is_absolute() else file.parent / p).resolve()


class _Images:
    """Image paths resolved inside the image folder, each checked once."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.known: dict[str, tuple[str | None, str | None]] = {}

    def resolve(self, rel: Any) -> tuple[str | None, str | None]:
        """(absolute path, None) or (None, why it cannot be used)."""
        if not isinstance(rel, str) or not rel.strip():
            return None, f"image {rel!r} is not a path"
        hit = self.known.get(rel)
        if hit is None:
            full = inside(self.base, rel)
            if full is None:
                hit = (None, f"image {rel!r} leaves the image folder {self.base}")
            elif not full.is_file():
                hit = (None, f"image {rel!r} not found in {self.base}")
            else:
                hit = (str(full), None)
            self.known[rel] = hit
        return hit


def _lang(text: str) -> str:
    return "zh" if _HAN.search(text) else "en"


# -- conversations: LLaVA and ShareGPT ------------------------------------------------------


@dataclass
class _Group:
    """The records of one image (or one list of images) while a file is read."""

    paths: list[str]
    rels: list[str]
    dialogues: list[Dialogue] = field(default_factory=list)


def dialogue(qid: str, turns: list[tuple[str, str]]) -> Dialogue:
    """A conversation with its type read from its text (see the module docstring)."""
    lang = _lang(turns[0][0])
    d = Dialogue(qid=qid, turns=turns, lang=lang)
    if len(turns) > 1:
        d.type = "long_vqa"
        return d
    question, answer = turns[0]
    found = option_lines(question)
    if found is not None:
        options = [text for _, _, text in found[1]]
        m = _LETTER.match(answer)
        try:
            letter = answer_letter(answer.strip(), options)
        except ValueError:
            letter = None
        if letter is not None and m is not None and m.group(1).upper() == letter:
            d.type, d.options, d.answer_letter = "multiple_choice", options, letter
            d.short_answer = options[LETTERS.index(letter)]
            return d
    if found is None and units(answer) <= DEFAULT_LIMITS[lang]["judgement"][1]:
        try:
            d.short_answer = yes_no(answer)
            d.type = "judgement"
            return d
        except ValueError:
            pass
    short = answer.strip()
    if short and "\n" not in short and units(short) <= DEFAULT_LIMITS[lang]["short_vqa"][1]:
        d.type, d.short_answer = "short_vqa", short
        return d
    d.type = "caption"
    return d


def _strip_tags(text: str) -> str:
    out = _IMAGE_TAG.sub("", text)
    return out.strip() if out != text else out


def _turns(messages: Any, role_tag: str, content_tag: str, tags: dict[str, str]) -> list[tuple[str, str]]:
    """(question, answer) pairs of a conversation; ValueError saying why it is broken."""
    if not isinstance(messages, list) or not messages:
        raise ValueError("no conversation")
    msgs = list(messages)
    first = msgs[0]
    if isinstance(first, dict) and first.get(role_tag) == tags.get("system", "system"):
        msgs = msgs[1:]  # the system prompt: not part of the sample
    turns: list[tuple[str, str]] = []
    for n, m in enumerate(msgs, 1):
        if not isinstance(m, dict):
            raise ValueError(f"message {n} is not an object")
        role = tags.get(m.get(role_tag)) if isinstance(m.get(role_tag), str) else None
        want = "user" if n % 2 else "assistant"
        if role != want:
            raise ValueError(f"message {n} has role {m.get(role_tag)!r}, expected the {want}'s")
        text = m.get(content_tag)
        if not isinstance(text, str):
            raise ValueError(f"message {n} has no text in {content_tag!r}")
        text = _strip_tags(text)
        if not text.strip():
            raise ValueError(f"message {n} is empty")
        if role == "user":
            turns.append((text, ""))
        else:
            turns[-1] = (turns[-1][0], text)
    if not turns:
        raise ValueError("no conversation")
    if len(msgs) % 2:
        raise ValueError("the conversation ends with a question and no answer")
    return turns


def _records(file: Path, dataset: str) -> Iterator[tuple[str, Any]]:
    """(position, record) of a JSON array or JSON Lines file; a line that does not parse comes
    as (position, reason)."""
    if file.suffix.lower() in (".jsonl", ".ndjson"):
        try:
            with open(file, encoding="utf-8-sig") as f:
                for n, text in enumerate(f, 1):
                    if not text.strip():
                        continue
                    try:
                        yield f"{file.name}:{n}", json.loads(text)
                    except ValueError as e:
                        yield f"{file.name}:{n}", _Unparsed(f"line {n} is not valid JSON ({e})")
        except OSError as e:
            raise SourceError(f"{dataset}: cannot read {file} ({e.strerror or e})") from None
        except UnicodeDecodeError as e:
            raise SourceError(f"{dataset}: {file} is not UTF-8 text ({e})") from None
        return
    data = load_json(file, dataset)
    if not isinstance(data, list):
        raise SourceError(f"{dataset}: {file} is not a JSON array of records (got {type(data).__name__})")
    for n, record in enumerate(data, 1):
        yield f"{file.name}#{n}", record


@dataclass
class _Unparsed:
    reason: str


def _conversations(
    root: Path,
    split: str,
    dataset: str,
    options: dict[str, Any],
    file: Path,
    read_one,
) -> Iterator[DatasetImage | BadRecord]:
    """Records of `file` through `read_one(record) -> (images, turns)`, grouped by image."""
    images = _Images(image_base(options.get("image_root"), file))
    groups: dict[tuple[str, ...], _Group] = {}
    order: list[tuple[str, ...] | BadRecord] = []
    seen: set[str] = set()
    for where, record in _records(file, dataset):
        if isinstance(record, _Unparsed):
            order.append(BadRecord(dataset, where, record.reason))
            continue
        rid = record.get("id") if isinstance(record, dict) else None
        qid = str(rid) if isinstance(rid, (str, int)) and str(rid).strip() else where
        if qid in seen:
            qid = f"{qid}@{where}"
        seen.add(qid)
        if not isinstance(record, dict):
            order.append(BadRecord(dataset, qid, f"not a JSON object (got {type(record).__name__})"))
            continue
        try:
            rels, turns = read_one(record)
        except ValueError as e:
            order.append(BadRecord(dataset, qid, str(e)))
            continue
        if not rels:
            order.append(BadRecord(dataset, qid, "no image (text-only records are not visual data)"))
            continue
        resolved = [images.resolve(rel) for rel in rels]
        why = next((why for path, why in resolved if path is None), None)
        if why is not None:
            order.append(BadRecord(dataset, qid, why))
            continue
        paths = [path for path, _ in resolved if path is not None]
        key = tuple(paths)
        group = groups.get(key)
        if group is None:
            group = groups[key] = _Group(paths, [str(r) for r in rels])
            order.append(key)
        group.dialogues.append(dialogue(qid, turns))
    for entry in order:
        if isinstance(entry, BadRecord):
            yield entry
            continue
        g = groups[entry]
        yield DatasetImage(
            dataset=dataset,
            split=split,
            ref=f"{dataset}:{split}/{'+'.join(g.rels)}",
            questions=[],
            dialogues=g.dialogues,
            path=g.paths[0],
            more_images=g.paths[1:],
            domain=DOMAIN,
            provenance={"dataset": dataset, "split": split, "file": file.name, "image": g.rels[0]}
            | ({"images": g.rels} if len(g.rels) > 1 else {}),
        )


def read_llava(root: Path, split: str = "train", **options: Any) -> Iterator[DatasetImage | BadRecord]:
    """LLaVA instruction data (see the module docstring)."""
    file = data_file(root, split, "llava", (".json", ".jsonl"))
    tags = {"human": "user", "gpt": "assistant", "system": "system"}

    def read_one(record: dict) -> tuple[list[Any], list[tuple[str, str]]]:
        image = record.get("image")
        rels = [] if image in (None, "", []) else image if isinstance(image, list) else [image]
        return rels, _turns(record.get("conversations"), "from", "value", tags)

    return _conversations(root, split, "llava", options, file, read_one)


def _sharegpt_entry(root: Path, split: str) -> dict[str, Any] | None:
    """The `dataset_info.json` entry registering `split` in the folder `root`, if any."""
    info = root / "dataset_info.json" if root.is_dir() else None
    if info is None or not info.is_file():
        return None
    entries = load_json(info, "sharegpt")
    entry = entries.get(split) if isinstance(entries, dict) else None
    return entry if isinstance(entry, dict) and entry.get("file_name") else None


def read_sharegpt(root: Path, split: str = "train", **options: Any) -> Iterator[DatasetImage | BadRecord]:
    """LLaMA-Factory ShareGPT data (see the module docstring)."""
    entry = _sharegpt_entry(root, split)
    columns: dict[str, Any] = {}
    given: dict[str, Any] = {}
    if entry is not None:
        if entry.get("formatting", "alpaca") != "sharegpt":
            raise SourceError(
                f"sharegpt: {root}/dataset_info.json registers {split!r} as {entry.get('formatting')}"
            )
        file = inside(root, str(entry["file_name"]))
        if file is None or not file.is_file():
            raise SourceError(f"sharegpt: {entry['file_name']!r} of dataset_info.json not found in {root}")
        columns, given = dict(entry.get("columns") or {}), dict(entry.get("tags") or {})
    else:
        file = data_file(root, split, "sharegpt", (".json", ".jsonl"))

    def read_one(record: dict) -> tuple[list[Any], list[tuple[str, str]]]:
        key = columns.get("messages") or ("messages" if "messages" in record else "conversations")
        msgs = record.get(key)
        first = msgs[0] if isinstance(msgs, list) and msgs and isinstance(msgs[0], dict) else {}
        default_role = "role" if "role" in first else "from"
        role_tag = given.get("role_tag", default_role)
        content_tag = given.get("content_tag", "content" if role_tag == "role" else "value")
        tags = dict(_ROLES)
        if "user_tag" in given:
            tags[given["user_tag"]] = "user"
        if "assistant_tag" in given:
            tags[given["assistant_tag"]] = "assistant"
        tags["system"] = given.get("system_tag", "system")
        image = record.get(columns.get("images", "images"))
        rels = [] if image in (None, "", []) else image if isinstance(image, list) else [image]
        return rels, _turns(msgs, role_tag, content_tag, tags)

    return _conversations(root, split, "sharegpt", options, file, read_one)


# -- tables: VQA rows and Hugging Face datasets ----------------------------------------------


def parse_options(value: Any) -> list[str]:
    """A row's options: a list, or text holding a JSON list or options split on "|" or lines;
    letter prefixes ("A. red") dropped."""
    if value is None:
        return []
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return []
        if text.startswith("["):
            try:
                value = json.loads(text)
            except ValueError:
                value = [text]
        else:
            value = text.split("|") if "|" in text else text.splitlines()
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"options {value!r} are not a list")
    items = [fmt_answer(v) if isinstance(v, (int, float)) else str(v).strip() for v in value]
    items = [v for v in items if v]
    found = unlettered_options(items)
    return found if isinstance(found, list) else items


def truth(
    qid: str, question: Any, answer: Any, options: Any = None, row: dict[str, Any] | None = None
) -> Truth:
    """One question with its answer normalised (see the module docstring); ValueError saying why
    the row cannot be used."""
    if not isinstance(question, str) or not question.strip():
        raise ValueError("no question")
    if answer is None or (isinstance(answer, str) and not answer.strip()) or isinstance(answer, (list, dict)):
        raise ValueError(
            "no answer" if not isinstance(answer, (list, dict)) else f"answer {answer!r} is not a value"
        )
    question = question.strip()
    row = row or {}
    extra: dict[str, Any] = {"lang": _lang(question)}
    if isinstance(row.get("category"), str) and row["category"].strip():
        extra["category"] = row["category"].strip()
    for c in _SOLUTION_COLUMNS:
        if isinstance(row.get(c), str) and row[c].strip():
            extra["solution"] = [s.strip() for s in row[c].splitlines() if s.strip()]
            break
    choices = parse_options(options)
    if choices:
        return Truth(qid, question, _choice(answer, choices), answer, "choice", choices, **extra)
    if isinstance(answer, bool):
        return Truth(qid, question, fmt_answer(answer), answer, "yes_no", **extra)
    if isinstance(answer, (int, float)):
        return Truth(qid, question, fmt_answer(answer), answer, "number", **extra)
    text = str(answer).strip()
    if _NUMBER.fullmatch(text):
        return Truth(qid, question, fmt_answer(float(text)), answer, "number", **extra)
    if units(text) <= 2:
        try:
            return Truth(qid, question, yes_no(text), answer, "yes_no", **extra)
        except ValueError:
            pass
    return Truth(qid, question, text, answer, "text", **extra)


def _choice(answer: Any, choices: list[str]) -> str:
    if isinstance(answer, int) and not isinstance(answer, bool):
        if 0 <= answer < len(choices):
            return choices[answer]
        raise ValueError(f"answer index {answer} is not among the {len(choices)} choices")
    text = fmt_answer(answer) if isinstance(answer, float) else str(answer).strip()
    same = [c for c in choices if c.casefold() == text.casefold()]
    if same:
        return same[0]
    if len(choices) <= len(LETTERS):
        try:
            return choices[LETTERS.index(answer_letter(text, choices))]
        except (ValueError, IndexError):
            pass
    raise ValueError(f"answer {answer!r} is not among the choices {choices}")


def _columns(options: dict[str, Any]) -> tuple[str, str, str, str | None]:
    return (
        options.get("image_column") or "image",
        options.get("question_column") or "question",
        options.get("answer_column") or "answer",
        options.get("options_column") or None,
    )


def _row_id(row: dict[str, Any], default: str) -> str:
    for c in _ID_COLUMNS:
        v = row.get(c)
        if isinstance(v, (str, int)) and not isinstance(v, bool) and str(v).strip():
            return str(v).strip()
    return default


def _table_rows(file: Path) -> Iterator[tuple[str, dict[str, Any] | str]]:
    """(record id, row or why it cannot be read) of a JSON Lines or CSV file."""
    with open(file, encoding="utf-8-sig", newline="") as f:
        if file.suffix.lower() == ".csv":
            reader = csv.reader(f, strict=True)
            try:
                header = [h.strip() for h in next(reader, [])]
            except csv.Error as e:
                raise SourceError(f"vqa: the CSV header of {file} cannot be read ({e})") from None
            while True:
                start = reader.line_num + 1
                try:
                    fields = next(reader)
                except StopIteration:
                    return
                except csv.Error as e:
                    yield f"{file.name}:{start}", f"line {start} is not valid CSV ({e})"
                    if reader.line_num < start:
                        return
                    continue
                if not any(x.strip() for x in fields):
                    continue
                where = f"{file.name}:{start}"
                if len(fields) != len(header):
                    yield where, f"line {start} has {len(fields)} fields, the header has {len(header)}"
                    continue
                yield where, {k: v for k, v in zip(header, fields, strict=True) if v.strip() != ""}
            return
        for n, text in enumerate(f, 1):
            if not text.strip():
                continue
            try:
                row = json.loads(text)
            except ValueError as e:
                yield f"{file.name}:{n}", f"line {n} is not valid JSON ({e})"
                continue
            if not isinstance(row, dict):
                yield f"{file.name}:{n}", f"line {n} is not a JSON object (got {type(row).__name__})"
                continue
            yield f"{file.name}:{n}", row


def read_vqa(root: Path, split: str = "train", **options: Any) -> Iterator[DatasetImage | BadRecord]:
    """JSON Lines or CSV rows: image path, question, answer, options (see the module docstring)."""
    file = data_file(root, split, "vqa", (".jsonl", ".ndjson", ".json", ".csv"))
    image_col, question_col, answer_col, options_col = _columns(options)
    options_col = options_col or "options"
    images = _Images(image_base(options.get("image_root"), file))
    groups: dict[str, list[Truth]] = {}
    rels: dict[str, str] = {}
    order: list[str | BadRecord] = []
    seen: set[str] = set()
    try:
        for where, row in _table_rows(file):
            if isinstance(row, str):
                order.append(BadRecord("vqa", where, row))
                continue
            qid = _row_id(row, where)
            if qid in seen:
                qid = f"{qid}@{where}"
            seen.add(qid)
            path, why = images.resolve(row.get(image_col))
            if path is None:
                order.append(BadRecord("vqa", qid, why or "no image"))
                continue
            try:
                t = truth(qid, row.get(question_col), row.get(answer_col), row.get(options_col), row)
            except ValueError as e:
                order.append(BadRecord("vqa", qid, str(e)))
                continue
            if path not in groups:
                groups[path], rels[path] = [], str(row[image_col])
                order.append(path)
            groups[path].append(t)
    except OSError as e:
        raise SourceError(f"vqa: cannot read {file} ({e.strerror or e})") from None
    except UnicodeDecodeError as e:
        raise SourceError(f"vqa: {file} is not UTF-8 text ({e})") from None
    for entry in order:
        if isinstance(entry, BadRecord):
            yield entry
            continue
        yield DatasetImage(
            dataset="vqa",
            split=split,
            ref=f"vqa:{split}/{rels[entry]}",
            questions=groups[entry],
            path=entry,
            domain=DOMAIN,
            provenance={"dataset": "vqa", "split": split, "file": file.name, "image": rels[entry]},
        )


def read_hf(root: Path | str, split: str = "train", **options: Any) -> Iterator[DatasetImage | BadRecord]:
    """A Hugging Face dataset with question / answer / options / image columns, grouped by image
    content. Read twice: once for the questions (the images only hashed), once to hand each
    distinct image over with all its questions, so no image is held longer than its turn."""
    from visinstruct.sources.hf import _datasets, _load, image_of, load_columns

    source = os.fspath(root)
    local = Path(source).exists()
    image_col, question_col, answer_col, options_col = _columns(options)
    features = _load(_datasets(), source, split).features or {}
    if options_col is None:
        options_col = next((c for c in ("options", "choices") if c in features), None)
    wanted = [image_col, question_col, answer_col, options_col]
    wanted += [c for c in (*_ID_COLUMNS, "category", *_SOLUTION_COLUMNS) if c in features and c not in wanted]
    ds = load_columns(source, split, image_col, [c for c in wanted if c], paths=True)
    labels = getattr(features.get(answer_col), "names", None)
    base = Path(options["image_root"]).resolve() if options.get("image_root") else None
    if base is None and local:
        base = (Path(source) if Path(source).is_dir() else Path(source).parent).resolve()
    images = _Images(base) if base is not None else None

    def image(value: Any) -> tuple[bytes | None, str | None, str | None]:
        """(bytes, file path, why not) of an image cell."""
        data, path = image_of(value)
        if data is not None:
            return data, None, None
        if path is None:
            return None, None, f"no image in column {image_col!r}"
        if images is None:
            return None, None, f"image {path!r} is a path and the dataset has no folder (set image_root)"
        full, why = images.resolve(path)
        return None, full, why

    by_image: dict[str, list[Truth]] = {}
    first: dict[int, str] = {}  # row of an image's first question -> its content digest
    bad: dict[int, BadRecord] = {}
    seen: set[str] = set()
    for n, row in enumerate(_rows(ds, source)):
        qid = _row_id(row, f"row{n}")
        if qid in seen:
            qid = f"{qid}@row{n}"
        seen.add(qid)
        data, path, why = image(row.get(image_col))
        if why is not None:
            bad[n] = BadRecord("hf", qid, why)
            continue
        answer = row.get(answer_col)
        if labels is not None and isinstance(answer, int) and 0 <= answer < len(labels):
            answer = labels[answer]
        try:
            t = truth(qid, row.get(question_col), answer, row.get(options_col) if options_col else None, row)
        except ValueError as e:
            bad[n] = BadRecord("hf", qid, str(e))
            continue
        digest = hashlib.sha256(data if data is not None else Path(path).read_bytes()).hexdigest()
        if digest not in by_image:
            by_image[digest] = []
            first[n] = digest
        by_image[digest].append(t)
    if not first and not bad:
        return
    license = getattr(getattr(ds, "info", None), "license", None) or ""
    only_images = load_columns(source, split, image_col, [image_col], paths=True)
    for n, row in enumerate(_rows(only_images, source)):
        if n in bad:
            yield bad.pop(n)
        digest = first.pop(n, None)
        if digest is None:
            continue
        data, path, _ = image(row.get(image_col))
        yield DatasetImage(
            dataset="hf",
            split=split,
            ref=f"hf:{split}/{digest[:16]}",
            questions=by_image.pop(digest),
            path=path,
            data=data,
            domain=DOMAIN,
            license=license,
            provenance={"dataset": "hf", "split": split, "file": source, "row": n, "sha256": digest},
        )
        if not first and not bad:
            return


def _rows(ds: Any, source: str) -> Iterator[dict[str, Any]]:
    rows = iter(ds)
    n = 0
    while True:
        try:
            row = next(rows)
        except StopIteration:
            return
        except Exception as e:
            raise SourceError(f"hf: {source}: cannot read row {n} ({type(e).__name__}: {e})") from None
        yield row
        n += 1
