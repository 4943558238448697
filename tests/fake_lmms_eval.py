"""A stand-in for the `lmms-eval` command: takes the command line the loop's eval hook builds
and writes MMBench `--log_samples` output where lmms-eval v0.7 writes it, in its layout.

Layout, from lmms-eval's `loggers/evaluation_tracker.py` (`save_results_aggregated`,
`save_results_samples`) and `utils.sanitize_model_name`: `<output_path>/<last two parts of
pretrained, "/" → "__">/<date>_samples_<task>.jsonl`, one sample per line, without `doc` or
`arguments`, one-request responses flattened, plus `<date>_results.json`. Per-sample metric
values are those of `tasks/mmbench/en_utils.py` `mmbench_process_results`.

Which answers it gives is set per model by the JSON file in `FAKE_LMMS_PROFILE`:
`{"<model folder name>": {"<category>": accuracy, ...}, ...}`, the key matched against the
end of `pretrained`. It refuses a `pretrained` folder without a saved model (config.json and
weights), as the real command would fail to load it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
from pathlib import Path

LETTERS = "ABCD"
L2 = {
    "ocr": "Fine-grained Single-instance Perception",
    "attribute_recognition": "Fine-grained Single-instance Perception",
    "object_localization": "Fine-grained Single-instance Perception",
    "spatial_relationship": "Fine-grained Cross-instance Perception",
    "image_emotion": "Coarse Perception",
}
PER_CATEGORY = 20


def sanitize_model_name(name: str) -> str:  # lmms_eval/utils.py, full_path=False
    parts = name.split("/")
    last_two = "/".join(parts[-2:]) if len(parts) > 1 else parts[-1]
    return re.sub(r"[\"<>:/\|\\?\*\[\]]+", "__", last_two)


def docs() -> list[dict]:
    out = []
    for c, cat in enumerate(sorted(L2)):
        for i in range(PER_CATEGORY):
            n = c * PER_CATEGORY + i
            doc = {"index": 2000 + n, "question": f"Question {n} about {cat}?", "hint": "nan"}
            doc.update({x: f"{x.lower()}{n}" for x in LETTERS})
            doc.update(answer=LETTERS[n % 4], category=cat, **{"L2-category": L2[cat]})
            doc.update(source="fake", split="dev")
            out.append(doc)
    return out


def response(doc: dict, i: int, accuracy: float) -> str:
    """The first round(accuracy × n) questions of a category right, the rest wrong."""
    right = i < round(accuracy * PER_CATEGORY)
    letter = doc["answer"] if right else LETTERS[(LETTERS.index(doc["answer"]) + 1) % 4]
    return f"{letter}."


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="lmms-eval")
    ap.add_argument("--model", required=True)
    ap.add_argument("--model_args", required=True)
    ap.add_argument("--tasks", required=True)
    ap.add_argument("--batch_size", default="1")
    ap.add_argument("--log_samples", action="store_true")
    ap.add_argument("--output_path", required=True)
    args = ap.parse_args(argv)
    if args.tasks != "mmbench_en_dev" or not args.log_samples:
        print("fake lmms-eval: only --tasks mmbench_en_dev with --log_samples", file=sys.stderr)
        return 2
    pretrained = dict(kv.split("=", 1) for kv in args.model_args.split(","))["pretrained"]
    folder = Path(pretrained)
    if not (folder / "config.json").is_file() or not any(folder.glob("*.safetensors")):
        print(f"fake lmms-eval: no saved model in {folder}", file=sys.stderr)
        return 3
    profiles = json.loads(Path(os.environ["FAKE_LMMS_PROFILE"]).read_text("utf-8"))
    key = next(k for k in sorted(profiles, key=len, reverse=True) if pretrained.rstrip("/").endswith(k))
    profile = profiles[key]
    out = Path(args.output_path) / sanitize_model_name(pretrained)
    out.mkdir(parents=True, exist_ok=True)
    date_id = "20250301_101500"
    seen: dict[str, int] = {}
    with open(out / f"{date_id}_samples_{args.tasks}.jsonl", "w", encoding="utf-8") as f:
        for doc_id, doc in enumerate(docs()):
            i = seen[doc["category"]] = seen.get(doc["category"], -1) + 1
            resp = response(doc, i, profile[doc["category"]])
            prompt = f"{doc['question']}\n" + "\n".join(f"{x}. {doc[x]}" for x in LETTERS)
            value = {
                k: doc[k] for k in ("index", "question", "answer", "hint", "source", "split", "category")
            }
            value.update({"prediction": resp, "L2-category": doc["L2-category"]})
            value.update({x: doc.get(x, "nan") for x in "ABCDE"})
            sample = {
                "doc_id": doc_id,
                "target": doc["answer"],
                "filtered_resps": resp,
                "doc_hash": hashlib.sha256(json.dumps(doc, indent=2).encode()).hexdigest(),
                "prompt_hash": hashlib.sha256(prompt.encode()).hexdigest(),
                "target_hash": hashlib.sha256(doc["answer"].encode()).hexdigest(),
                "gpt_eval_score": value,
                "submission": dict(value),
                "token_counts": [{"input_tokens": 90 + doc_id, "output_tokens": 2}],
                "input": prompt,
            }
            f.write(json.dumps(sample, ensure_ascii=False) + "\n")
    results = {"results": {args.tasks: {"alias": args.tasks}}, "model_name": pretrained}
    (out / f"{date_id}_results.json").write_text(json.dumps(results, indent=2), "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
