"""The built-in stages, the stages a recipe adds by name, and the plan a recipe runs.

A recipe can add stages of its own without touching the runner:

    stages:
      - use: mypackage.checks:CaptionLength      # a dotted path, module:Class
        options: {min_words: 50}
      - use: caption_length                       # or an entry point of group `visinstruct.stages`

A stage added this way runs over the dataset after every flow, before duplicates are
looked for; a `SampleCheck` is recomputed only when its version, its options or the sample
change (see `base.py` for the contract).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from visinstruct.errors import RecipeError
from visinstruct.plugins import load_reference
from visinstruct.stages.base import (
    CpuStage,
    Flow,
    ModelStage,
    NotSent,
    Plan,
    Result,
    SampleCheck,
    Stage,
    Subject,
    Unit,
    UnitFailed,
)
from visinstruct.stages.checks import (
    CaptionDedupStage,
    DedupStage,
    ImageDedupStage,
    MakeChecks,
    RulesStage,
    SemanticDedupStage,
)
from visinstruct.stages.context import RunContext

ENTRY_POINTS = "visinstruct.stages"

__all__ = [
    "CpuStage",
    "Flow",
    "ModelStage",
    "NotSent",
    "Plan",
    "Result",
    "RunContext",
    "SampleCheck",
    "Stage",
    "Subject",
    "Unit",
    "UnitFailed",
    "build",
    "context",
    "load_stage",
]


def load_stage(ref: str) -> type[Stage]:
    """The stage class a recipe names: `module:Class` (or `module.Class`), or an entry point."""
    target = load_reference(ref, ENTRY_POINTS, "stage", RecipeError, dotted=True)
    if target is None:
        raise RecipeError(f"stage {ref!r}: no such entry point in group {ENTRY_POINTS!r}")
    if not (isinstance(target, type) and issubclass(target, Stage)) or not target.name:
        raise RecipeError(f"stage {ref!r} is not a visinstruct Stage with a name")
    return target


def context(recipe: Any, store: Any, base: Path, executor: Any) -> RunContext:
    """The run's context, with the checks every sample gets where it is made."""
    from visinstruct.stages.verify import VerifyStage

    c = recipe.checks
    rules = RulesStage(rules=c.rules, lengths=dict(c.lengths), captions=c.captions.limits())
    verify = (VerifyStage.name, VerifyStage.version, tuple(c.verify.types)) if c.verify is not None else None
    make = MakeChecks(rules, c.near_duplicate_threshold if c.dedup else None, verify)
    return RunContext(recipe, store, base, executor, make)


def _custom(recipe: Any, taken: set[str]) -> list[Stage]:
    out = []
    for spec in recipe.stages:
        cls = load_stage(spec.use)
        try:
            stage = cls(**spec.options)
        except TypeError as e:
            raise RecipeError(f"stage {spec.use!r}: {e}") from None
        if stage.name in taken:
            raise RecipeError(f"stage {spec.use!r}: the name {stage.name!r} is taken by another stage")
        taken.add(stage.name)
        out.append(stage)
    return out


def build(ctx: RunContext, *, make: bool = True, exports: bool = True) -> Plan:
    """The recipe's plan: flows (synthetic items, coded specs, open datasets, source images) and
    dataset stages. With
    `make=False` only the checks (`visinstruct check`)."""
    from visinstruct.stages import datasets, synthetic
    from visinstruct.stages.export import ExportStage

    r, c = ctx.recipe, ctx.recipe.checks
    if r.image_sources or r.uses_llm_on_facts() or r.targeted or c.verify or c.judge:  # model stages
        from visinstruct.stages import ingest
        from visinstruct.stages.caption import AssignDomainStage, CaptionStage, ZeroShotDomainStage
        from visinstruct.stages.instructions import FactsStage, InstructionsStage
        from visinstruct.stages.rewrite import CaptionRewriteStage, wants_rewrite
        from visinstruct.stages.targeted import TargetedStage
        from visinstruct.stages.verify import JudgeStage, VerifyStage
    model_checks: list[Stage] = []
    if c.verify is not None:
        v = c.verify
        model_checks.append(VerifyStage(v.endpoint, v.judge_endpoint, list(v.types), v.max_tokens))
    if c.judge is not None:
        model_checks.append(JudgeStage(c.judge.endpoint, c.judge.min_score))
    plan = Plan()
    if make and r.synthetic:
        stages: list[Stage] = [synthetic.SyntheticStage(ctx)]
        if r.uses_llm_on_facts():
            stages.append(FactsStage())
            if wants_rewrite(r):
                stages.append(CaptionRewriteStage())
            stages += model_checks
        plan.flows.append(Flow("synthetic", synthetic.subjects, stages))
    if make and r.coded is not None and r.coded.count:
        from visinstruct.stages import coded

        plan.flows.append(Flow("coded", coded.subjects, [coded.CodedStage(ctx)]))
    if make and r.dataset_sources:
        plan.flows.append(Flow("datasets", datasets.subjects, [datasets.DatasetStage(ctx)]))
    if make and r.image_sources:
        stages = [ingest.IngestStage(ctx)]
        assignment = r.domain_assignment
        if assignment is not None and assignment.method == "zero_shot":
            # before the captions: no caption is read, and the caption prompt gets the domain
            stages += [ZeroShotDomainStage(assignment.domains, assignment.language), CaptionStage()]
        elif assignment is not None:
            stages += [CaptionStage(), AssignDomainStage(assignment.domains)]
        else:
            stages.append(CaptionStage())
        if r.caption_sample_languages:
            from visinstruct.stages.caption_samples import CaptionSamplesStage

            stages.append(CaptionSamplesStage(ctx))
        stages += [InstructionsStage(ctx), *model_checks]
        plan.flows.append(Flow("sources", ingest.subjects, stages))
    if make and r.targeted is not None:
        plan.dataset.append(TargetedStage())
    plan.dataset.append(ctx.make_checks.rules)
    taken = {s.name for s in plan.stages} | {"facts", "dedup", "image_dedup", "verify", "judge", "export"}
    taken |= {"semantic_dedup", "domains", "zero_shot_domains", "caption_samples", "caption_dedup", "coded"}
    plan.dataset += _custom(r, taken)
    if c.dedup:
        plan.dataset.append(DedupStage(c.near_duplicate_threshold))
    if c.captions.dedup and "caption" in r.types:
        plan.dataset.append(CaptionDedupStage(c.captions.near_duplicate_threshold))
    if c.image_dedup and r.image_sources:
        plan.dataset.append(ImageDedupStage(c.image_distance))
    if c.semantic_dedup and r.image_sources and r.embed is not None:
        plan.dataset.append(SemanticDedupStage(c.semantic_threshold, r.embed.model))
    plan.dataset += model_checks
    if make and exports and r.export:
        plan.dataset.append(ExportStage(list(r.export)))
    return plan
