"""GeoQA+ and UniGeo: geometry problems released as pickles holding numpy diagrams and programs.

GeoQA+ (SCNU203/GeoQA-Plus): `data/GeoQA2.2/<split>.pk` is a list of dicts, read by
`SeqReader._read` / `text_to_instance` in `GeoQA+/utils.py`: `image` (a grey H×W uint8
array), `subject` (the question, Chinese), `choices`, `label` (0-based index of the right
choice), `manual_program` (prefix tokens such as `g_minus C_3 N_0`), `numbers` (the N_i),
`choice_nums`, `formal_point` (knowledge points), `answer` (the worked solution text) and
`id`; `data/sub_dataset_dict.pk` maps each id to its problem type (angle, length, area, other).
The release names its files GeoQA-train.pk, Mix-train.pk, Backtrans-train.pk, new-test.pk,
dev.pk, test.pk; the split is the file name without `.pk`.

UniGeo (chen-judge/UniGeo): `datasets/UniGeo/{calculation,proving}_<split>.pk` and
`sub_dataset_dict.pk`, read by `GeoDataset.__init__` in `Geoformer/src/geo_data.py`.
Calculation problems are GeoQA's with `English_problem` as the question; proving problems
hold `img` (H×W×3), `input_text`, `proving_sequence` and `problem_type` (parallel,
triangle, quadrilateral, congruent, similarity, proportions); `question`, `elements`,
`reasoning_skill` and the two-column proof's `statements` / `reasons` are used when present.

A proving problem becomes a text question whose answer is the statement to prove (the
question's last "Prove ..." clause, else the proof's last statement) and whose solution is
the proof: one step per statement with its reason when the record has them, else the
proving sequence as one step. Long answers so explain by the proof itself.

Programs become readable steps computed with the operators of `ManualProgram/operators.py`
(re-implemented here, nothing from the file is run): `g_minus(C_3, N_0) → V_0: difference,
|180 − 40| = 140`. Pickles are read only through `visinstruct.safe_pickle`. Several
problems on one diagram (a problem and its back-translated copy, say) become one image with
all its questions, in the order the file first shows the diagram; a repeated id gets "#2".
"""

from __future__ import annotations

import hashlib
import math
import operator
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from visinstruct import safe_pickle
from visinstruct.expand.base import BadRecord, DatasetImage, Truth, fmt_answer, png_from_array
from visinstruct.sources.ingest import SourceError

GEOQA_PLUS = "geoqa_plus"
UNIGEO = "unigeo"
LICENSES = {
    GEOQA_PLUS: "research use; see github.com/SCNU203/GeoQA-Plus",
    UNIGEO: "research use; see github.com/chen-judge/UniGeo",
}
SUBSET_DICT = "sub_dataset_dict.pk"

#: C_i of the programs (eval_equ.py of GeoQA+; UniGeo's list is its first seven).
CONSTANTS = [30, 60, 90, 180, 360, math.pi, 0.618, 72, 540]


def _sin(a: float) -> float | None:
    return math.sin(math.radians(a)) if a % 15 == 0 and 0 <= a <= 180 else None


def _cos(a: float) -> float | None:
    return math.cos(math.radians(a)) if a % 15 == 0 and 0 <= a <= 180 else None


def _tan(a: float) -> float | None:
    return math.tan(math.radians(a)) if a % 15 == 0 and 5 <= a <= 85 else None


def _asin(x: float) -> float | None:
    return math.degrees(math.asin(x)) if -1 < x < 1 else None


def _acos(x: float) -> float | None:
    return math.degrees(math.acos(x)) if -1 < x < 1 else None


def _positive(*xs: float) -> bool:
    return all(x > 0 for x in xs)


