"""CLEVR-Math and Super-CLEVR: CLEVR-style question files, read as published.

Both datasets were made with the CLEVR question generator, so a question file is
`{"info": {...}, "questions": [...]}` and each question holds `image_filename`, `image_index`,
`question`, `answer` (a native JSON bool, int or str), `program` (a list of functions, each
`{"type" or "function", "inputs", "value_inputs"}`), `template_filename` and
`question_index`. Followed:

- CLEVR-Math (dali-does/clevr-math): `clevr-math-loader.py` (the Hugging Face loader: files
  `clevr-math-<split>.json`, images at `CLEVR_v1.0/images/<question split>/<image_filename>`)
  and `question_generation/generate_questions.py` (the fields written per question).
  Layout: `<root>/clevr-math-{train,val,test}.json`, `<root>/CLEVR_v1.0/images/<split>/…png`,
  scenes (optional) `<root>/CLEVR_v1.0/scenes/CLEVR_<split>_scenes.json`.
- Super-CLEVR (Lizw14/Super-CLEVR): `README.md` (downloads `superCLEVR_questions_30k.json`
  and its `_NoRedundant` / `_AllRedundant` variants, `superCLEVR_scenes.json`, `images.zip`;
  "the first 20k images … for training, the next 5k for validation and the last 5k for
  testing"), `question_generation/generate_questions.py` and `output/superCLEVR_questions_5.json`
  (questions without `program` exist). Layout: `<root>/superCLEVR_questions_30k.json` (or the
  one `superCLEVR_questions_*.json` there, or `path:` naming the file itself),
  `<root>/images/superCLEVR_new_XXXXXX.png`, scenes (optional) `<root>/superCLEVR_scenes.json`.
  The split is taken from the image index (train < 20000 ≤ val < 25000 ≤ test; `all` for
  every image), since every question's own `split` is "new".

What becomes of a question: the answer's native type decides its kind (bool → "yes"/"no",
kind yes_no; int → number; str → text); the program is rendered as reasoning steps (the
`solution` of long answers) and its last function is the category (count, subtraction,
equal_integer, query_color, exist, …; the template name when there is no program); the
scene's objects (size, color, material, shape, pixel position) are exact facts. A question
whose answer does not fit its program (a count answered with text) is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from visinstruct.expand.base import BadRecord, DatasetImage, Truth, fmt_answer, load_json
from visinstruct.expand.grouping import Grouper, image_file
from visinstruct.sources.ingest import SourceError

CLEVR_MATH_LICENSE = "CC BY-SA 4.0"
SUPER_CLEVR_LICENSE = "CC BY 4.0"

#: Super-CLEVR's split by image index (README): first 20k train, next 5k val, last 5k test.
SUPER_CLEVR_SPLITS = {"train": (0, 20000), "val": (20000, 25000), "test": (25000, 30000)}

_NUMERIC_END = {"count", "addition", "subtraction"}
_BOOL_END = {"exist", "less_than", "greater_than"}


# -- readers --------------------------------------------------------------------------------


def read_clevr_math(root: Path, split: str, **_options: object) -> Iterator[DatasetImage | BadRecord]:
    """Every image of CLEVR-Math's `split` with its questions (see the module docstring)."""
    path = root / f"clevr-math-{split}.json"
    if not path.is_file():
        raise SourceError(f"clevr_math: no clevr-math-{split}.json under {root}")

    def image_rel(q: dict) -> str:
        return f"CLEVR_v1.0/images/{q.get('split') or split}/{q['image_filename']}"

    def scenes_for(q_split: str) -> Path:
        return root / "CLEVR_v1.0" / "scenes" / f"CLEVR_{q_split}_scenes.json"

    return _read("clevr_math", root, split, path, image_rel, scenes_for, CLEVR_MATH_LICENSE, None)


def read_super_clevr(root: Path, split: str, **_options: object) -> Iterator[DatasetImage | BadRecord]:
    """Every image of Super-CLEVR's `split` ("train", "val", "test" or "all")."""
    if split != "all" and split not in SUPER_CLEVR_SPLITS:
        raise SourceError(
            f"super_clevr: unknown split {split!r} (known: all, {', '.join(SUPER_CLEVR_SPLITS)})"
        )
    path = _super_clevr_questions(root)
    folder = path.parent

    def image_rel(q: dict) -> str:
        return f"images/{q['image_filename']}"

    def scenes_for(_q_split: str) -> Path:
        return folder / "superCLEVR_scenes.json"

    span = None if split == "all" else SUPER_CLEVR_SPLITS[split]
    return _read("super_clevr", folder, split, path, image_rel, scenes_for, SUPER_CLEVR_LICENSE, span)


