"""Analog clocks: read the time (to the second when a seconds hand is drawn), and add a duration.

The time drawn is known exactly, and so are its likely misreadings and any time later. Faces
vary (Arabic, Roman or Chinese numerals, ticks only, four numerals, a framed wall clock, a
station clock); the facts say which (`face`, `hands`, and `second` when a seconds hand shows).

    draw.py       drawing a clock face
    questions.py  the time shown and a duration added, as facts for the shared engine
"""

from __future__ import annotations

import random

from visinstruct.synth.ask import Kinds, Voice, ask_all
from visinstruct.synth.base import Item, SynthDomain
from visinstruct.synth.clocks.draw import FIVE_MINUTE_FACES, SECONDS, pick_face, render_clock
from visinstruct.synth.clocks.questions import (
    exact_fact,
    hhmm,
    later_fact,
    reading_fact,
    second_fact,
    time_fact,
)

# a clock's questions start with reading it, as they always have
READING_FIRST = ("short_vqa", "multiple_choice", "judgement", "long_vqa")


class Clocks(SynthDomain):
    name = "clocks"
    description = "Analog clock faces in varied styles; the exact time is known."

    def make(self, rng: random.Random, lang: str) -> Item:
        face = pick_face(rng, lang)
        h = rng.randint(1, 12)
        five = face in FIVE_MINUTE_FACES or rng.random() < 0.4
        m = rng.randrange(0, 60, 5) if five else rng.randrange(60)
        s = rng.randrange(60) if rng.random() < SECONDS[face] else None
        dial = render_clock(rng, h, m, lang, face, s)
        v = Voice(self, rng, lang)
        dh, dm = rng.randint(1, 5), rng.randrange(5, 60, 5)
        later = later_fact(v, h, m, dh, dm)
        short = {"time": time_fact(v, h, m)}
        long = {"later": later}
        if s is not None:
            short.update(exact=exact_fact(v, h, m, s), second=second_fact(v, rng, s))
            long["reading"] = reading_fact(v, h, m, s)
        asked = ask_all(
            rng,
            Kinds.fixed(rng, short),
            pairs=1,
            mc=1,
            short=1,
            long=Kinds.fixed(rng, long),
            paired=True,
        )
        asked.sort(key=lambda a: READING_FIRST.index(a.type))
        facts = {
            "hour": h,
            "minute": m,
            "time": hhmm(h, m),
            "later": {"hours": dh, "minutes": dm, "result": later.value},
            "face": face,
            "hands": dial.hands,
        }
        if s is not None:
            facts["second"] = s
        return Item([dial.image], facts, [a.question for a in asked])


__all__ = ["Clocks"]
