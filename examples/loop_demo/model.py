"""A small option-scoring model for the closed-loop demonstration, trained on CPU in seconds.

It answers multiple-choice (and, if asked, yes/no) questions about synthetic images with one
linear head per question category. Nothing about colours, shapes or positions is built in:

- an image becomes "blobs": connected components of one quantised colour (64 colour bins),
  each with a colour bin, a form (a bucket of fill x aspect ratio), an area and a box;
- a text becomes word tokens (lower case, plural "s" and English stop words dropped);
- grounding, learned from the training data and shared by all categories: which colour
  bins and forms a word goes with (those present clearly more often in images whose
  question or right answer uses the word);
- a text then selects the blobs of its grounded colours and forms, and the selection is
  summarised by the same generic statistics (count, compactness, size, where);
- one head per category (and type), a logistic regression that ranks the right option first,
  weighs (word, statistic) features: e.g. a question word against the statistics of what
  the option selects ("right" with xmax), an option word against those of what the
  question selects ("3" with count3), or against what question and option select together.

A head sees only its own category's samples and has to find which of many such features
matter, so its accuracy grows with its category's training data, faster for some
categories than for others.

    python model.py train --out model.pkl train.jsonl [more.jsonl ...]
    python model.py eval --model model.pkl --data eval.jsonl --out results.jsonl

Inputs are visinstruct `jsonl` exports (image paths relative to each file's folder); only
English samples of the chosen domains and types are used (default: scenes, multiple
choice). Blobs are cached by image id in `<export>.blobs-v3.npz` next to each export.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import re
import sys
import time
import zlib
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from scipy import ndimage, sparse
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS
from sklearn.linear_model import LogisticRegression

CACHE_VERSION = "v3"
LETTERS = "ABCDEFGH"
DEFAULT_DOMAINS = ("scenes",)
DEFAULT_TYPES = ("multiple_choice",)
DEFAULT_C = 0.3  # inverse L2 strength of the heads (0.3 to 3 made little difference on scenes)
JUDGEMENT_OPTIONS = ("yes", "no")

# blobs
SIDE = 240  # the longer side an image is resampled to (nearest neighbour keeps colours pure)
LEVELS = 4  # quantisation levels per RGB channel
N_COLOURS = LEVELS**3
MIN_BLOB = 12  # pixels; smaller components are edge noise
MAX_BLOB = 0.2  # share of the image; larger components are background
MIN_FILL = 0.2  # blob pixels / blob box; sparser components are lines, grids and outlines
# form buckets; the edges were set on scenes images so that common forms mostly fall apart
FILL_EDGES = (0.47, 0.65, 0.9)  # blob pixels / blob box
ASPECT_EDGES = (0.85, 1.07, 1.4)  # box width / height
AREA_EDGES = (0.006, 0.016)  # blob pixels / image pixels
N_FORMS = (len(FILL_EDGES) + 1) * (len(ASPECT_EDGES) + 1)
N_VISUAL = N_COLOURS + N_FORMS  # what a word can be grounded in: a colour bin or a form
# columns of a blob array
COLOUR, FORM, AREA, FILL, ASPECT, X0, Y0, X1, Y1 = range(9)

# statistics of a selection of blobs
COUNT_MAX = 6  # counts one-hot 0..COUNT_MAX (the last means "this many or more")
STAT_NAMES = (
    ["any", "share"]
    + [f"count{k}" for k in range(COUNT_MAX + 1)]
    + [f"fill{k}" for k in range(len(FILL_EDGES) + 1)]
    + [f"aspect{k}" for k in range(len(ASPECT_EDGES) + 1)]
    + [f"area{k}" for k in range(len(AREA_EDGES) + 1)]
    + [f"minarea{k}" for k in range(len(AREA_EDGES) + 1)]
    + [f"cell{k}" for k in range(9)]
    + ["cx", "cy", "xmin", "xmax", "ymin", "ymax"]
)
N_STATS = len(STAT_NAMES)

# grounding and heads
GROUND_MIN_MENTIONS = 20  # a word needs this many training mentions to be grounded,
GROUND_MIN_GAIN = 0.4  # a colour or form must go from absent to present this often with it,
GROUND_MIN_Z = 4.0  # by a margin (in standard errors) that chance would rarely give;
GROUND_RELATIVE = 0.5  # then all its colours and forms with this share of the strongest gain count
N_FEATURES = 1 << 18  # hashed feature space of a head

_WORD = re.compile(r"[a-z0-9]+")
_OPTION_LINE = re.compile(r"^[A-H][.)]\s")


# ---------------------------------------------------------------- data


@dataclass
class Example:
    """One question as the model sees it: stem, option texts, gold index and image paths."""

    id: str
    category: str
    domain: str
    type: str
    question: str  # the full question as asked
    stem: str  # the question without its option lines and answer instruction
    options: list[str]
    gold: int  # index of the correct option
    images: list[Path]
    image_ids: list[str]
    source: Path  # the jsonl file the example came from


def stem_of(question: str) -> str:
    """The question text before its lettered option lines (the instruction after them is noise)."""
    lines = question.split("\n")
    for i, line in enumerate(lines):
        if _OPTION_LINE.match(line):
            return "\n".join(lines[:i])
    return question


def read_examples(
    path: Path, domains: tuple[str, ...], types: tuple[str, ...], language: str = "en"
) -> list[Example]:
    """The usable samples of one export: the chosen domains and types in one language."""
    out: list[Example] = []
    with path.open(encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            r = json.loads(line)
            if r.get("language") != language or r.get("domain") not in domains or r.get("type") not in types:
                continue
            question = r["turns"][0]["question"]
            if r["type"] == "multiple_choice":
                options = [str(o) for o in r.get("options") or []]
                letter = r.get("answer_letter") or r["turns"][0]["answer"].strip()[:1]
                gold = LETTERS.index(letter) if letter in LETTERS else -1
            elif r["type"] == "judgement":
                options = list(JUDGEMENT_OPTIONS)
                said = str(r.get("short_answer") or r["turns"][0]["answer"]).strip().lower()
                gold = 0 if said.startswith("y") else 1
            else:
                continue
            if not (0 <= gold < len(options)) or not r.get("images"):
                continue
            out.append(
                Example(
                    id=str(r["id"]),
                    category=str(r.get("category") or "unknown"),
                    domain=r["domain"],
                    type=r["type"],
                    question=question,
                    stem=stem_of(question),
                    options=options,
                    gold=gold,
                    images=[(path.parent / p).resolve() for p in r["images"]],
                    image_ids=[str(i) for i in (r.get("image_ids") or r["images"])],
                    source=path,
                )
            )
    return out


def load_all(paths: list[Path], domains: tuple[str, ...], types: tuple[str, ...]) -> list[Example]:
    """The usable samples of several exports, each sample once, in an order independent of the files."""
    by_id = {}
    for p in paths:
        for ex in read_examples(p, domains, types):
            by_id.setdefault(ex.id, ex)
    return sorted(by_id.values(), key=lambda ex: (ex.category, ex.id))


# ---------------------------------------------------------------- blobs


def bucket(values: np.ndarray, edges: tuple[float, ...]) -> np.ndarray:
    return np.searchsorted(edges, values, side="right")


def one_hot(k: int, n: int) -> np.ndarray:
    out = np.zeros(n, np.float32)
    out[k] = 1.0
    return out


def blobs_of(path: Path) -> np.ndarray:
    """The blobs of an image, one row each (columns COLOUR..Y1, coordinates relative to the image)."""
    with Image.open(path) as im:
        im = im.convert("RGB")
        scale = SIDE / max(im.size)
        size = (max(1, round(im.size[0] * scale)), max(1, round(im.size[1] * scale)))
        rgb = np.asarray(im.resize(size, Image.Resampling.NEAREST), dtype=np.int32)
    h, w = rgb.shape[:2]
    q = rgb * LEVELS // 256
    colours = q[..., 0] * LEVELS * LEVELS + q[..., 1] * LEVELS + q[..., 2]
    counts = np.bincount(colours.ravel(), minlength=N_COLOURS)
    rows = []
    for c in np.flatnonzero(counts >= MIN_BLOB):
        labels, _ = ndimage.label(colours == c, structure=np.ones((3, 3), dtype=bool))
        sizes = np.bincount(labels.ravel())
        for k, (ys, xs) in enumerate(ndimage.find_objects(labels), start=1):
            n, bh, bw = int(sizes[k]), ys.stop - ys.start, xs.stop - xs.start
            if MIN_BLOB <= n <= MAX_BLOB * h * w and n >= MIN_FILL * bh * bw:
                rows.append(
                    [
                        c,
                        0,
                        n / (h * w),
                        n / (bh * bw),
                        bw / bh,
                        xs.start / w,
                        ys.start / h,
                        xs.stop / w,
                        ys.stop / h,
                    ]
                )
    return with_forms(np.asarray(rows, dtype=np.float32).reshape(-1, 9))


def with_forms(blobs: np.ndarray) -> np.ndarray:
    """Fill in the FORM column (a fill bucket x an aspect bucket); forms are not cached."""
    fills, aspects = bucket(blobs[:, FILL], FILL_EDGES), bucket(blobs[:, ASPECT], ASPECT_EDGES)
    blobs[:, FORM] = fills * (len(ASPECT_EDGES) + 1) + aspects
    return blobs


def present(blobs: np.ndarray) -> np.ndarray:
    """Which colour bins and forms occur in an image (N_VISUAL zeros and ones)."""
    out = np.zeros(N_VISUAL, np.float32)
    out[blobs[:, COLOUR].astype(int)] = 1.0
    out[N_COLOURS + blobs[:, FORM].astype(int)] = 1.0
    return out


def summarise(blobs: np.ndarray) -> np.ndarray:
    """Generic statistics of a selection of blobs (STAT_NAMES); only `count0` when it is empty."""
    if len(blobs) == 0:
        return one_hot(STAT_NAMES.index("count0"), N_STATS)
    big = blobs[np.argmax(blobs[:, AREA])]
    cx, cy = (blobs[:, X0] + blobs[:, X1]) / 2, (blobs[:, Y0] + blobs[:, Y1]) / 2
    big_cell = min(2, int((big[Y0] + big[Y1]) / 2 * 3)) * 3 + min(2, int((big[X0] + big[X1]) / 2 * 3))
    n_areas = len(AREA_EDGES) + 1
    return np.concatenate(
        [
            [1.0, min(1.0, 10 * float(blobs[:, AREA].sum()))],
            one_hot(min(len(blobs), COUNT_MAX), COUNT_MAX + 1),
            one_hot(int(bucket(big[FILL], FILL_EDGES)), len(FILL_EDGES) + 1),
            one_hot(int(bucket(big[ASPECT], ASPECT_EDGES)), len(ASPECT_EDGES) + 1),
            one_hot(int(bucket(big[AREA], AREA_EDGES)), n_areas),
            one_hot(int(bucket(blobs[:, AREA].min(), AREA_EDGES)), n_areas),
            one_hot(big_cell, 9),
            [
                cx.mean(),
                cy.mean(),
                blobs[:, X0].min(),
                blobs[:, X1].max(),
                blobs[:, Y0].min(),
                blobs[:, Y1].max(),
            ],
        ]
    ).astype(np.float32)


class BlobCache:
    """Blobs by image id, kept in one .npz next to each export so that reruns are cheap."""

    def __init__(self) -> None:
        self.blobs: dict[str, np.ndarray] = {}

    @staticmethod
    def file_for(export: Path) -> Path:
        return export.with_name(f"{export.name}.blobs-{CACHE_VERSION}.npz")

    def ensure(self, examples: list[Example]) -> None:
        """Load each export's cache, find the blobs of images it lacks, and rewrite it if it grew."""
        images_of: dict[Path, dict[str, Path]] = defaultdict(dict)
        for ex in examples:
            images_of[ex.source].update(zip(ex.image_ids, ex.images, strict=True))
        for export, images in images_of.items():
            f = self.file_for(export)
            cached: list[str] = []
            if f.exists():
                with np.load(f, allow_pickle=False) as z:
                    ids, offsets, rows = z["ids"], z["offsets"], z["blobs"]
                cached = [str(i) for i in ids]
                for k, image_id in enumerate(cached):
                    self.blobs.setdefault(image_id, with_forms(rows[offsets[k] : offsets[k + 1]]))
            missing = [i for i in images if i not in self.blobs]
            for image_id in missing:
                self.blobs[image_id] = blobs_of(images[image_id])
            if missing:
                keep = sorted(set(cached) | set(images))
                tmp = f.with_name(f"{f.name}.{os.getpid()}.tmp.npz")
                np.savez(
                    tmp,
                    ids=np.asarray(keep, dtype=str),
                    offsets=np.cumsum([0] + [len(self.blobs[i]) for i in keep]),
                    blobs=np.concatenate([self.blobs[i] for i in keep]),
                )
                os.replace(tmp, f)

    def of(self, ex: Example) -> list[np.ndarray]:
        return [self.blobs[i] for i in ex.image_ids]