#: operator -> (its name in words, formula with {0} {1} {2}, the computation); as operators.py
#: defines them (sin/cos/tan only of multiples of 15°, bili and divide only of positives).
OPERATORS: dict[str, tuple[str, str, Callable[..., float | None]]] = {
    "g_equal": ("equal to", "{0}", lambda a: a),
    "g_double": ("double", "2 × {0}", lambda a: 2 * a),
    "g_half": ("half", "{0} / 2", lambda a: a / 2),
    "g_add": ("sum", "{0} + {1}", lambda a, b: a + b),
    "g_minus": ("difference", "|{0} − {1}|", lambda a, b: abs(a - b)),
    "g_sin": ("sine", "sin({0}°)", _sin),
    "g_cos": ("cosine", "cos({0}°)", _cos),
    "g_tan": ("tangent", "tan({0}°)", _tan),
    "g_asin": ("arcsine in degrees", "asin({0})", _asin),
    "g_acos": ("arccosine in degrees", "acos({0})", _acos),
    "gougu_add": ("hypotenuse (Pythagoras)", "√({0}² + {1}²)", lambda a, b: math.hypot(a, b)),
    "gougu_minus": (
        "leg (Pythagoras)",
        "√|{0}² − {1}²|",
        lambda a, b: math.sqrt(abs(a * a - b * b)) if a != b else None,
    ),
    "g_bili": ("proportion", "{0} / {1} × {2}", lambda a, b, c: a / b * c if _positive(a, b, c) else None),
    "g_mul": ("product", "{0} × {1}", lambda a, b: a * b),
    "g_divide": ("quotient", "{0} / {1}", lambda a, b: a / b if _positive(a, b) else None),
    "cal_circle_area": ("area of the circle", "π × {0}²", lambda r: math.pi * r * r),
    "cal_circle_perimeter": ("circumference of the circle", "2π × {0}", lambda r: 2 * math.pi * r),
    "cal_cone": ("lateral area of the cone", "π × {0} × {1}", lambda a, b: math.pi * a * b),
    "g_sqrt": ("square root", "√{0}", lambda a: math.sqrt(a) if a >= 0 else None),
}
#: the operators' names in Chinese, for the steps of a Chinese problem
ZH_WORDS = {
    "g_equal": "等于", "g_double": "二倍", "g_half": "一半", "g_add": "和", "g_minus": "差",
    "g_sin": "正弦", "g_cos": "余弦", "g_tan": "正切", "g_asin": "反正弦（度）", "g_acos": "反余弦（度）",
    "gougu_add": "勾股定理求斜边", "gougu_minus": "勾股定理求直角边", "g_bili": "比例", "g_mul": "积",
    "g_divide": "商", "cal_circle_area": "圆的面积", "cal_circle_perimeter": "圆的周长",
    "cal_cone": "圆锥的侧面积", "g_sqrt": "平方根",
}  # fmt: skip
#: operands each operator takes (the others take one)
_ARITY = {"g_bili": 3} | dict.fromkeys(
    ("g_add", "g_minus", "gougu_add", "gougu_minus", "g_mul", "g_divide", "cal_cone"), 2
)


def run_program(program: list[str], numbers: list[Any], lang: str = "en") -> tuple[list[str], float | None]:
    """The program as readable steps, and its last value (None when it cannot be computed).
    A Chinese problem's steps are in Chinese ("第1步：差，|180 − 40| = 140").

    A token that names no operator or a missing number leaves the rest as written."""
    steps: list[str] = []
    values: list[float] = []
    i, last = 0, None
    while i < len(program):
        op = str(program[i])
        if op not in OPERATORS:
            rest = " ".join(map(str, program[i:]))
            steps.append(("程序其余部分无法读取：" if lang == "zh" else "unreadable program rest: ") + rest)
            return steps, None
        n = _ARITY.get(op, 1)
        args = [str(t) for t in program[i + 1 : i + 1 + n]]
        i += 1 + n
        word, formula, compute = OPERATORS[op]
        out = f"V_{len(values)}"
        zh = lang == "zh"
        call = f"第{len(steps) + 1}步" if zh else f"{op}({', '.join(args)}) → {out}"
        word = ZH_WORDS.get(op, word) if zh else word
        colon, comma = ("：", "，") if zh else (": ", ", ")
        vals = [_operand(a, numbers, values) for a in args]
        if len(args) < n or any(v is None for v in vals):
            steps.append(f"{call}{colon}{word}" + ("（缺少运算数）" if zh else " (operands not given)"))
            return steps, None
        try:
            value = compute(*vals)
        except (ArithmeticError, ValueError):
            value = None
        if value is None:
            undefined = "无定义" if zh else " is not defined"
            steps.append(f"{call}{colon}{word}{comma}{formula.format(*map(_num, vals))}{undefined}")
            return steps, None
        values.append(value)
        last = value
        steps.append(f"{call}{colon}{word}{comma}{formula.format(*map(_num, vals))} = {_num(value)}")
    return steps, last


def _operand(token: str, numbers: list[Any], values: list[float]) -> float | None:
    m = re.fullmatch(r"([NVC])_(\d+)", token)
    if not m:
        return None
    pool: list[Any] = {"N": numbers, "V": values, "C": CONSTANTS}[m.group(1)]
    k = int(m.group(2))
    if k >= len(pool):
        return None
    try:
        return float(pool[k])
    except (TypeError, ValueError):
        return None


def _num(x: float) -> str:
    return "π" if x == math.pi else fmt_answer(float(x))


# ---------------------------------------------------------------------------- readers


