"""FigureQA: yes/no questions about synthetic charts, read as published.

Followed: Maluuba/FigureQA `docs/json_png_format.md` (a split folder holds `png/<image_index>.png`,
`qa_pairs.json` = `{"qa_pairs": [{question_string, question_id, answer: 0|1, color1_name,
color2_name ("--None--" when not applicable), image_index, …}], …}` and `annotations.json`)
and `docs/question_id_map.txt` (`question_id` is the question *template*, 0–14, not a unique
id); molmo's `olmo/hf_datasets/figure_qa.py` groups the pairs by `image_index` the same way.
The archives unpack to `train1/`, `validation1/`, `validation2/`, `no_annot_test1/`, …

Layout: `<root>/<split>/qa_pairs.json` and `<root>/<split>/png/`; `split: train` also finds
`train1/` and `split: validation` `validation1/`; `path:` may name the split folder itself.

What becomes of a pair: its place in `qa_pairs` is the question id (the file has no other);
the answer 1/0 is "yes"/"no" (kind yes_no); the template is the category (`min`, `max`,
`less`, `greater`, `low_median`, `high_median` for bar and pie charts; `min_auc`, `max_auc`,
`smoothest`, `roughest`, `global_min`, `global_max`, `line_less`, `line_greater`,
`intersect` for line plots); the colour names the question is about are facts. A pair
without an answer (the unannotated test splits), with another answer than 0/1, or with an
unknown template or image index is refused. `annotations.json` is not read.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from visinstruct.expand.base import BadRecord, DatasetImage, Truth, load_json
from visinstruct.expand.grouping import Grouper, image_file
from visinstruct.sources.ingest import SourceError

LICENSE = "FigureQA dataset terms (Microsoft Research)"

#: question_id -> template, from docs/question_id_map.txt (12 and 13 are the line-plot
#: "less"/"greater", named apart from the bar/pie ones).
TEMPLATES = {
    0: "min",
    1: "max",
    2: "less",
    3: "greater",
    4: "low_median",
    5: "high_median",
    6: "min_auc",
    7: "max_auc",
    8: "smoothest",
    9: "roughest",
    10: "global_min",
    11: "global_max",
    12: "line_less",
    13: "line_greater",
    14: "intersect",
}
_ALIASES = {"train": "train1", "validation": "validation1", "val": "validation1"}


def split_folder(root: Path, split: str) -> Path:
    """The folder holding `qa_pairs.json` for `split`."""
    for d in (root / split, root / _ALIASES.get(split, split), root):
        if (d / "qa_pairs.json").is_file():
            return d
    raise SourceError(f"figureqa: no {split}/qa_pairs.json under {root}")


def read(root: Path, split: str, **_options: object) -> Iterator[DatasetImage | BadRecord]:
    """Every figure of FigureQA's `split` with all its questions."""
    folder = split_folder(root, split)
    data = load_json(folder / "qa_pairs.json", "figureqa")
    pairs = data.get("qa_pairs") if isinstance(data, dict) else None
    if not isinstance(pairs, list):
        raise SourceError(f"figureqa: {folder / 'qa_pairs.json'} has no 'qa_pairs' list")
    group = Grouper("figureqa")
    for pos, p in enumerate(pairs):
        qid = str(pos)
        if not isinstance(p, dict):
            group.refuse(qid, f"record is {type(p).__name__}, not an object")
            continue
        index = p.get("image_index")
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            group.refuse(qid, f"unknown image index {index!r}")
            continue
        truth = _truth(p, qid)
        if isinstance(truth, str):
            group.refuse(qid, truth, str(index))
        else:
            group.add(str(index), truth)
    file_name = f"{folder.name}/qa_pairs.json"

    def build(image: str, truths: list[Truth], bad: list[BadRecord]) -> DatasetImage:
        path, error = image_file(folder, f"png/{image}.png")
        return DatasetImage(
            dataset="figureqa",
            split=split,
            ref=f"figureqa:{split}/{image}",
            questions=truths,
            path=path,
            domain="structuralized_imagetext_understanding",
            license=LICENSE,
            provenance={"dataset": "figureqa", "split": split, "file": file_name, "image_index": int(image)},
            bad=bad,
            error=error,
        )

    return group.images(build)


def _truth(p: dict, qid: str) -> Truth | str:
    text = p.get("question_string")
    if not isinstance(text, str) or not text.strip():
        return "no question_string"
    template = p.get("question_id")
    if isinstance(template, bool) or template not in TEMPLATES:
        return f"unknown question template id {template!r} (known: 0-14)"
    if "answer" not in p:
        return "no answer (an unannotated split)"
    raw = p["answer"]
    if isinstance(raw, bool) or raw not in (0, 1):
        return f"answer {raw!r} is not 0 or 1"
    facts = {"template_id": template}
    for key in ("color1_name", "color2_name"):
        name = p.get(key)
        if isinstance(name, str) and name.strip() and name != "--None--":
            facts[key] = name
    return Truth(
        qid=qid,
        question=text.strip(),
        answer="yes" if raw == 1 else "no",
        answer_raw=raw,
        kind="yes_no",
        category=TEMPLATES[template],
        facts=facts,
    )