# ---------------------------------------------------------------- words and grounding


def stem(word: str) -> str:
    """A light stemmer: plural "s" dropped, so "circles" counts as "circle"."""
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def words(text: str) -> list[str]:
    """Lower-case stemmed content words (English stop words dropped), in order, without repeats."""
    return list(dict.fromkeys(stem(w) for w in _WORD.findall(text.lower()) if w not in ENGLISH_STOP_WORDS))


def option_words(option: str) -> list[str]:
    return list(dict.fromkeys(stem(w) for w in _WORD.findall(option.lower())))


def learn_grounding(examples: list[Example], cache: BlobCache) -> dict[str, np.ndarray]:
    """Which colour bins and forms each word goes with, learned from co-occurrence.

    A word is used by a sample when it is in the question or the right answer (a false
    yes/no statement is skipped: what it names need not be in the image). With p the share of
    all samples whose first image has a colour bin or form, and p_w that share among the
    samples using the word, the gain (p_w − p) / (1 − p) is the share of its absences the
    word turns into presences; the word is tied to the colours and forms with a clear gain.
    """
    seen = np.stack([present(cache.of(ex)[0]) for ex in examples])
    base = seen.mean(axis=0)
    mentions: dict[str, list[int]] = defaultdict(list)
    for k, ex in enumerate(examples):
        if ex.type == "judgement" and ex.gold != 0:
            continue
        used = set(words(ex.stem))
        if ex.type == "multiple_choice":
            used |= set(option_words(ex.options[ex.gold]))
        for w in used:
            mentions[w].append(k)
    grounding: dict[str, np.ndarray] = {}
    for w, rows in sorted(mentions.items()):
        if len(rows) >= GROUND_MIN_MENTIONS:
            p = seen[rows].mean(axis=0)
            gain = (p - base) / (1.0 - base + 1e-6)  # the share of absences the word undoes
            z = (p - base) / np.sqrt(base * (1.0 - base) / len(rows) + 1e-6)  # and not by chance
            gain[z < GROUND_MIN_Z] = 0.0
            if gain.max() >= GROUND_MIN_GAIN:
                weight = np.where(gain >= GROUND_RELATIVE * gain.max(), gain, 0.0)
                grounding[w] = (weight / weight.sum()).astype(np.float32)
    return grounding


