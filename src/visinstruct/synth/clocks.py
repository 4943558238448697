"""Analog clocks: read the time, and add a duration to it."""

from __future__ import annotations

import math
import random

from PIL import ImageDraw

from visinstruct.synth import style
from visinstruct.synth.base import Item, Question, SynthDomain, distinct_distractors


def hhmm(h: int, m: int) -> str:
    return f"{h}:{m:02d}"


def add(h: int, m: int, dh: int, dm: int) -> tuple[int, int]:
    total = (h % 12) * 60 + m + dh * 60 + dm
    total %= 12 * 60
    hh, mm = divmod(total, 60)
    return (hh or 12), mm


class Clocks(SynthDomain):
    name = "clocks"
    description = "Analog clock faces in varied styles; the exact time is known."

    def make(self, rng: random.Random, lang: str) -> Item:
        h, m = rng.randint(1, 12), rng.randrange(0, 60, 5)
        img = self.draw(rng, h, m)
        time = hhmm(h, m)
        qs: list[Question] = []

        # short
        q = self.say(rng, "read_time", lang)
        qs.append(Question("short_vqa", "time_reading", [(q, time)], short_answer=time, phrasing="read_time"))

        # multiple choice: swapped hands, off by an hour, off by 5-10 minutes
        swapped = (m // 5) or 12, (h % 12) * 5
        cands = [
            hhmm(*swapped),
            hhmm(*add(h, m, 1, 0)),
            hhmm(*add(h, m, -1, 0)),
            hhmm(*add(h, m, 0, 5)),
            hhmm(*add(h, m, 0, -5)),
            hhmm(*add(h, m, 0, 10)),
        ]
        q = self.say(rng, "read_time", lang)
        qs.append(
            Question(
                "multiple_choice",
                "time_reading",
                [(q, "")],
                correct=time,
                distractors=distinct_distractors(time, cands, rng),
                phrasing="read_time",
            )
        )

        # judgement: one true, one false with a plausible wrong time
        wrong = rng.choice(distinct_distractors(time, cands, rng))
        for truth, shown in ((True, time), (False, wrong)):
            q = self.say(rng, "is_time", lang, time=shown)
            qs.append(Question("judgement", "time_reading", [(q, "")], truth=truth, phrasing="is_time"))

        # long: read hour, read minutes, then add a duration
        dh, dm = rng.randint(1, 5), rng.randrange(5, 60, 5)
        mid = hhmm(*add(h, m, 0, dm))
        result = hhmm(*add(h, m, dh, dm))
        mark = (m // 5) or 12
        turns = [
            (self.say(rng, "hour_hand", lang), self.say(rng, "hour_hand_answer", lang, hour=h)),
            (
                self.say(rng, "minute_hand", lang),
                self.say(rng, "minute_hand_answer", lang, mark=mark, minute=m, time=time),
            ),
            (
                self.say(rng, "later", lang, hours=dh, minutes=dm),
                self.say(rng, "later_answer", lang, time=time, minutes=dm, mid=mid, hours=dh, result=result),
            ),
        ]
        qs.append(Question("long_vqa", "time_arithmetic", turns, phrasing="hour_hand"))
        return Item(
            [img],
            {"hour": h, "minute": m, "time": time, "later": {"hours": dh, "minutes": dm, "result": result}},
            qs,
        )

    def draw(self, rng: random.Random, h: int, m: int):
        size = rng.choice((320, 384, 448, 512))
        img, draw = style.canvas(rng, size, size, plain=rng.random() < 0.5)
        cx = cy = size // 2
        r = int(size * rng.uniform(0.36, 0.44))
        face = rng.choice(((255, 255, 255), (250, 245, 230), (235, 240, 250), (30, 30, 40)))
        dark = sum(face) < 300
        fg = (240, 240, 240) if dark else style.ink(rng)
        rim = rng.choice(style.COLORS)[2]
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=face, outline=rim, width=max(3, r // 18))
        f = style.pick_font(rng, max(12, r // 6))
        roman = rng.random() < 0.2
        numerals = ("XII", "I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI")
        for i in range(12):
            a = math.radians(i * 30 - 90)
            # ticks for every hour; numbers on all or only quarters
            x1, y1 = cx + r * 0.9 * math.cos(a), cy + r * 0.9 * math.sin(a)
            x2, y2 = cx + r * 0.98 * math.cos(a), cy + r * 0.98 * math.sin(a)
            draw.line([(x1, y1), (x2, y2)], fill=fg, width=max(2, r // 40))
            if rng.random() < 0.85 or i % 3 == 0:
                label = numerals[i] if roman else str(i or 12)
                tx, ty = cx + r * 0.74 * math.cos(a), cy + r * 0.74 * math.sin(a)
                draw.text((tx, ty), label, font=f, fill=fg, anchor="mm")
        minute_angle = math.radians(m * 6 - 90)
        hour_angle = math.radians((h % 12) * 30 + m * 0.5 - 90)
        hand = rng.choice(style.COLORS)[2] if rng.random() < 0.3 else fg
        self._hand(draw, cx, cy, hour_angle, r * 0.5, max(4, r // 14), hand)
        self._hand(draw, cx, cy, minute_angle, r * 0.8, max(2, r // 28), hand)
        draw.ellipse([cx - r // 25, cy - r // 25, cx + r // 25, cy + r // 25], fill=hand)
        return img

    @staticmethod
    def _hand(
        draw: ImageDraw.ImageDraw, cx: float, cy: float, a: float, length: float, width: int, fill
    ) -> None:
        draw.line([(cx, cy), (cx + length * math.cos(a), cy + length * math.sin(a))], fill=fill, width=width)
