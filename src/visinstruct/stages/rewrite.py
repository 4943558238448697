"""Caption rewrite: an LLM turns a synthetic item's template description into fluent prose,
and the facts check confirms what it wrote (`synthetic: {charts: {count: N, llm: [caption]}}`).

The LLM is given the item's visible facts and the description the domain wrote from them
(the same one the item's own caption sample holds). Its reply becomes a caption sample of its
own, beside the template one; the rules check it where it is parsed, the facts check among them:
a reply naming a number, colour, shape or label the image does not hold is stored with the
reason and goes to review, never silently kept or dropped.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from typing import Any

from visinstruct.drafts import finish
from visinstruct.generate.caption import caption_problem, clean_caption
from visinstruct.models.client import ChatRequest, Outcome
from visinstruct.stages.base import ModelStage, Result, Subject, Unit, UnitFailed, made_info
from visinstruct.stages.context import RunContext
from visinstruct.stages.instructions import FACTS_SEQ

#: The places in the dataset of rewritten captions: after everything else an LLM wrote from facts.
REWRITE_SEQ = FACTS_SEQ + 5 * 10**13
PROMPT = "caption_rewrite"


def wants_rewrite(recipe: Any) -> bool:
    """Whether some synthetic domain of the recipe has its descriptions rewritten."""
    return any("caption" in s.llm for s in recipe.synthetic.values())


class CaptionRewriteStage(ModelStage):
    """One rewrite per synthetic item of a domain whose `llm:` lists `caption`."""

    name = "caption_rewrite"
    version = "1"

    def units(self, subject: Subject | None, ctx: RunContext) -> Iterable[Unit]:
        from visinstruct.synth.describe import has_description

        if subject is None:
            return []
        task = subject.info["task"]
        spec = ctx.recipe.synthetic.get(task.domain)
        if spec is None or "caption" not in spec.llm or not has_description(task.domain):
            return []
        item = subject.info.get("item_facts")
        treated = bool(subject.info.get("treated"))
        if item is None:  # made by an earlier run: its facts are in its stored samples
            made = list(ctx.store.samples_between(task.seq * 1000, (task.seq + 1) * 1000))
            if not made:
                return []
            s = made[0][0]
            item = (s.images, s.context.get("facts", {}))
            treated = bool(s.provenance.get("realism"))
        images, facts = item
        return [
            Unit(
                f"rewrite/{task.key}",
                REWRITE_SEQ + task.seq,
                {"task": task, "images": images, "facts": facts, "treated": treated},
            )
        ]

    def _description(self, unit: Unit):
        from visinstruct.synth.describe import describe

        task = unit.data["task"]
        return describe(
            task.domain, unit.data["facts"], task.lang, task.seed, unit.data.get("treated", False)
        )

    def request(self, unit: Unit, ctx: RunContext) -> ChatRequest:
        from visinstruct.synth.describe import visible

        task, spec = unit.data["task"], ctx.recipe.instructions
        prompt = ctx.prompt(PROMPT)
        shown = json.dumps(
            visible(task.domain, unit.data["facts"]), ensure_ascii=False, separators=(",", ":")
        )
        d = self._description(unit)
        return ChatRequest(
            [
                {"role": "system", "content": prompt.text("system", lang=task.lang)},
                {
                    "role": "user",
                    "content": prompt.text("user", lang=task.lang, facts=shown, description=d.text),
                },
            ],
            endpoint=spec.endpoint,
            stage=self.name,
            params={"max_tokens": spec.max_tokens, "temperature": spec.temperature},
            meta=unit.key,
        )

    def parse(self, unit: Unit, outcome: Outcome, ctx: RunContext) -> Result:
        from visinstruct.captions.requests import bundled_pool
        from visinstruct.synth.base import Question

        task, facts, images = unit.data["task"], unit.data["facts"], unit.data["images"]
        text = clean_caption(outcome.text)
        reason = caption_problem(text, min_words=1)
        if reason is not None:
            raise UnitFailed(reason)
        d = self._description(unit)
        request = bundled_pool().draw(task.key, task.lang, kind="detailed")
        q = Question(
            type="caption",
            category=request.kind,
            turns=[(request.text, text)],
            phrasing=request.id,
            provenance={"caption_request": request.id, "templates": list(d.templates)},
        )
        sample = finish(
            q,
            rng=random.Random(f"{task.seed}:rewrite"),
            lang=task.lang,
            domain=task.domain,
            image_ids=list(images),
            stream=f"{task.domain}/{task.lang}/rewrite",
            index=task.index,
            ordinal=0,
            provenance={
                "generator": "llm/caption_rewrite",
                "model": ctx.model(outcome.request.endpoint),
                "endpoint": outcome.request.endpoint,
                "prompt": ctx.prompt(PROMPT).ref,
                "request": outcome.key,
                "unit": unit.key,
                "source": f"synthetic:{task.key}",
            },
            context={"facts": facts, "template": d.text},
        )
        sample.round = ctx.recipe.round
        res = Result(samples=[sample]).pack(unit.seq, unit.key, ctx.make_checks)
        res.info = made_info(res.packed)  # type: ignore[arg-type]
        return res