def selected(ws: list[str], grounding: dict[str, np.ndarray], images: list[np.ndarray]) -> np.ndarray:
    """Statistics of the blobs a text selects, one block per image; zeros if it grounds nothing.

    A blob is selected when it has (one of the strongest of) the text's colours and forms;
    a text naming only colours selects by colour, one naming only forms by form.
    """
    g = np.zeros(N_VISUAL, np.float32)
    for w in ws:
        if w in grounding:
            g += grounding[w]
    if not g.any():
        return np.zeros(N_STATS * len(images), np.float32)
    by_colour, by_form = g[:N_COLOURS], g[N_COLOURS:]
    out = []
    for blobs in images:
        keep = np.ones(len(blobs), dtype=bool)
        for part, column in ((by_colour, COLOUR), (by_form, FORM)):
            if part.any():
                keep &= part[blobs[:, column].astype(int)] >= 0.5 * part.max()
        out.append(summarise(blobs[keep]))
    return np.concatenate(out)


# ---------------------------------------------------------------- features


Row = tuple[np.ndarray, np.ndarray]  # a sparse row: hashed feature indices, values


def stable_hash(text: str) -> int:
    """A hash that is the same in every process (Python's `hash` of a str is salted)."""
    return zlib.crc32(text.encode("utf-8"))


