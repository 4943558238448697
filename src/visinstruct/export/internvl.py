"""InternVL chat data: JSONL of {id, image, width, height, conversations}.

One image: `image` is a path with `width`/`height`, and the first human turn starts with
`<image>\\n`. Several: `image` is a list with `width_list`/`height_list` (InternVL's names for
multi-image entries), and the first human turn starts `Image-1: <image>\\nImage-2: <image>\\n`.
"""

from __future__ import annotations

from pathlib import Path

from visinstruct.export.common import ExportSummary, Images, atomic_text, dumps, prompt_turns
from visinstruct.store import RunStore


def write(store: RunStore, out: Path, include: tuple[str, ...]) -> ExportSummary:
    images = Images(store, out.parent)
    n = 0
    with atomic_text(out) as f:
        for sample in store.iter_samples(include):
            ims = images.of(sample)
            row: dict[str, object] = {"id": sample.id}
            if len(ims) == 1:
                row.update(image=ims[0].rel, width=ims[0].width, height=ims[0].height)
            elif ims:
                row.update(
                    image=[im.rel for im in ims],
                    width_list=[im.width for im in ims],
                    height_list=[im.height for im in ims],
                )
            conversations = []
            for q, a in prompt_turns(sample, len(ims), "internvl"):
                conversations += [{"from": "human", "value": q}, {"from": "gpt", "value": a}]
            row["conversations"] = conversations
            f.write(dumps(row) + "\n")
            n += 1
    return ExportSummary("internvl", out, n, images.count)