def read_geoqa_plus(
    root: Path, split: str = "train", **_options: object
) -> Iterator[DatasetImage | BadRecord]:
    """Every problem of `<root>/<split>.pk` (or of the file `root`), diagrams shared once."""
    path = root if root.is_file() else root / f"{split}.pk"
    if not path.is_file():
        raise SourceError(f"{GEOQA_PLUS}: no {split}.pk under {root}")
    types = _subset_dict(path.parent, path.parent.parent)
    yield from _read_file(GEOQA_PLUS, path, split, lambda i, s: _calculation(GEOQA_PLUS, i, s, types))


def read_unigeo(root: Path, split: str = "train", **_options: object) -> Iterator[DatasetImage | BadRecord]:
    """The calculation and proving problems of `split` (`calculation_<split>.pk`,
    `proving_<split>.pk`); a split naming one file (`proving_test`) reads that file."""
    if root.is_file():
        files = [root]
    elif (root / f"{split}.pk").is_file():
        files = [root / f"{split}.pk"]
    else:
        files = [root / f"{form}_{split}.pk" for form in ("calculation", "proving")]
        files = [f for f in files if f.is_file()]
    if not files:
        raise SourceError(f"{UNIGEO}: no calculation_{split}.pk or proving_{split}.pk under {root}")
    types = _subset_dict(files[0].parent)
    for path in files:
        if "proving" in path.stem:
            yield from _read_file(UNIGEO, path, split, _proving)
        else:
            yield from _read_file(UNIGEO, path, split, lambda i, s: _calculation(UNIGEO, i, s, types))


Parse = Callable[[int, dict[str, Any]], tuple[Truth, Any] | BadRecord]


def _read_file(dataset: str, path: Path, split: str, parse: Parse) -> Iterator[DatasetImage | BadRecord]:
    """One pickle: its problems grouped by diagram, bad ones in their place."""
    try:
        samples = safe_pickle.load(path)
    except SourceError as e:
        yield BadRecord(dataset, path.name, str(e).removeprefix(f"{path}: "))
        return
    if not isinstance(samples, list | tuple):
        yield BadRecord(dataset, path.name, f"holds a {type(samples).__name__}, not a list of problems")
        return
    order: list[str | BadRecord] = []
    groups: dict[str, tuple[Any, list[Truth]]] = {}
    seen: dict[str, int] = {}  # a repeated id (back-translated copies) gets "#2", "#3", ...
    for index, sample in enumerate(samples):
        if not isinstance(sample, dict):
            order.append(BadRecord(dataset, f"{path.name}:{index}", "not a problem record"))
            continue
        got = parse(index, sample)
        if isinstance(got, BadRecord):
            order.append(got)
            continue
        truth, array = got
        seen[truth.qid] = seen.get(truth.qid, 0) + 1
        if seen[truth.qid] > 1:
            truth.qid = f"{truth.qid}#{seen[truth.qid]}"
        key = hashlib.sha256(repr((array.shape, array.dtype.str)).encode() + array.tobytes()).hexdigest()
        if key not in groups:
            groups[key] = (array, [])
            order.append(key)
        groups[key][1].append(truth)
    for item in order:
        if isinstance(item, BadRecord):
            yield item
            continue
        array, truths = groups.pop(item)
        try:
            data = png_from_array(array)
        except (TypeError, ValueError) as e:
            for t in truths:
                yield BadRecord(dataset, t.qid, f"image cannot be encoded ({e})")
            continue
        image_id = truths[0].qid  # the first problem on the diagram names it
        yield DatasetImage(
            dataset=dataset,
            split=split,
            ref=f"{dataset}:{split}/{image_id}",
            questions=truths,
            data=data,
            license=LICENSES[dataset],
            provenance={
                "dataset": dataset,
                "split": split,
                "file": path.name,
                "image_id": image_id,
                "questions": [t.qid for t in truths],
            },
        )


def _subset_dict(*folders: Path) -> dict[Any, str]:
    """id -> problem type from `sub_dataset_dict.pk`, the first found; {} without one."""
    for folder in folders:
        path = folder / SUBSET_DICT
        if path.is_file():
            try:
                got = safe_pickle.load(path)
            except SourceError:
                return {}
            return got if isinstance(got, dict) else {}
    return {}


def _image(sample: dict[str, Any], key: str) -> Any | str:
    """The diagram array, or why there is none."""
    import numpy as np

    a = sample.get(key)
    if not isinstance(a, np.ndarray):
        return f"no image array ({key!r} is {type(a).__name__})"
    if a.ndim not in (2, 3) or a.size == 0 or (a.ndim == 3 and a.shape[2] not in (1, 3, 4)):
        return f"image array has shape {a.shape}, not H×W or H×W×3"
    return a