def crossed(keys: list[str], values: np.ndarray) -> Row:
    """Hashed (key, statistic) features: every key with every nonzero statistic and its value."""
    nz = np.flatnonzero(values)
    if not keys or nz.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    base = np.asarray([stable_hash(k) for k in keys], dtype=np.uint64)
    with np.errstate(over="ignore"):
        h = base[:, None] * np.uint64(0x9E3779B97F4A7C15) + nz.astype(np.uint64)[None, :] * np.uint64(
            0xC2B2AE3D27D4EB4F
        )
        h ^= h >> np.uint64(31)
        h *= np.uint64(0xBF58476D1CE4E5B9)
        h ^= h >> np.uint64(29)
    idx = (h % np.uint64(N_FEATURES)).astype(np.int64).ravel()
    return idx, np.tile(values[nz], len(keys))


def option_rows(ex: Example, grounding: dict[str, np.ndarray], cache: BlobCache) -> list[Row]:
    """One sparse row of (image, question, option) features per option.

    Plain: option words and (question word, option word) pairs, what right answers look like.
    Crossed with the statistics of what a text selects in the image: question words with the
    option's selection and with the joint selection of question and option; option words with
    the question's, the option's own and the joint selection. "Q*" stands for any question.
    Features that are the same for every option of a question cannot rank them; left out.
    """
    images = cache.of(ex)
    q_words = words(ex.stem)
    q_keys = ["Q*"] + [f"Q{w}" for w in q_words]
    of_question = selected(q_words, grounding, images)
    rows: list[Row] = []
    for option in ex.options:
        o_words = option_words(option)
        o_keys = [f"O{w}" for w in o_words] + [f"O={option.strip().lower()}"]
        plain = o_keys + [f"{q}|{o}" for q in q_keys for o in o_keys]
        of_option = selected(o_words, grounding, images)
        of_both = selected(q_words + o_words, grounding, images)
        parts = [
            (
                np.asarray([stable_hash(k) % N_FEATURES for k in plain], np.int64),
                np.ones(len(plain), np.float32),
            ),
            crossed([f"{q}|o" for q in q_keys], of_option),
            crossed([f"{q}|qo" for q in q_keys], of_both),
            crossed([f"{o}|q" for o in o_keys], of_question),
            crossed([f"{o}|o" for o in o_keys], of_option),
            crossed([f"{o}|qo" for o in o_keys], of_both),
        ]
        rows.append((np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])))
    return rows


