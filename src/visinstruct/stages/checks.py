"""Check stages: rules, duplicates, near-identical images (by perceptual hash and by
embedding); and the checks a sample gets where it is made.

Every result is stored per sample under its stage's name, with the stage's version and
configuration and the digest of the sample it was computed on, and recomputed only when
one of those changes. Drawn samples (exact facts) are checked in the worker that draws
them: the rules (with `facts`: drawn from exact facts) and duplicates among the item's own
samples; model-written ones get their rules where the reply is parsed, and duplicates
across the dataset in `dedup`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from typing import Any

from visinstruct.checks.captions import sample_checks as caption_rules
from visinstruct.checks.facts import facts_result
from visinstruct.checks.results import passed
from visinstruct.checks.rules import rule_checks, structure_check
from visinstruct.records import Sample
from visinstruct.stages.base import Result, SampleCheck, Stage, Subject, Unit, passes_rules
from visinstruct.stages.context import RunContext
from visinstruct.store import digest, dumps

FACTS = {"facts": {"pass": True, "method": "drawn from exact facts"}}
# The configuration of a placeholder verification result: never the stage's own, so the stage
# always counts the sample as still to verify.
PENDING = "pending"
NOT_VERIFIED = {
    "pass": False,
    "severity": "review",
    "reason": "not verified yet: the verification did not complete (the next run tries again)",
}


_PUNCT = re.compile(r"[\W_]+")

#: Samples made from exact ground truth without a model: drawn (synthetic) or an open dataset's
#: own answers. Duplicates among them are looked for where they are made, among one item's or
#: one image's samples; the dataset-wide `dedup` looks at the others.
NOT_EXACT = "generator NOT LIKE 'synth/%' AND generator NOT LIKE 'dataset/%'"


def exact(s: Sample) -> bool:
    return s.drawn or s.generator.startswith("dataset/")


def _norm(text: str) -> str:
    return _PUNCT.sub(" ", text.casefold()).strip()


def _grams(text: str) -> set[str]:
    return {text[i : i + 3] for i in range(max(1, len(text) - 2))}


def local_duplicates(samples: list[Sample], threshold: float) -> list[dict]:
    """`duplicate` / `near_duplicate` among one item's samples: same image(s), type and answer
    with the same or a near-identical question (character trigrams). A few samples at a time,
    so plain sets beat building an index; the dataset stage uses `Deduper` with the same rule."""
    from visinstruct.checks.results import failed

    groups: dict[tuple, list[list]] = {}  # (images, type, answer) → [[question, trigrams, id, text]]
    out = []
    # a sample alone with its images and type has nothing to be a duplicate of: its answer is
    # not even normalised (most of an item's samples are of a type of their own)
    keys = [(tuple(sorted(s.images)), s.type) for s in samples]
    shared = Counter(keys)
    for s, key in zip(samples, keys, strict=True):
        if shared[key] == 1:
            out.append({"duplicate": passed(), "near_duplicate": passed()})
            continue
        a = _norm(" ".join(t.answer for t in s.turns))
        seen = groups.setdefault((*key, a), [])
        res = {"duplicate": passed(), "near_duplicate": passed()}
        # most groups hold one sample: the question is normalised, and its trigrams taken,
        # only when there is an earlier one to compare with
        q: str | None = None
        grams: set[str] | None = None
        for earlier in seen:
            if q is None:
                q = _norm(" ".join(t.question for t in s.turns))
            q0, g0, first = earlier[:3]
            if q0 is None:
                q0 = earlier[0] = _norm(earlier[3])
            if q == q0:
                res["duplicate"] = failed(f"same image and question as sample {first}", of=first)
                break
            if grams is None:
                grams = _grams(q)
            if g0 is None:
                g0 = earlier[1] = _grams(q0)
            sim = len(grams & g0) / max(1, len(grams | g0))
            if sim >= threshold:
                res["near_duplicate"] = failed(
                    f"near-duplicate question of sample {first} on the same image (similarity {sim:.2f})",
                    of=first,
                    similarity=round(sim, 3),
                )
                break
        else:
            seen.append([q, grams, s.id, " ".join(t.question for t in s.turns)])
        out.append(res)
    return out


class RulesStage(SampleCheck):
    """Options, lengths, language, refusals, unfilled slots, turn consistency, and the answer
    against the model's explanation (`checks/rules.py`); a caption sample's length, language and
    talk by the caption checks (`checks/captions.py`)."""

    name = "rules"
    # 2: options with letters of their own fail; the consistency rule. The caption checks came
    # with the first caption samples (no sample an earlier version checked gets them)
    version = "2"

    def __init__(self, rules: bool = True, lengths: dict | None = None, captions: dict | None = None) -> None:
        bounds = {k: list(v) for k, v in (lengths or {}).items()}
        options: dict[str, Any] = {"rules": rules, "lengths": bounds}
        if captions:  # only when given: the configuration of a recipe without them stays as it was
            options["captions"] = {k: list(v) for k, v in captions.items()}
        super().__init__(**options)
        self.limits = {k: tuple(v) for k, v in (lengths or {}).items()} or None
        self.caption_limits = {k: tuple(v) for k, v in (captions or {}).items()} or None

    def check(self, sample: Sample) -> dict[str, dict]:
        # a description of a synthetic image (or an LLM's rewrite of one): checked claim by claim
        facts = facts_result(sample) if sample.type == "caption" else None
        if not self.options["rules"]:
            out = structure_check(sample)
        elif sample.type == "caption":
            out = caption_rules(sample, self.limits, self.caption_limits, described=facts is not None)
        else:
            out = rule_checks(sample, self.limits)
        if facts is not None:
            out["facts"] = facts
            return out
        if sample.drawn:  # drawn from exact facts: correct by construction
            out.update(FACTS)
        return out


class MakeChecks:
    """The checks every sample gets where it is made (picklable: it travels to workers).
    Returns per sample: check stage → (version, configuration, results)."""

    def __init__(
        self,
        rules: RulesStage,
        dedup_threshold: float | None,
        verify: tuple[str, str, tuple[str, ...]] | None = None,
    ) -> None:
        self.rules = rules
        self.rules_key = (rules.version, rules.config())
        self.dedup_threshold = dedup_threshold
        self.dedup_key = (DedupStage.version, digest(dumps({"threshold": dedup_threshold})))
        self.verify = verify  # (stage name, version, types) when the recipe verifies samples

    def __call__(self, samples: list[Sample]) -> list[dict[str, tuple]]:
        out: list[dict[str, tuple]] = []
        drawn = [s for s in samples if exact(s)]
        dup = dict(zip((id(s) for s in drawn), self._dedup(drawn), strict=True)) if drawn else {}
        for s in samples:
            per: dict[str, tuple] = {"rules": (*self.rules_key, self.rules.check(s))}
            if dup.get(id(s)):
                per["dedup"] = (*self.dedup_key, dup[id(s)])
            if self._awaits_verification(s, per["rules"][2]):
                name, version, _types = self.verify  # type: ignore[misc]
                per[name] = (version, PENDING, {"verify": NOT_VERIFIED})
            out.append(per)
        return out

    def _awaits_verification(self, s: Sample, rules: dict[str, dict]) -> bool:
        """A sample the verification stage will check is not accepted until it has: it is
        stored with a `verify` result that sends it to review, which the stage's own result
        replaces (a failed or unsent verification leaves it there, and the next run retries)."""
        if self.verify is None or s.drawn:
            return False
        types = self.verify[2]
        if types and s.type not in types:
            return False
        return passes_rules(rules)

    def _dedup(self, drawn: list[Sample]) -> list[dict]:
        if self.dedup_threshold is None:
            return [{} for _ in drawn]
        return local_duplicates(drawn, self.dedup_threshold)


class DedupStage(Stage):
    """Duplicates among model-written (and imported) samples, in dataset order: the first is kept, later
    ones are marked (`checks/dedup.py`'s streaming `Deduper`: compact signatures, no text
    kept). Run over the whole dataset each time; only changed results are written."""

    name = "dedup"
    version = "1"
    track = False
    concurrency = 1

    def __init__(self, threshold: float = 0.85) -> None:
        self.threshold = threshold
        self._deduper: Any = None

    def config(self) -> str:
        return digest(dumps({"threshold": self.threshold}))

    def units(self, subject: Subject | None, ctx: RunContext) -> Iterable[Unit]:
        if subject is not None:
            return
        from visinstruct.checks.dedup import Deduper

        self._deduper = Deduper(threshold=self.threshold, by_answer=True)
        batch: list[tuple[Sample, int, str]] = []
        for row in ctx.store.iter_versioned(where=NOT_EXACT):
            batch.append(row)
            if len(batch) >= 1024:
                yield Unit(f"dedup:{batch[0][0].id}", data=batch)
                batch = []
        if batch:
            yield Unit(f"dedup:{batch[0][0].id}", data=batch)

    async def make(self, unit: Unit, ctx: RunContext) -> Result:
        rows = unit.data
        results = self._deduper.check_all([s for s, _, _ in rows])
        return Result(checks=[(s.id, v, dg, r) for (s, v, dg), r in zip(rows, results, strict=True)])


class CaptionDedupStage(Stage):
    """Near-duplicate captions across images (`checks/captions.py`, MinHash over character
    shingles of the normalised text): the caption samples written by a model, in dataset order;
    a later near-copy of an earlier sample's caption goes to review. Two passes over the run's
    caption samples: the first sketches every caption (about 100 bytes each are kept), the
    second writes each result, and only for a sample unchanged since the first read it."""

    name = "caption_dedup"
    version = "1"
    track = False
    concurrency = 1

    def __init__(self, threshold: float = 0.8) -> None:
        self.threshold = threshold

    def config(self) -> str:
        return digest(dumps({"threshold": self.threshold}))

    def units(self, subject: Subject | None, ctx: RunContext) -> Iterable[Unit]:
        if subject is not None:
            return
        import numpy as np

        from visinstruct.checks.captions import caption_duplicates

        where = f"type = 'caption' AND {NOT_EXACT}"
        seen: list[int] = []  # the first 8 bytes of each sample's digest, as read by the first pass

        def texts() -> Iterable[str]:
            for s, _v, dg in ctx.store.iter_versioned(where=where):
                seen.append(int(dg[:15], 16))
                yield s.turns[0].answer if s.turns else ""

        found = caption_duplicates(texts(), self.threshold)
        digests = np.array(seen, dtype=np.int64)
        seen.clear()
        copied = {b: "" for b in found if b is not None}  # position → id of each caption another copies
        batch: list[tuple] = []
        for n, (s, v, dg) in enumerate(ctx.store.iter_versioned(where=where)):
            if n >= len(digests):
                break
            if n in copied:
                copied[n] = s.id
            if int(dg[:15], 16) != digests[n]:
                continue  # changed since it was sketched (a person's edit): the next run checks it
            b = found[n]
            batch.append((s, v, dg, None if b is None else copied[b]))
            if len(batch) >= 512:
                yield Unit(f"caption_dedup:{batch[0][0].id}", data=batch)
                batch = []
        if batch:
            yield Unit(f"caption_dedup:{batch[0][0].id}", data=batch)

    async def make(self, unit: Unit, ctx: RunContext) -> Result:
        from visinstruct.checks.captions import duplicate_result, similarity

        rows = []
        for s, v, dg, of in unit.data:
            if of is None:
                rows.append((s.id, v, dg, duplicate_result(None)))
                continue
            earlier = ctx.store.sample(of)
            sim = similarity(earlier[0].turns[0].answer, s.turns[0].answer) if earlier else None
            rows.append((s.id, v, dg, duplicate_result(of, sim)))
        return Result(checks=rows)


class ImageDedupStage(Stage):
    """Near-identical source images by perceptual hash (computed when each image was taken
    in): the samples of a later near-copy go to review."""

    name = "image_dedup"
    version = "1"
    track = False
    concurrency = 1

    def __init__(self, max_distance: int = 4) -> None:
        self.max_distance = max_distance

    def config(self) -> str:
        return digest(dumps({"max_distance": self.max_distance}))

    def units(self, subject: Subject | None, ctx: RunContext) -> Iterable[Unit]:
        if subject is not None:
            return
        from visinstruct.checks.dedup import ImageDeduper

        index = ImageDeduper(max_distance=self.max_distance)
        batch: list[tuple[int, str, str | None]] = []
        for seq, image_id, h in ctx.store.phashes():
            if h is None:
                try:
                    h = index.phash(ctx.store.image_path(image_id))
                except (OSError, KeyError, ValueError):
                    continue
            batch.append((seq, image_id, index.add_hash(image_id, h)))
            if len(batch) >= 256:
                yield Unit(f"image_dedup:{batch[0][1]}", data=(batch, index))
                batch = []
        if batch:
            yield Unit(f"image_dedup:{batch[0][1]}", data=(batch, index))

    async def make(self, unit: Unit, ctx: RunContext) -> Result:
        from visinstruct.checks.dedup import near_duplicate_image
        from visinstruct.stages.instructions import mm_span

        batch, index = unit.data
        rows = []
        for seq, image_id, of in batch:
            res = near_duplicate_image(image_id, of, index.distance(image_id))
            for s, v, dg in ctx.store.samples_between(*mm_span(seq)):
                rows.append((s.id, v, dg, res))
        return Result(checks=rows)


class SemanticDedupStage(Stage):
    """Near-duplicate source images by meaning (`checks/semantic.py`): each image's embedding
    (the recipe's `embed:` model, cached by content hash) is compared, in input order, with
    those of the images before it; the samples of a later near-copy go to review. Run over
    every source image each time, like `image_dedup`: a run after the first reads its vectors
    from the embedding cache, and only changed results are written."""

    name = "semantic_dedup"
    version = "1"
    track = False
    concurrency = 1
    BATCH = 256  # source images per unit

    def __init__(self, threshold: float = 0.95, model: str = "") -> None:
        self.threshold, self.model = threshold, model

    def config(self) -> str:
        return digest(dumps({"threshold": self.threshold, "model": self.model}))

    def units(self, subject: Subject | None, ctx: RunContext) -> Iterable[Unit]:
        if subject is not None:
            return
        embedder = ctx.embedder
        if embedder is None:  # the recipe is validated: semantic_dedup needs `embed:`
            return
        from visinstruct.checks.semantic import SemanticDeduper

        index = SemanticDeduper(embedder.dim, self.threshold)
        inputs: list[tuple[int, str]] = []
        for seq, image_id, _h in ctx.store.phashes():
            inputs.append((seq, image_id))
            if len(inputs) >= self.BATCH:
                yield Unit(f"semantic_dedup:{inputs[0][1]}", data=self._batch(inputs, index, ctx))
                inputs = []
        if inputs:
            yield Unit(f"semantic_dedup:{inputs[0][1]}", data=self._batch(inputs, index, ctx))

    @staticmethod
    def _batch(inputs: list[tuple[int, str]], index: Any, ctx: RunContext) -> list[tuple[int, str, Any]]:
        """(seq, image id, (earlier id, similarity)) of the inputs whose image could be embedded
        (one that cannot is left without a result, as `image_dedup` leaves an unreadable one)."""
        import numpy as np

        embedder = ctx.embedder
        assert embedder is not None
        unique = list(dict.fromkeys(image_id for _, image_id in inputs))
        paths = []
        for image_id in unique:
            try:
                paths.append(ctx.store.image_path(image_id))
            except (KeyError, ValueError, OSError):
                paths.append(ctx.store.dir / "images" / "missing")  # reported as unreadable below
        vectors = {
            image_id: r.vector
            for image_id, r in zip(unique, embedder.iter_images(paths, unique), strict=True)
            if r.vector is not None
        }
        ids = [i for i in unique if i in vectors]
        found = (
            dict(zip(ids, index.add_batch(ids, np.stack([vectors[i] for i in ids])), strict=True))
            if ids
            else {}
        )
        return [(seq, image_id, found[image_id]) for seq, image_id in inputs if image_id in found]

    async def make(self, unit: Unit, ctx: RunContext) -> Result:
        from visinstruct.checks.semantic import semantic_duplicate_image
        from visinstruct.stages.instructions import mm_span

        rows = []
        for seq, image_id, (of, similarity) in unit.data:
            res = semantic_duplicate_image(image_id, of, similarity)
            for s, v, dg in ctx.store.samples_between(*mm_span(seq)):
                rows.append((s.id, v, dg, res))
        return Result(checks=rows)
