"""LLaMA-Factory's multimodal ShareGPT layout: a JSON array of {messages, images}.

One `<image>` per image opens the first user message. A `dataset_info.json` beside the file
registers it under the file's stem (an existing `dataset_info.json` there keeps its other
entries), so LLaMA-Factory can use it with `dataset_dir` set to the output folder.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from visinstruct.errors import ExportError
from visinstruct.export.common import (
    ExportOptions,
    ExportSummary,
    Images,
    JsonArray,
    atomic_text,
    attributions,
    prompt_turns,
)
from visinstruct.store import RunStore

DATASET_INFO = "dataset_info.json"


def dataset_entry(file_name: str) -> dict[str, Any]:
    return {
        "file_name": file_name,
        "formatting": "sharegpt",
        "columns": {"messages": "messages", "images": "images"},
        "tags": {
            "role_tag": "role",
            "content_tag": "content",
            "user_tag": "user",
            "assistant_tag": "assistant",
        },
    }


def _existing_info(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        info = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as e:
        raise ExportError(f"{path}: cannot be read to register the export ({e})") from None
    if not isinstance(info, dict):
        raise ExportError(f"{path}: is not a JSON object, cannot register the export in it")
    return info


def write(store: RunStore, out: Path, include: tuple[str, ...], options: ExportOptions) -> ExportSummary:
    info_path = out.parent / DATASET_INFO
    if out.name == DATASET_INFO:
        raise ExportError(f"{out}: choose another file name, {DATASET_INFO} is written beside the data")
    info = _existing_info(info_path)  # checked before anything is written
    images = Images(store, out.parent, options.absolute_paths)
    with atomic_text(out) as f:
        rows = JsonArray(f)
        for sample in store.iter_samples(include):
            ims = images.of(sample)
            messages = []
            for q, a in prompt_turns(sample, len(ims), "sharegpt"):
                messages += [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
            row: dict[str, Any] = {"id": sample.id, "messages": messages, "images": [im.ref for im in ims]}
            credits = attributions(ims)
            if credits is not None:
                row["attribution"] = credits
            rows.add(row)
        rows.close()
    info[out.stem] = dataset_entry(out.name)
    with atomic_text(info_path) as f:
        f.write(json.dumps(info, ensure_ascii=False, indent=2) + "\n")
    return ExportSummary("sharegpt", out, rows.n, images.count)
