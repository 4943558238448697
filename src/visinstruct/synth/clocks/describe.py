"""A clock's description from its exact facts: the time, in digits and in words, and where
each hand points. Templates: phrasings/clocks_describe.yaml."""

from __future__ import annotations

import random
from typing import Any

from visinstruct.synth.describe import Description, Fact, Known, Writer

#: Facts not drawn in the image: the duration a question adds to the time.
HIDDEN = ("later",)


def _next(h: int) -> int:
    return h % 12 + 1


def _mark(m: int) -> int:
    """The hour numeral the minute hand points at."""
    return m // 5 or 12


def describe(facts: dict[str, Any], lang: str, rng: random.Random, treated: bool = False) -> Description:
    """A description of the clock: the time it shows and how its hands show it."""
    w = Writer("clocks", rng, lang)
    h, m, time = facts["hour"], facts["minute"], facts["time"]
    sec = facts.get("second")  # only when a seconds hand is drawn
    intro = w.say("intro") if sec is None else w.say("intro_seconds")
    parts: list[tuple[str, bool]] = [(intro, False), (w.say("time", time=time), False)]
    if m == 0:
        words = w.say("time_words_zero", hour=h)
    elif m == 30:
        words = w.say("time_words_half", hour=h)
    elif m == 15:
        words = w.say("time_words_quarter_past", hour=h)
    elif m == 45:
        words = w.say("time_words_quarter_to", next=_next(h))
    elif m < 30:
        words = w.say("time_words_past", hour=h, minute=m)
    else:
        words = w.say("time_words_to", next=_next(h), left=60 - m)
    if w.maybe(0.7):
        parts.append((words, True))
    hands = [
        (w.say("hour_on", hour=h) if m == 0 else w.say("hour_between", hour=h, next=_next(h)), False),
        (
            w.say("minute_hand", mark=_mark(m))
            if m % 5 == 0
            else w.say("minute_hand_between", mark=_mark(m), next=_mark(m) % 12 + 1, past=m % 5),
            False,
        ),
    ]
    if sec is not None:
        hands.append((w.say("second_hand", second=sec, exact=f"{time}:{sec:02d}"), False))
    rng.shuffle(hands)
    if w.maybe(0.5):
        parts = parts[:1] + hands + parts[1:]
    else:
        parts += hands
    if w.maybe(0.4):
        parts.append((w.say("ticks"), True))
    return w.finish(parts)


def known(facts: dict[str, Any]) -> Known:
    """A clock's numbers (the time, the next hour, minutes to it, the minute hand's numeral);
    coverage: the time and where each hand points."""
    h, m, time = facts["hour"], facts["minute"], facts["time"]
    sec = facts.get("second")
    k = Known()
    k.add_numbers(h, m, _next(h), 60 - m, _mark(m), _mark(m) % 12 + 1, m % 5, 12, 2)
    k.add_texts(time)
    if sec is not None:
        k.add_numbers(sec, 3)
        k.add_texts(f"{time}:{sec:02d}")
    k.words |= {"o'clock"}
    zh_time = (
        (time, f"{h}点{m}分", f"{h}点{m:02d}分")
        + ((f"{h}点整",) if m == 0 else ())
        + ((f"{h}点半",) if m == 30 else ())
    )
    k.facts = [
        Fact("time", {"en": ((time,),), "zh": (zh_time,)}),
        Fact("hour_hand", {"en": (("hour hand", "short hand"), (str(h),)), "zh": (("时针",), (str(h),))}),
        Fact(
            "minute_hand",
            {"en": (("minute hand", "long hand"), (str(_mark(m)),)), "zh": (("分针",), (str(_mark(m)),))},
        ),
    ]
    if sec is not None:
        k.facts.append(
            Fact(
                "second_hand",
                {"en": (("seconds hand", "second hand"), (str(sec),)), "zh": (("秒针",), (str(sec),))},
            )
        )
    return k
