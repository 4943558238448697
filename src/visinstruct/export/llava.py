"""LLaVA instruction data: one JSON array of {id, image, conversations}.

Every image gets one `<image>` line at the start of the first human turn; `image` is a path,
or a list of paths for several images (LLaVA-NeXT / OneVision style).
"""

from __future__ import annotations

from pathlib import Path

from visinstruct.export.common import ExportSummary, Images, JsonArray, atomic_text, one_or_list, prompt_turns
from visinstruct.store import RunStore


def write(store: RunStore, out: Path, include: tuple[str, ...]) -> ExportSummary:
    images = Images(store, out.parent)
    with atomic_text(out) as f:
        rows = JsonArray(f)
        for sample in store.iter_samples(include):
            ims = images.of(sample)
            row: dict[str, object] = {"id": sample.id}
            if ims:
                row["image"] = one_or_list([im.rel for im in ims])
            conversations = []
            for q, a in prompt_turns(sample, len(ims), "llava"):
                conversations += [{"from": "human", "value": q}, {"from": "gpt", "value": a}]
            row["conversations"] = conversations
            rows.add(row)
        rows.close()
    return ExportSummary("llava", out, rows.n, images.count)
