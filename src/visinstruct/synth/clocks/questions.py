"""Clocks' questions: the time shown (misread by swapping the hands, an hour or a few minutes off),
and a worked long answer that reads the hands and adds a duration."""

from __future__ import annotations

from visinstruct.synth.ask import Fact, Voice


def hhmm(h: int, m: int) -> str:
    """A time as written: '3:05'."""
    return f"{h}:{m:02d}"


def add(h: int, m: int, dh: int, dm: int) -> tuple[int, int]:
    """h:m plus dh hours and dm minutes on a 12-hour dial."""
    total = (h % 12) * 60 + m + dh * 60 + dm
    total %= 12 * 60
    hh, mm = divmod(total, 60)
    return (hh or 12), mm


def time_fact(v: Voice, h: int, m: int) -> Fact:
    """The time shown; wrong times are the usual misreadings of a dial."""
    time = hhmm(h, m)
    swapped = (m // 5) or 12, (h % 12) * 5
    wrong = [
        hhmm(*swapped),
        hhmm(*add(h, m, 1, 0)),
        hhmm(*add(h, m, -1, 0)),
        hhmm(*add(h, m, 0, 5)),
        hhmm(*add(h, m, 0, -5)),
        hhmm(*add(h, m, 0, 10)),
    ]
    return Fact(
        "time",
        "time_reading",
        time,
        wrong,
        ask=lambda: v.said("read_time"),
        claim=lambda t: v.said("is_time", time=t),
        false_from=len(wrong),
        choose_from=len(wrong),
    )


def later_fact(v: Voice, h: int, m: int, dh: int, dm: int) -> Fact:
    """Read the hour hand, then the minute hand, then add dh hours and dm minutes."""
    time = hhmm(h, m)
    mid = hhmm(*add(h, m, 0, dm))
    result = hhmm(*add(h, m, dh, dm))
    mark = (m // 5) or 12
    turns = [
        (v.say("hour_hand"), v.say("hour_hand_answer", hour=h)),
        (v.say("minute_hand"), v.say("minute_hand_answer", mark=mark, minute=m, time=time)),
        (
            v.say("later", hours=dh, minutes=dm),
            v.say("later_answer", time=time, minutes=dm, mid=mid, hours=dh, result=result),
        ),
    ]
    return Fact("later", "time_arithmetic", result, explain=lambda: turns, key="hour_hand")
