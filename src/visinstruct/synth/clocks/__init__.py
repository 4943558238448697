"""Analog clocks: read the time, and add a duration to it.

The time drawn is known exactly, and so are its likely misreadings and any time later.

    draw.py       drawing a clock face
    questions.py  the time shown and a duration added, as facts for the shared engine
"""

from __future__ import annotations

import random

from visinstruct.synth.ask import Kinds, Voice, ask_all
from visinstruct.synth.base import Item, SynthDomain
from visinstruct.synth.clocks.draw import draw_clock
from visinstruct.synth.clocks.questions import hhmm, later_fact, time_fact

# a clock's questions start with reading it, as they always have
READING_FIRST = ("short_vqa", "multiple_choice", "judgement", "long_vqa")


class Clocks(SynthDomain):
    name = "clocks"
    description = "Analog clock faces in varied styles; the exact time is known."

    def make(self, rng: random.Random, lang: str) -> Item:
        h, m = rng.randint(1, 12), rng.randrange(0, 60, 5)
        img = draw_clock(rng, h, m, lang)
        v = Voice(self, rng, lang)
        dh, dm = rng.randint(1, 5), rng.randrange(5, 60, 5)
        later = later_fact(v, h, m, dh, dm)
        asked = ask_all(
            rng,
            Kinds.fixed(rng, {"time": time_fact(v, h, m)}),
            pairs=1,
            mc=1,
            short=1,
            long=Kinds.fixed(rng, {"later": later}),
            paired=True,
        )
        asked.sort(key=lambda a: READING_FIRST.index(a.type))
        facts = {
            "hour": h,
            "minute": m,
            "time": hhmm(h, m),
            "later": {"hours": dh, "minutes": dm, "result": later.value},
        }
        return Item([img], facts, [a.question for a in asked])


__all__ = ["Clocks"]