def _super_clevr_questions(root: Path) -> Path:
    """The question file: `root` itself, `superCLEVR_questions_30k.json`, or the only
    `superCLEVR_questions_*.json` in `root`."""
    if root.is_file():
        return root
    main = root / "superCLEVR_questions_30k.json"
    if main.is_file():
        return main
    found = sorted(root.glob("superCLEVR_questions_*.json"))
    if len(found) == 1:
        return found[0]
    if not found:
        raise SourceError(f"super_clevr: no superCLEVR_questions_*.json under {root}")
    names = ", ".join(p.name for p in found)
    raise SourceError(f"super_clevr: several question files under {root} ({names}); name one as path:")


def _read(
    dataset: str,
    root: Path,
    split: str,
    path: Path,
    image_rel: Callable[[dict], str],
    scenes_for: Callable[[str], Path],
    license: str,
    span: tuple[int, int] | None,
) -> Iterator[DatasetImage | BadRecord]:
    """The questions of `path` grouped by image; `image_rel` gives a question's image file
    under `root`, `scenes_for` the scene file of a CLEVR split, `span` the image indices kept."""
    data = load_json(path, dataset)
    questions = data.get("questions") if isinstance(data, dict) else None
    if not isinstance(questions, list):
        raise SourceError(f"{dataset}: {path} has no 'questions' list")
    group = Grouper(dataset)
    files: dict[str, str] = {}  # image id -> image path relative to root
    for pos, q in enumerate(questions):
        qid = _qid(q, pos)
        if not isinstance(q, dict):
            group.refuse(qid, f"record is {type(q).__name__}, not an object")
            continue
        name = q.get("image_filename")
        if not isinstance(name, str) or not name.strip():
            group.refuse(qid, "no image_filename")
            continue
        if span is not None:
            index = _image_index(q)
            if index is None:
                group.refuse(qid, f"image index of {name!r} unknown, so its split is unknown")
                continue
            if not span[0] <= index < span[1]:
                continue  # another split's question
        image = Path(name).stem
        files.setdefault(image, image_rel(q))
        truth = _truth(q, qid)
        if isinstance(truth, str):
            group.refuse(qid, truth, image)
        else:
            group.add(image, truth)
    scenes = _Scenes(dataset, scenes_for)

    def build(image: str, truths: list[Truth], bad: list[BadRecord]) -> DatasetImage:
        file, error = image_file(root, files[image])
        objects = scenes.objects(image, files[image])
        if objects is not None:
            for t in truths:
                t.facts["objects"] = objects
        return DatasetImage(
            dataset=dataset,
            split=split,
            ref=f"{dataset}:{split}/{image}",
            questions=truths,
            path=file,
            domain="numerical_calculation",
            license=license,
            provenance={
                "dataset": dataset,
                "split": split,
                "file": path.name,
                "image": image,
                "image_file": files[image],
            },
            bad=bad,
            error=error,
        )

    return group.images(build)


def _qid(q: Any, pos: int) -> str:
    """The question's `question_index`, or its place in the file when it has none."""
    if (
        isinstance(q, dict)
        and isinstance(q.get("question_index"), int)
        and not isinstance(q.get("question_index"), bool)
    ):
        return str(q["question_index"])
    return f"#{pos}"


def _image_index(q: dict) -> int | None:
    index = q.get("image_index")
    if isinstance(index, int) and not isinstance(index, bool):
        return index
    digits = Path(str(q.get("image_filename", ""))).stem.rsplit("_", 1)[-1]
    return int(digits) if digits.isdigit() else None


