"""Clocks' questions: the time shown (misread by swapping the hands, an hour or a few minutes off),
the exact time with its seconds, and worked long answers that read the hands and add a duration."""

from __future__ import annotations

from visinstruct.synth.ask import Fact, Voice, nearby


def hhmm(h: int, m: int) -> str:
    """A time as written: '3:05'."""
    return f"{h}:{m:02d}"


def hhmmss(h: int, m: int, s: int) -> str:
    """A time with seconds as written: '3:05:27'."""
    return f"{h}:{m:02d}:{s:02d}"


def add(h: int, m: int, dh: int, dm: int) -> tuple[int, int]:
    """h:m plus dh hours and dm minutes on a 12-hour dial."""
    total = (h % 12) * 60 + m + dh * 60 + dm
    total %= 12 * 60
    hh, mm = divmod(total, 60)
    return (hh or 12), mm


def add_seconds(h: int, m: int, s: int, ds: int) -> tuple[int, int, int]:
    """h:m:s plus ds seconds on a 12-hour dial."""
    total = ((h % 12) * 3600 + m * 60 + s + ds) % (12 * 3600)
    hh, rest = divmod(total, 3600)
    return (hh or 12), *divmod(rest, 60)


def swapped(h: int, m: int) -> tuple[int, int]:
    """The time read with the hands swapped: the minute hand taken for the hour, the hour hand
    (between two hours) for the minutes."""
    return (m // 5) or 12, ((h % 12) * 5 + m // 12) % 60


def time_fact(v: Voice, h: int, m: int) -> Fact:
    """The time shown; wrong times are the usual misreadings of a dial."""
    time = hhmm(h, m)
    wrong = [
        hhmm(*swapped(h, m)),
        hhmm(*add(h, m, 1, 0)),
        hhmm(*add(h, m, -1, 0)),
        hhmm(*add(h, m, 0, 5)),
        hhmm(*add(h, m, 0, -5)),
        hhmm(*add(h, m, 0, 10)),
    ]
    if m % 5:  # a minute between the numbers: one mark off is the likeliest slip
        wrong[3:3] = [hhmm(*add(h, m, 0, 1)), hhmm(*add(h, m, 0, -1))]
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


def exact_fact(v: Voice, h: int, m: int, s: int) -> Fact:
    """The time to the second, read off three hands; wrong ones swap the minute and seconds
    hands or miss a mark or a minute."""
    sh, sm = swapped(h, m)
    wrong = [
        hhmmss(h, s, m) if s != m else hhmmss(*add_seconds(h, m, s, 60)),
        hhmmss(*add_seconds(h, m, s, 5)),
        hhmmss(*add_seconds(h, m, s, -5)),
        hhmmss(*add_seconds(h, m, s, 60)),
        hhmmss(*add_seconds(h, m, s, -60)),
        hhmmss(sh, sm, s),
        hhmmss(*add_seconds(h, m, s, 3600)),
    ]
    return Fact(
        "exact",
        "time_reading",
        hhmmss(h, m, s),
        wrong,
        ask=lambda: v.said("read_exact"),
        claim=lambda t: v.said("is_exact", time=t),
        false_from=len(wrong),
        choose_from=len(wrong),
    )


def second_fact(v: Voice, rng, s: int) -> Fact:
    """Where the seconds hand points, in seconds."""
    wrong = [x % 60 for x in nearby(s, rng, rings=((1, 5), (2, 10, 15, 30)))]
    return Fact(
        "second",
        "time_reading",
        s,
        [x for x in dict.fromkeys(wrong) if x != s],
        ask=lambda: v.said("read_second"),
        claim=lambda x: v.said("is_second", second=x),
    )


def minute_turn(v: Voice, m: int, time: str) -> tuple[str, str]:
    """Reading the minute hand: on a number, or a few small marks past one."""
    mark = (m // 5) or 12
    if m % 5 == 0:
        return v.say("minute_hand"), v.say("minute_hand_answer", mark=mark, minute=m, time=time)
    extra, base = m % 5, m - m % 5
    return v.say("minute_hand"), v.say(
        "minute_hand_between", mark=mark, extra=extra, base=base, minute=m, time=time
    )


def later_fact(v: Voice, h: int, m: int, dh: int, dm: int) -> Fact:
    """Read the hour hand, then the minute hand, then add dh hours and dm minutes."""
    time = hhmm(h, m)
    mid = hhmm(*add(h, m, 0, dm))
    result = hhmm(*add(h, m, dh, dm))
    turns = [
        (v.say("hour_hand"), v.say("hour_hand_answer", hour=h)),
        minute_turn(v, m, time),
        (
            v.say("later", hours=dh, minutes=dm),
            v.say("later_answer", time=time, minutes=dm, mid=mid, hours=dh, result=result),
        ),
    ]
    return Fact("later", "time_arithmetic", result, explain=lambda: turns, key="hour_hand")


def reading_fact(v: Voice, h: int, m: int, s: int) -> Fact:
    """Read the three hands in turn: the hour, the minute, then the second."""
    time = hhmm(h, m)
    turns = [
        (v.say("hour_hand"), v.say("hour_hand_answer", hour=h)),
        minute_turn(v, m, time),
        (v.say("second_hand"), v.say("second_hand_answer", second=s, exact=hhmmss(h, m, s))),
    ]
    return Fact("reading", "time_reading", hhmmss(h, m, s), explain=lambda: turns, key="second_hand")