def _calculation(dataset: str, index: int, sample: dict[str, Any], types: dict[Any, str]):
    """A GeoQA-style calculation problem: (Truth, diagram) or BadRecord."""
    pid = sample.get("id", index)
    qid = f"calculation/{pid}" if dataset == UNIGEO else str(pid)
    key = "English_problem" if dataset == UNIGEO and sample.get("English_problem") else "subject"
    question = sample.get(key)
    if not isinstance(question, str) or not question.strip():
        return BadRecord(dataset, qid, f"no question text ({key!r})")
    choices = sample.get("choices")
    if not isinstance(choices, list | tuple) or not choices:
        nums = sample.get("choice_nums")
        if not isinstance(nums, list | tuple) or not nums:
            return BadRecord(dataset, qid, "no choices")
        choices = [fmt_answer(float(n)) if isinstance(n, int | float) else str(n) for n in nums]
    choices = [str(c).strip() for c in choices]
    raw = sample.get("label")
    try:
        label = operator.index(raw)  # int or numpy integer, not float or str
    except TypeError:
        return BadRecord(dataset, qid, f"label {raw!r} is not a choice index")
    if not 0 <= label < len(choices):
        return BadRecord(dataset, qid, f"label {label} is out of range for {len(choices)} choices")
    array = _image(sample, "image")
    if isinstance(array, str):
        return BadRecord(dataset, qid, array)
    lang = "en" if key == "English_problem" else "zh"
    program = [str(t) for t in sample.get("manual_program") or []]
    numbers = list(sample.get("numbers") or [])
    steps, value = run_program(program, numbers, lang) if program else ([], None)
    facts: dict[str, Any] = {"id": _plain(pid), "program": program, "numbers": [_plain(n) for n in numbers]}
    nums = sample.get("choice_nums")
    if value is not None and isinstance(nums, list | tuple) and label < len(nums) and nums[label] is not None:
        facts["program_checked"] = math.isclose(value, float(nums[label]), abs_tol=1e-3)
    points = sample.get("formal_point")
    if isinstance(points, list | tuple) and points:
        facts["knowledge_points"] = [str(p) for p in points]
    worked = sample.get("answer")
    if isinstance(worked, str) and worked.strip():
        facts["worked_solution"] = worked.strip()
    kind = types.get(pid, types.get(str(pid)))
    truth = Truth(
        qid=qid,
        question=question.strip(),
        answer=choices[label],
        answer_raw=_plain(raw),
        kind="choice",
        choices=choices,
        solution=steps,
        category=_snake(kind) if isinstance(kind, str) else "calculation",
        lang=lang,
        facts=facts,
    )
    return truth, array


_PROVE = re.compile(r"\bprove(?:\s+that)?\s*[:：]?\s*(.+?)\s*[.。]?\s*$", re.IGNORECASE | re.DOTALL)


def _proving(index: int, sample: dict[str, Any]):
    """A UniGeo proving problem: (Truth, diagram) or BadRecord."""
    pid = sample.get("id", index)
    qid = f"proving/{pid}"
    question = sample.get("question") or sample.get("input_text")
    if not isinstance(question, str) or not question.strip():
        return BadRecord(UNIGEO, qid, "no question text ('question' or 'input_text')")
    statements = [str(s).strip() for s in sample.get("statements") or []]
    reasons = [str(r).strip() for r in sample.get("reasons") or []]
    sequence = [str(t) for t in sample.get("proving_sequence") or []]
    if statements:
        reasons += [""] * (len(statements) - len(reasons))
        steps = [f"{s} ({r})" if r else s for s, r in zip(statements, reasons, strict=False)]
    elif sequence:
        steps = [" ".join(sequence)]
    else:
        return BadRecord(UNIGEO, qid, "no proof ('statements' or 'proving_sequence')")
    found = [m.group(1).strip() for m in _PROVE.finditer(question)]
    goal = found[-1] if found else (statements[-1] if statements else "")
    if not goal:
        return BadRecord(UNIGEO, qid, "no statement to prove (no 'Prove ...' in the question, no statements)")
    array = _image(sample, "img")
    if isinstance(array, str):
        return BadRecord(UNIGEO, qid, array)
    kind = sample.get("problem_type")
    facts: dict[str, Any] = {"id": _plain(pid), "proving_sequence": sequence, "problem_form": "proving"}
    for name in ("elements", "reasoning_skill"):
        if sample.get(name):
            facts[name] = _plain(sample[name])
    truth = Truth(
        qid=qid,
        question=question.strip(),
        answer=goal,
        answer_raw=goal,
        kind="text",
        solution=steps,
        category=_snake(kind) if isinstance(kind, str) and kind.strip() else "proving",
        lang="en",
        facts=facts,
    )
    return truth, array


def _plain(value: Any) -> Any:
    """numpy scalars and tuples as plain JSON values (facts are stored as JSON)."""
    if hasattr(value, "item") and not isinstance(value, list | tuple | dict | str):
        try:
            return value.item()
        except (TypeError, ValueError):
            return str(value)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _snake(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", name.strip().lower()).strip("_") or "other"
