"""Exports as the run's last stage: each of the recipe's exports written from what the run
holds, every time (an export is a view of the run, cheap to write again). Once the last one is
written, the dataset card `exports/README.md` is written beside them (`report.card`)."""

from __future__ import annotations

from collections.abc import Iterable

from visinstruct.stages.base import Result, Stage, Subject, Unit
from visinstruct.stages.context import RunContext


class ExportStage(Stage):
    name = "export"
    version = "1"
    track = False
    concurrency = 1

    def __init__(self, specs: list) -> None:
        self.specs = specs
        self.written: list = []  # ExportSummary per export, in recipe order
        self.card = None  # the dataset card's path, once every export is written

    def units(self, subject: Subject | None, ctx: RunContext) -> Iterable[Unit]:
        if subject is not None:
            return []
        return [Unit(f"{s.format}:{s.out}", n, s) for n, s in enumerate(self.specs)]

    async def make(self, unit: Unit, ctx: RunContext) -> Result:
        from visinstruct.export import ExportOptions, export

        spec = unit.data
        options = ExportOptions(
            absolute_paths=spec.absolute_paths, single_image=spec.single_image, shard_size=spec.shard_size
        )
        out = ctx.store.dir / "exports" / spec.out
        self.written.append(export(ctx.store, spec.format, out, spec.include, options))
        if len(self.written) == len(self.specs):
            from visinstruct.report.card import write_card

            self.card = write_card(ctx.store)
        return Result()
