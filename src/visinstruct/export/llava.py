"""LLaVA instruction data: one JSON array of {id, image, conversations}.

Every image gets one `<image>` line at the start of the first human turn; `image` is a path,
or a list of paths for several images (LLaVA-NeXT / OneVision style).

LLaVA-1.5's `LazySupervisedDataset` opens `image` as one path (`os.path.join(image_folder,
image)`) and its `preprocess_multimodal` folds every `<image>` of a turn into one, so it
cannot read a row with several images. With `single_image`, the main file holds only rows with
at most one image (`image` always a string), and the rows with several go, in the LLaVA-NeXT /
OneVision layout, to a second file beside it: `<stem>_multi_image.json`.
"""

from __future__ import annotations

from pathlib import Path

from visinstruct.export.common import (
    ExportedImage,
    ExportOptions,
    ExportSummary,
    Images,
    JsonArray,
    atomic_text,
    attributions,
    one_or_list,
    prompt_turns,
)
from visinstruct.records import Sample
from visinstruct.store import RunStore

MULTI_IMAGE_SUFFIX = "_multi_image"


def multi_image_path(out: Path) -> Path:
    """Where a single-image export puts the rows with several images."""
    return out.with_name(f"{out.stem}{MULTI_IMAGE_SUFFIX}{out.suffix or '.json'}")


def row(sample: Sample, ims: list[ExportedImage]) -> dict[str, object]:
    out: dict[str, object] = {"id": sample.id}
    if ims:
        out["image"] = one_or_list([im.ref for im in ims])
    conversations = []
    for q, a in prompt_turns(sample, len(ims), "llava"):
        conversations += [{"from": "human", "value": q}, {"from": "gpt", "value": a}]
    out["conversations"] = conversations
    credits = attributions(ims)
    if credits is not None:
        out["attribution"] = credits
    return out


def write(store: RunStore, out: Path, include: tuple[str, ...], options: ExportOptions) -> ExportSummary:
    images = Images(store, out.parent, options.absolute_paths)
    if not options.single_image:
        with atomic_text(out) as f:
            rows = JsonArray(f)
            for sample in store.iter_samples(include):
                rows.add(row(sample, images.of(sample)))
            rows.close()
        return ExportSummary("llava", out, rows.n, images.count)
    second = multi_image_path(out)
    with atomic_text(out) as f, atomic_text(second) as g:
        rows, multi = JsonArray(f), JsonArray(g)
        for sample in store.iter_samples(include):
            ims = images.of(sample)
            (multi if len(ims) > 1 else rows).add(row(sample, ims))
        rows.close()
        multi.close()
    return ExportSummary("llava", out, rows.n, images.count, set_aside=multi.n, files=(second,))
