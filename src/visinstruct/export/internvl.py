"""InternVL chat data: JSONL of {id, image, width, height, conversations}, and its meta file.

One image: `image` is a path with `width`/`height`, and the first human turn starts with
`<image>\\n`. Several: `image` is a list with `width_list`/`height_list` (InternVL's names for
multi-image entries), and the first human turn starts `Image-1: <image>\\nImage-2: <image>\\n`.

InternVL's fine-tuning script reads its data through `--meta_path`: a JSON object of datasets,
each `{root, annotation, data_augment, repeat_time, length}`; it opens `annotation` (which must
end in `jsonl`) from its working directory and each image at `os.path.join(root, image)`. The
meta file is written beside the annotation as `<stem>_meta.json`, naming the data by the file's
stem, with `root` and `annotation` absolute so the script finds them wherever it is started.
"""

from __future__ import annotations

import json
from pathlib import Path

from visinstruct.errors import ExportError
from visinstruct.export.common import (
    ExportOptions,
    ExportSummary,
    Images,
    atomic_text,
    attributions,
    dumps,
    prompt_turns,
)
from visinstruct.store import RunStore

META_SUFFIX = "_meta.json"


def meta_path(out: Path) -> Path:
    """Where the meta file of the annotation `out` goes."""
    return out.with_name(out.stem + META_SUFFIX)


def meta(out: Path, n: int) -> dict[str, dict[str, object]]:
    """The meta entry InternVL's `--meta_path` reads for the annotation `out` of `n` rows."""
    root = out.parent.resolve()
    return {
        out.stem: {
            "root": f"{root.as_posix()}/",
            "annotation": (root / out.name).as_posix(),
            "data_augment": False,
            "repeat_time": 1,
            "length": n,
        }
    }


def write(store: RunStore, out: Path, include: tuple[str, ...], options: ExportOptions) -> ExportSummary:
    if not out.name.endswith("jsonl"):
        raise ExportError(f"{out}: InternVL reads only annotation files whose name ends in .jsonl")
    images = Images(store, out.parent, options.absolute_paths)
    n = 0
    with atomic_text(out) as f:
        for sample in store.iter_samples(include):
            ims = images.of(sample)
            row: dict[str, object] = {"id": sample.id}
            if len(ims) == 1:
                row.update(image=ims[0].ref, width=ims[0].width, height=ims[0].height)
            elif ims:
                row.update(
                    image=[im.ref for im in ims],
                    width_list=[im.width for im in ims],
                    height_list=[im.height for im in ims],
                )
            conversations = []
            for q, a in prompt_turns(sample, len(ims), "internvl"):
                conversations += [{"from": "human", "value": q}, {"from": "gpt", "value": a}]
            row["conversations"] = conversations
            credits = attributions(ims)
            if credits is not None:
                row["attribution"] = credits
            f.write(dumps(row) + "\n")
            n += 1
    path = meta_path(out)
    with atomic_text(path) as f:
        f.write(json.dumps(meta(out, n), ensure_ascii=False, indent=2) + "\n")
    return ExportSummary("internvl", out, n, images.count, files=(path,))