def to_matrix(rows: list[Row]) -> sparse.csr_matrix:
    """Sparse rows as one CSR matrix; repeated indices in a row are summed."""
    indptr = np.cumsum([0] + [len(r[0]) for r in rows])
    m = sparse.csr_matrix(
        (np.concatenate([r[1] for r in rows]), np.concatenate([r[0] for r in rows]), indptr),
        shape=(len(rows), N_FEATURES),
        dtype=np.float32,
    )
    m.sum_duplicates()
    return m


# ---------------------------------------------------------------- model


def head_key(ex: Example) -> str:
    """One head per domain, category and type: "counting" of scenes is not "counting" of charts,
    and a yes/no question is a different task from a four-way choice."""
    return f"{ex.domain}/{ex.category}/{ex.type}"


def fit_head(rows: list[list[Row]], golds: list[int], c: float) -> sparse.csr_matrix:
    """A linear option scorer (its weights, 1 x N_FEATURES) from ranking data: the difference
    (right − wrong option) for every wrong option.

    Every other difference is negated and labelled 0 (the rest 1), so both classes occur and
    no intercept is needed; whatever is the same for all options of a question cancels out.
    """
    diffs: list[Row] = []
    labels: list[int] = []
    for opts, gold in zip(rows, golds, strict=True):
        for k, (idx, val) in enumerate(opts):
            if k != gold:
                sign = 1.0 if len(diffs) % 2 == 0 else -1.0
                diffs.append((np.r_[opts[gold][0], idx], np.r_[sign * opts[gold][1], -sign * val]))
                labels.append(int(sign > 0))
    if len(set(labels)) < 2:  # a single yes/no sample: add its mirror image
        diffs += [(idx, -val) for idx, val in diffs]
        labels += [1 - y for y in labels]
    head = LogisticRegression(
        C=c, fit_intercept=False, solver="liblinear", dual=True, max_iter=1000, random_state=0
    )
    head.fit(to_matrix(diffs), np.asarray(labels))
    return sparse.csr_matrix(head.coef_.astype(np.float32))  # only the weights of features seen


