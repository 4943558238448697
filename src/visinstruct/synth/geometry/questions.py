"""Geometry's questions: each quantity of a figure (a length, an angle, an area, a perimeter) and
its shape's name as `Fact`s for the shared engine, and the worked long answer.

Wrong options and false statements are the common mistakes first (perimeter for area,
forgetting the 1/2, diameter used as radius...), nearby values after them.
"""

from __future__ import annotations

import math
import random
from typing import Any

from visinstruct.synth.ask import Asked, Fact, Kinds, Said, ask_all, multiple_choice
from visinstruct.synth.geometry.model import Ctx, Quantity

Shape = tuple[str, str, list[str]]  # (vertices, right word, wrong words)


def wrong_values(ctx: Ctx, q: Quantity) -> tuple[list[int | float], list[int | float]]:
    """Distinct wrong values, as numbers: the quantity's common mistakes, and nearby values."""
    seen = {ctx.fmt(q.kind, q.value)}
    limit = 360 if q.kind == "angle" else math.inf
    step = 10 if q.kind == "angle" else (2 if q.value > 30 else 1)
    near = [q.value + d * step for d in (1, -1, 2, -2, 3, 4, -3, 5, 6)]
    out: tuple[list[int | float], list[int | float]] = ([], [])
    for bucket, values in ((0, q.mistakes), (1, near)):
        for v in values:
            s = ctx.fmt(q.kind, v)
            if 0 < v < limit and s not in seen:
                seen.add(s)
                out[bucket].append(v)
    return out


def quantity_fact(ctx: Ctx, q: Quantity) -> Fact:
    """A quantity as a fact: options carry the unit, a short answer is the bare number."""

    def ask(short: bool) -> Said:
        return Said("ask", ctx.join([ctx.say("ask", target=q.target)] + ctx.notes(q.kind, short)))

    def claim(v: int | float) -> Said:
        text = ctx.say("ask_judge", target=q.target, value=ctx.fmt(q.kind, v))
        return Said("ask_judge", ctx.join([text] + ctx.notes(q.kind, False)))

    mistakes, near = wrong_values(ctx, q)
    return Fact(
        q.qid,
        q.cat,
        q.value,
        mistakes + near,
        show=lambda v: ctx.fmt(q.kind, v),
        short_show=lambda v: ctx.num(q.kind, v),
        ask=lambda: ask(False),
        short_ask=lambda: ask(True),
        claim=claim,
        false_from=min(3, len(mistakes)) or 2,
        choose_from=len(mistakes),
    )


def shape_fact(ctx: Ctx, shape: Shape) -> Fact:
    """'Which term best describes quadrilateral ABCD?', with the other quadrilaterals as options."""
    vertices, right, others = shape
    return Fact(
        "shape",
        "shape",
        right,
        others,
        show=lambda w: ctx.say("word_" + w),
        ask=lambda: ctx.said("ask_shape", n=vertices),
        short=False,
    )


def worked(ctx: Ctx, quants: list[Quantity], givens: list[str], shape: str) -> Fact:
    """Read the givens, then worked solutions for 1-3 quantities in dependency order, each using
    what the earlier ones found."""
    rng = ctx.rng
    chosen = sorted(rng.sample(range(len(quants)), rng.randint(1, min(3, len(quants)))))

    def turns() -> list[tuple[str, str]]:
        listing = ctx.listing(givens)
        read = (
            ctx.say("read_given", shape=shape, givens=listing)
            if shape
            else ctx.say("read_given_plain", givens=listing)
        )
        out = [(ctx.say("read_q"), read)]
        known: set = set()
        for i in chosen:
            q = quants[i]
            ans = ctx.fmt(q.kind, q.value)
            question = ctx.join([ctx.say("long_ask", target=q.target)] + ctx.notes(q.kind, False))
            answer = ctx.join([q.explain(known), ctx.say("conclude", target=q.target, ans=ans)])
            known.add(q.qid)
            out.append((question, answer))
        return out

    kind = ",".join(quants[i].qid for i in chosen)
    return Fact(kind, quants[chosen[-1]].cat, explain=turns, key="read_q")


def ask_figure(
    ctx: Ctx, quants: list[Quantity], givens: list[str], shape: str, shape_q: Shape | None
) -> list[Asked]:
    """The drafts of one figure: judgement pairs, multiple choice, short answers and one worked
    long answer about its quantities; a named quadrilateral is also asked its name, with options
    as benchmarks ask it ("shape" is a category of its own, which the closed loop asks for by
    name and plans for from a few sample items, so it should not be left to a coin)."""
    rng: random.Random = ctx.rng
    facts = {q.qid: quantity_fact(ctx, q) for q in quants}
    asked = ask_all(
        rng,
        Kinds.fixed(rng, facts),
        pairs=2 if len(quants) > 1 and rng.random() < 0.35 else 1,
        mc=2 if rng.random() < 0.4 else 1,
        short=2 if rng.random() < 0.4 else 1,
        long=Kinds(rng, {"worked": lambda: worked(ctx, quants, givens, shape)}),
        paired=True,
    )
    if shape_q is not None:
        named = multiple_choice(shape_fact(ctx, shape_q), rng)
        last = max(i for i, a in enumerate(asked) if a.type == "multiple_choice")
        asked.insert(last + 1, named)
    return asked


def record(ctx: Ctx, a: Asked) -> dict[str, Any]:
    """Which quantity a question asks and the value it shows (None for a long answer)."""
    q, f = a.question, a.fact
    if a.type == "judgement":
        shown: str | None = f.show(a.shown)
    elif a.type == "multiple_choice":
        shown = q.correct
    elif a.type == "short_vqa":
        shown = q.short_answer
    else:
        shown = None
    return {"quantity": f.kind, "shown": shown}