def _truth(q: dict, qid: str) -> Truth | str:
    """The question as a Truth, or why it cannot be used."""
    text = q.get("question")
    if not isinstance(text, str) or not text.strip():
        return "no question text"
    raw = q.get("answer")
    if isinstance(raw, bool):
        answer, kind = ("yes" if raw else "no"), "yes_no"
    elif isinstance(raw, int | float) and raw == raw:
        answer, kind = fmt_answer(raw), "number"
    elif isinstance(raw, str) and raw.strip():
        answer, kind = " ".join(raw.split()), "text"
    else:
        return f"answer {raw!r} is not a bool, number or text"
    program = q.get("program")
    template = Path(str(q.get("template_filename") or "")).stem
    facts: dict[str, Any] = {}
    if template:
        facts["template"] = template
    category = template.replace("-", "_") or "general"
    steps: list[str] = []
    if program is not None:
        if not isinstance(program, list) or not program or not all(isinstance(n, dict) for n in program):
            return "program is not a list of functions"
        last = _function(program[-1])
        problem = _fits(last, q.get("answer"))
        if problem:
            return problem
        category = last or category
        steps = program_steps(program)
        facts["program"] = program
    return Truth(
        qid=qid,
        question=text.strip(),
        answer=answer,
        answer_raw=q.get("answer"),
        kind=kind,
        solution=steps,
        category=category,
        facts=facts,
    )


def _fits(last: str, answer: Any) -> str | None:
    """Why `answer` cannot be the result of a program ending in `last`, if it cannot."""
    if last in _NUMERIC_END and (isinstance(answer, bool) or not isinstance(answer, int | float)):
        return f"answer {answer!r} is not a number, but the program ends in {last}"
    if (last in _BOOL_END or last.startswith("equal_")) and not isinstance(answer, bool):
        return f"answer {answer!r} is not yes/no, but the program ends in {last}"
    if last.startswith(("query_", "partquery_")) and not isinstance(answer, str):
        return f"answer {answer!r} is not a value, but the program ends in {last}"
    return None


# -- scenes ---------------------------------------------------------------------------------


class _Scenes:
    """Scene files, read only when a question's image needs one and the file exists."""

    def __init__(self, dataset: str, scenes_for: Callable[[str], Path]) -> None:
        self.dataset = dataset
        self.scenes_for = scenes_for
        self.loaded: dict[Path, dict[str, list[dict]]] = {}

    def objects(self, image: str, rel: str) -> list[dict] | None:
        q_split = rel.split("/")[-2] if rel.count("/") >= 2 else ""
        path = self.scenes_for(q_split)
        if path not in self.loaded:
            self.loaded[path] = self._load(path)
        return self.loaded[path].get(image)

    def _load(self, path: Path) -> dict[str, list[dict]]:
        if not path.is_file():
            return {}
        data = load_json(path, self.dataset)
        scenes = data.get("scenes") if isinstance(data, dict) else None
        out: dict[str, list[dict]] = {}
        for scene in scenes if isinstance(scenes, list) else []:
            if isinstance(scene, dict) and isinstance(scene.get("image_filename"), str):
                objs = scene.get("objects")
                out[Path(scene["image_filename"]).stem] = (
                    [_object(o) for o in objs if isinstance(o, dict)] if isinstance(objs, list) else []
                )
        return out


def _object(o: dict) -> dict:
    """A scene object's exact facts: its attributes and where it is in the picture."""
    out = {k: o[k] for k in ("size", "color", "material", "shape") if isinstance(o.get(k), str)}
    pc = o.get("pixel_coords")
    if isinstance(pc, list) and pc and isinstance(pc[0], list):  # Super-CLEVR: [[x, y, depth], [w, h]]
        pc = pc[0]
    if isinstance(pc, list) and len(pc) >= 2 and all(isinstance(v, int | float) for v in pc[:2]):
        out["x"], out["y"] = round(pc[0]), round(pc[1])
    return out


# -- programs as reasoning steps --------------------------------------------------------------

_RELATIONS = {
    "left": "to the left of",
    "right": "to the right of",
    "front": "in front of",
    "behind": "behind",
}
_ATTRS = ("size", "color", "material")


@dataclass
class _Objs:
    """A set of objects a program step yields, described as a noun phrase."""

    attrs: dict[str, str] = field(default_factory=dict)
    noun: str = "object"
    rel: str = ""  # "to the left of the red cube"
    other: bool = False
    text: str = ""  # a free description (union, intersection, parts)

    def phrase(self, plural: bool = True) -> str:
        if self.text:
            return self.text
        words = (
            ["the"] + (["other"] if self.other else []) + [self.attrs[a] for a in _ATTRS if a in self.attrs]
        )
        words.append(_plural(self.noun) if plural else self.noun)
        return " ".join(words + ([self.rel] if self.rel else []))


def _plural(noun: str) -> str:
    if noun.endswith(("s", "x", "z", "ch", "sh")):
        return noun + "es"
    return noun + "s"


def _function(node: dict) -> str:
    return str(node.get("function") or node.get("type") or "")