def train(
    examples: list[Example],
    cache: BlobCache,
    domains: tuple[str, ...] = DEFAULT_DOMAINS,
    types: tuple[str, ...] = DEFAULT_TYPES,
    c: float = DEFAULT_C,
) -> dict[str, Any]:
    """Grounding from all samples, then one head per category."""
    grounding = learn_grounding(examples, cache)
    by_head: dict[str, list[Example]] = defaultdict(list)
    for ex in examples:
        by_head[head_key(ex)].append(ex)
    heads = {
        key: fit_head([option_rows(ex, grounding, cache) for ex in exs], [ex.gold for ex in exs], c)
        for key, exs in sorted(by_head.items())
    }
    return {
        "cache_version": CACHE_VERSION,
        "domains": domains,
        "types": types,
        "grounding": grounding,
        "heads": heads,
        "trained_on": {key: len(exs) for key, exs in sorted(by_head.items())},
    }


def predict(model: dict[str, Any], examples: list[Example], cache: BlobCache) -> list[int]:
    """The index of the highest-scoring option of each example (the first one on ties).

    A category no head was trained for is scored by the mean of all heads.
    """
    heads: dict[str, sparse.csr_matrix] = model["heads"]
    out = []
    for ex in examples:
        x = to_matrix(option_rows(ex, model["grounding"], cache))
        chosen = [heads[head_key(ex)]] if head_key(ex) in heads else list(heads.values())
        scores = np.mean([(x @ w.T).toarray().ravel() for w in chosen], axis=0)
        out.append(int(np.argmax(scores)))
    return out


# ---------------------------------------------------------------- results


def result_row(ex: Example, pred: int) -> dict[str, Any]:
    """One line of the generic results format: letters for multiple choice, else the answer text."""
    mc = ex.type == "multiple_choice"
    return {
        "id": ex.id,
        "question": ex.question,
        "options": ex.options if mc else [],
        "answer": LETTERS[ex.gold] if mc else ex.options[ex.gold],
        "prediction": LETTERS[pred] if mc else ex.options[pred],
        "category": ex.category,
        "domain": ex.domain,
        "type": ex.type,
        "image": str(ex.images[0]),
    }


