"""Verification by a model: a VLM answers each question from the image alone (`verify`),
and an optional rubric score (`judge`). Both run in the flows, right after an image's
samples are written, and once more over the dataset for anything still unverified
(targeted questions, samples a person edited, a recipe that added verification later).

Which samples get a model check depends only on how they were made (written by a model,
of a verified type, not rejected by the rules when made), so an interrupted run verifies
exactly the samples an uninterrupted one does. A result is stored for the sample version
it was computed on; an edited sample is verified again.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from visinstruct.records import Sample
from visinstruct.stages.base import Result, Stage, Subject, Unit, UnitFailed, passes_rules
from visinstruct.stages.context import RunContext
from visinstruct.store import digest, dumps


def _spans(subject: Subject) -> list[tuple[int, int]]:
    """Where in the dataset a flow's subject has model-written samples."""
    from visinstruct.stages.instructions import facts_span, mm_span

    info = subject.info
    if info.get("image_id"):
        return [mm_span(subject.seq)]
    if info.get("task") is not None:
        return [facts_span(info["task"].seq)]
    return []


class _ModelCheck(Stage):
    types: tuple[str, ...] = ()

    def __init__(self, endpoint: str, **options: Any) -> None:
        self.endpoint = endpoint
        self.options = options

    def config(self) -> str:
        return digest(dumps({"endpoint": self.endpoint, **self.options}))

    def _eligible(self, sample: Sample) -> bool:
        return not sample.drawn and (not self.types or sample.type in self.types)

    def _current(self, ctx: RunContext, sid: str, dg: str) -> bool:
        row = ctx.store.db.execute(
            "SELECT c.version, c.config, c.digest FROM samples s JOIN check_results c "
            "ON c.sample = s.rowid WHERE s.id=? AND c.stage=?",
            (sid, self.name),
        ).fetchone()
        return row is not None and row == (self.version, self.config(), dg)

    def units(self, subject: Subject | None, ctx: RunContext) -> Iterable[Unit]:
        for sample, version, dg, rules_ok in self._candidates(subject, ctx):
            if rules_ok and self._eligible(sample) and not self._current(ctx, sample.id, dg):
                paths = [ctx.image_path(i, subject.info if subject else None) for i in sample.images]
                yield Unit(f"{sample.id}@{dg}", data=(sample, version, dg, paths))

    def _candidates(
        self, subject: Subject | None, ctx: RunContext
    ) -> Iterator[tuple[Sample, int, str, bool]]:
        store = ctx.store
        if subject is None:
            where = "generator NOT LIKE 'synth/%'"
            for batch in store.stale_for(self.name, self.version, self.config(), where):
                for sid, version, dg, data in batch:
                    yield (
                        Sample.from_dict(json.loads(data)),
                        version,
                        dg,
                        passes_rules(store.stage_result(sid, "rules")),
                    )
            return
        seen: set[str] = set()
        for lo, hi in _spans(subject):
            for sample, version, dg in store.samples_between(lo, hi):
                seen.add(sample.id)
                yield sample, version, dg, passes_rules(store.stage_result(sample.id, "rules"))
        for sid, dg, data, rules_ok in subject.info.get("made", ()):
            if sid not in seen:
                yield Sample.from_dict(json.loads(data)), 0, dg, rules_ok


class VerifyStage(_ModelCheck):
    """A VLM answers the question from the image alone; letters and yes/no are compared
    exactly, open answers by an LLM judge. A disagreement sends the sample to review.
    Version 2 reads the verifier's final answer (after its reasoning, "the answer is …")."""

    name = "verify"
    version = "2"

    def __init__(self, endpoint: str, judge_endpoint: str | None, types: list[str], max_tokens: int) -> None:
        super().__init__(endpoint, judge=judge_endpoint, types=sorted(types), max_tokens=max_tokens)
        self.types = tuple(types)
        self.judge_endpoint = judge_endpoint or endpoint
        self.max_tokens = max_tokens

    async def make(self, unit: Unit, ctx: RunContext) -> Result:
        from visinstruct.checks.verify import compare, judge_request, judged, read_agreement, verify_request

        sample, version, dg, paths = unit.data
        reply = await ctx.ask(verify_request(sample, paths, self.endpoint, self.max_tokens))
        reply = (reply or "").strip()
        res = compare(sample, reply)
        if res is None:
            try:
                verdict = await ctx.ask(judge_request(sample, reply, self.judge_endpoint))
                agree = bool(verdict.agree)
            except UnitFailed:  # a judge that will not write the JSON may still say it in words
                req = judge_request(sample, reply, self.judge_endpoint, in_words=True)
                agree = await ctx.ask(req, read_agreement)
            res = judged(agree, reply)
        return Result(checks=[(sample.id, version, dg, {"verify": res})])


class JudgeStage(_ModelCheck):
    """An LLM judge scores each sample 1–5 on a rubric; below `min_score` goes to review."""

    name = "judge"
    version = "1"

    def __init__(self, endpoint: str, min_score: int) -> None:
        super().__init__(endpoint, min_score=min_score)
        self.min_score = min_score

    async def make(self, unit: Unit, ctx: RunContext) -> Result:
        from visinstruct.checks.results import REVIEW, failed, passed
        from visinstruct.checks.verify import score_request

        sample, version, dg, paths = unit.data
        value = await ctx.ask(score_request(sample, paths, self.endpoint))
        sc = value.score
        res = (
            passed(score=sc)
            if sc >= self.min_score
            else failed(f"judge score {sc} < {self.min_score}: {value.reason[:160]}", REVIEW, score=sc)
        )
        return Result(checks=[(sample.id, version, dg, {"judge": res})])