def _np(value: Any, plural: bool = True) -> str:
    return value.phrase(plural) if isinstance(value, _Objs) else str(value)


def program_steps(program: list[dict]) -> list[str]:
    """A CLEVR functional program as reasoning steps in English, each naming what it works
    on ("Keep the red cylinders.", "Count the red cylinders.", "Subtract the number of red
    cylinders from the number of cylinders.") so no step refers to another by number."""
    outs: list[Any] = []
    steps: list[str] = []
    for node in program:
        fn = _function(node)
        vals = [str(v) for v in (node.get("value_inputs") or node.get("side_inputs") or [])]
        inputs = node.get("inputs") or []
        args = [outs[i] if isinstance(i, int) and 0 <= i < len(outs) else _Objs() for i in inputs]
        step, out = _step(fn, vals, args)
        steps.append(step)
        outs.append(out)
    return steps


def _step(fn: str, vals: list[str], args: list[Any]) -> tuple[str, Any]:
    a = args[0] if args else _Objs()
    b = args[1] if len(args) > 1 else _Objs()
    v = vals[0] if vals else ""
    if fn == "scene":
        return "Start from all objects in the scene.", _Objs()
    if fn.startswith("filter_") and isinstance(a, _Objs) and v:
        attr = fn[len("filter_") :]
        if a.text:
            out = _Objs(text=f"the {v} ones among {a.text}")
        elif attr in ("shape", "objectcategory"):
            out = replace(a, noun=v)
        else:
            out = replace(a, attrs={**a.attrs, attr: v})
        return f"Keep {out.phrase()}.", out
    if fn == "unique":
        return f"There is exactly one of them: {_np(a, False)}.", a
    if fn == "relate" and v:
        out = _Objs(rel=f"{_RELATIONS.get(v, v)} {_np(a, False)}")
        return f"Look at {out.phrase()}.", out
    if fn.startswith("same_"):
        attr = fn[len("same_") :]
        out = _Objs(other=True, rel=f"with the same {attr} as {_np(a, False)}")
        return f"Find {out.phrase()}.", out
    if fn == "union":
        out = _Objs(text=f"{_np(a)} and {_np(b)}")
        return f"Take {_np(a)} together with {_np(b)}.", out
    if fn == "intersect":
        out = _Objs(text=f"the objects that are both among {_np(a)} and among {_np(b)}")
        return f"Keep {out.phrase()}.", out
    if fn == "count":
        return f"Count {_np(a)}.", f"the number of {_np(a)}"
    if fn == "exist":
        return f"Check whether there is any of {_np(a)}.", f"whether there is any of {_np(a)}"
    if fn.startswith("query_"):
        attr = fn[len("query_") :]
        return f"Find the {attr} of {_np(a, False)}.", f"the {attr} of {_np(a, False)}"
    if fn.startswith("equal_"):
        return f"Check whether {_np(a)} is the same as {_np(b)}.", f"whether {_np(a)} equals {_np(b)}"
    if fn == "less_than":
        return f"Check whether {_np(a)} is less than {_np(b)}.", f"whether {_np(a)} is less than {_np(b)}"
    if fn == "greater_than":
        return f"Check whether {_np(a)} is greater than {_np(b)}.", f"whether {_np(a)} is more than {_np(b)}"
    if fn == "subtraction":
        return f"Subtract {_np(b)} from {_np(a)}.", f"{_np(a)} minus {_np(b)}"
    if fn == "addition":
        return f"Add {_np(a)} and {_np(b)}.", f"the sum of {_np(a)} and {_np(b)}"
    if fn == "object2part":
        out = _Objs(text=f"the parts of {_np(a, False)}")
        return f"Look at {out.phrase()}.", out
    if fn == "part2object":
        out = _Objs(text=f"the object that has {_np(a, False)}")
        return f"Look at {out.phrase()}.", out
    if fn.startswith("partfilter_") and v:
        out = _Objs(text=f"the {v} parts among {_np(a)}")
        return f"Keep {out.phrase()}.", out
    if fn.startswith("partquery_"):
        attr = fn[len("partquery_") :]
        return f"Find the {attr} of {_np(a, False)}.", f"the {attr} of {_np(a, False)}"
    shown = fn.replace("_", " ") or "step"
    extra = f" ({', '.join(vals)})" if vals else ""
    on = f" to {', '.join(_np(x) for x in args)}" if args else ""
    return f"Apply {shown}{extra}{on}.", _Objs(text=f"the result of {shown}{extra}")