def accuracy_by_category(results: list[dict[str, Any]]) -> dict[str, tuple[int, float]]:
    """(samples, accuracy) per category of result rows (per domain/category if there are several domains)."""
    several = len({r["domain"] for r in results}) > 1
    by_cat: dict[str, list[bool]] = defaultdict(list)
    for r in results:
        by_cat[f"{r['domain']}/{r['category']}" if several else r["category"]].append(
            r["prediction"] == r["answer"]
        )
    return {cat: (len(ok), sum(ok) / len(ok)) for cat, ok in sorted(by_cat.items())}


def accuracy_table(results: list[dict[str, Any]]) -> str:
    lines = [f"{'category':<24} {'n':>5} {'accuracy':>9}"]
    for cat, (n, acc) in accuracy_by_category(results).items():
        lines.append(f"{cat:<24} {n:>5} {acc:>9.3f}")
    if results:
        ok = sum(r["prediction"] == r["answer"] for r in results)
        lines.append(f"{'all':<24} {len(results):>5} {ok / len(results):>9.3f}")
    return "\n".join(lines)


# ---------------------------------------------------------------- command line


def describe_use(
    examples: list[Example], paths: list[Path], domains: tuple[str, ...], types: tuple[str, ...]
) -> str:
    total = sum(1 for p in paths for line in p.open(encoding="utf-8") if line.strip())
    return f"{len(examples)} of {total} samples used (English {'/'.join(types)} of {'/'.join(domains)})"


def cmd_train(args: argparse.Namespace) -> None:
    t0 = time.perf_counter()
    domains, types = tuple(args.domains.split(",")), tuple(args.types.split(","))
    examples = load_all([Path(p) for p in args.data], domains, types)
    if not examples:
        sys.exit(f"no English {'/'.join(types)} samples of {'/'.join(domains)} in {' '.join(args.data)}")
    cache = BlobCache()
    cache.ensure(examples)
    t1 = time.perf_counter()
    model = train(examples, cache, domains, types, args.c)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("wb") as f:
        pickle.dump(model, f)
    print(describe_use(examples, [Path(p) for p in args.data], domains, types))
    print("per category: " + ", ".join(f"{k} {v}" for k, v in model["trained_on"].items()))
    print(f"images {t1 - t0:.1f} s, fit {time.perf_counter() - t1:.1f} s → {out}")


def cmd_eval(args: argparse.Namespace) -> None:
    with open(args.model, "rb") as f:
        model = pickle.load(f)
    examples = load_all([Path(args.data)], model["domains"], model["types"])
    cache = BlobCache()
    cache.ensure(examples)
    results = [result_row(ex, p) for ex, p in zip(examples, predict(model, examples, cache), strict=True)]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as f:
        for r in results:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(describe_use(examples, [Path(args.data)], model["domains"], model["types"]))
    print(accuracy_table(results))
    print(f"{len(results)} results → {out}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train on one or more jsonl exports")
    t.add_argument("data", nargs="+", help="visinstruct jsonl exports")
    t.add_argument("--out", required=True, help="where to write the model (.pkl)")
    t.add_argument("--domains", default=",".join(DEFAULT_DOMAINS), help="comma-separated domains to use")
    t.add_argument("--types", default=",".join(DEFAULT_TYPES), help="multiple_choice and/or judgement")
    t.add_argument("--c", type=float, default=DEFAULT_C, help="inverse regularisation strength of the heads")
    t.set_defaults(run=cmd_train)
    e = sub.add_parser("eval", help="answer an eval export, write results, print accuracy per category")
    e.add_argument("--model", required=True)
    e.add_argument("--data", required=True, help="a visinstruct jsonl export")
    e.add_argument("--out", required=True, help="results jsonl, one line per eval sample")
    e.set_defaults(run=cmd_eval)
    args = parser.parse_args(argv)
    args.run(args)


if __name__ == "__main__":
    main()
