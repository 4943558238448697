"""Replies in the styles real models answer in, from the loopback OpenAI-compatible server.

`StyleServer` is `FakeOpenAI` answering each chat request in two steps. First it decides
what it *means*: the questions it writes and their true answers, the caption of an image,
the domain it picks, what a verifier looking at the picture answers, whether a judge
finds two answers the same. Then it *writes* that in one reply style: clean JSON, fenced
JSON with chatter, trailing commas, a Python dict, full-width punctuation, Chinese keys, a
reply cut off at `max_tokens`, MMInstruct's tags, a refusal, `<think>` with braces before
the JSON, numbers for strings, a bare array, lettered options, answer letters and yes/no
in their many forms, an answer that contradicts its own explanation, a generator that
gets half its answers wrong, verifiers that reason before their final answer, and
captions that refuse, are cut off or carry a preamble.

Every intent is recorded (`intended()`, `GET /intended` when run as a process), and
`Intents.wrong(sample)` says why an engine's sample is not what the server meant: that
is what a benchmark counts as a wrongly accepted sample.

Where a reply's letter contradicts its explanation, the server *means* the option the
explanation argues for (the true one, which its verifier also gives): a sample that keeps
the letter is wrong. The server's intent never depends on the style, only on the request
(its first user message), so a repair ask or a retry with more room means the same.

    with StyleServer(style="python_dict", repair="repeat") as server:
        ...  # run the engine against server.base_url
        intents = Intents(server.intended())
        wrong = [s for s in samples if intents.wrong(s)]

Run as a process: `python tests/reply_styles.py --port 0 --style mixed` prints
`LISTENING <port>`; `POST /style {"style", "repair", "seed", "reset"}` switches the style.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from fake_openai import WORDS, FakeOpenAI, SchemaFaker

__all__ = ["STYLES", "Intents", "Reply", "Style", "StyleServer", "style_names"]

LETTERS = "ABCD"
INSTRUCTION_KINDS = ("judgement", "multiple_choice", "short_vqa", "long_vqa")
SCHEMA_KINDS = (*INSTRUCTION_KINDS, "domain", "agree", "score")
LIST_KEY = {"judgement": "questions", "multiple_choice": "questions", "short_vqa": "questions"}
LIST_KEY["long_vqa"] = "rounds"
DEFAULT_COUNT = {"judgement": 4, "multiple_choice": 3, "short_vqa": 3, "long_vqa": 3}


@dataclass(frozen=True)
class Style:
    """How one model writes its replies. `writer` shapes schema replies, `values` the form
    of some values in them, `wrong` which stated answers differ from what is meant;
    `caption`, `verify` and `judge` shape those replies. `checks`: the benchmark runs
    verification with this style; `rerun`: the benchmark reruns with a model that obeys."""

    name: str
    about: str
    kinds: tuple[str, ...]  # the request kinds this style changes (the rest get clean replies)
    writer: str = "clean"
    values: str = ""
    wrong: str = ""
    caption: str = "clean"
    verify: str = "clean"
    judge: str = "clean"
    checks: bool = False
    rerun: bool = False


_ALL_SCHEMA = SCHEMA_KINDS
_LISTS = INSTRUCTION_KINDS
_STYLES = [
    Style("clean", "JSON exactly as asked", ()),
    Style("chatter", '"Sure! Here is…", fenced JSON, a closing remark', _ALL_SCHEMA, writer="chatter"),
    Style("trailing_commas", "pretty JSON, a comma after each last item", _ALL_SCHEMA, "trailing_commas"),
    Style("python_dict", "a Python dict: single quotes, True/False/None", _ALL_SCHEMA, writer="python"),
    Style("fullwidth", "full-width colons and commas （：，）", _ALL_SCHEMA, writer="fullwidth"),
    Style("zh_keys", "Chinese keys (问题, 选项, 答案 …)", _ALL_SCHEMA, writer="zh_keys"),
    Style(
        "truncated",
        'cut mid-way, finish_reason "length"; a retry with more max_tokens gets it all',
        _ALL_SCHEMA,
        writer="truncated",
    ),
    Style("tags", "MMInstruct's tags: <Q1> … </Q1> <C1> A. … </C1> <A1> B </A1>", _LISTS, writer="tags"),
    Style("refusal", "\"I'm sorry, but I can't help with that.\"", _ALL_SCHEMA, writer="refusal", rerun=True),
    Style(
        "refusal_field",
        "content null, message.refusal set",
        _ALL_SCHEMA,
        writer="refusal_field",
        rerun=True,
    ),
    Style("think", "<think> with a wrong JSON draft inside, then the JSON", _ALL_SCHEMA, writer="think"),
    Style("numbers", "numbers where strings are asked (counts, numeric options)", _LISTS, values="numbers"),
    Style("bare_array", "a bare JSON array instead of the object holding it", _LISTS, writer="bare_array"),
    Style(
        "prefixed_options", 'options with their own letters: "A. red", "(B) blue"', _LISTS, values="prefixed"
    ),
    Style(
        "letter_forms", 'answer letters as "(B)", "Option B", "b", "选B", the text', _LISTS, values="letters"
    ),
    Style("yesno_forms", 'yes/no as "Yes.", "No, there is not", "是的", "错", true', _LISTS, values="yesno"),
    Style(
        "contradiction",
        "the answer letter or yes/no contradicts the explanation (meant: the explanation's)",
        _LISTS,
        wrong="contradict",
    ),
    Style(
        "verify_prose",
        '"A close look … the answer is B.", "Now that I look closely, yes." (generator: half wrong)',
        ("verify", *_LISTS),
        wrong="hallucinate",
        verify="prose",
        checks=True,
    ),
    Style(
        "verify_think",
        "the verifier names other letters inside <think>, then answers (generator: half wrong)",
        ("verify", *_LISTS),
        wrong="hallucinate",
        verify="think",
        checks=True,
    ),
    Style(
        "verify_answer_is",
        '"The answer is yes.", "Answer: Yes", "答案是B。" (generator: half wrong)',
        ("verify", *_LISTS),
        wrong="hallucinate",
        verify="answer_is",
        checks=True,
    ),
    Style(
        "verify_judge",
        "open answers in a sentence; the judge as a Python dict, with ：, or 是/否 (generator: half wrong)",
        ("verify", "agree", *_LISTS),
        wrong="hallucinate",
        verify="sentence",
        judge="mixed",
        checks=True,
    ),
    Style("caption_refusal", "captions refuse", ("caption",), caption="refusal", rerun=True),
    Style("caption_truncated", "captions cut off (finish_reason length)", ("caption",), caption="truncated"),
    Style(
        "caption_preamble", '"Sure! Here is a detailed description…" first', ("caption",), caption="preamble"
    ),
    Style("caption_think", "<think>…</think> before the caption", ("caption",), caption="think"),
]
STYLES: dict[str, Style] = {s.name: s for s in _STYLES}
MIXED = Style(
    "mixed",
    "each conversation in a style drawn (seeded) from those that change its kind",
    (),
    checks=True,
    rerun=True,
)


def style_names() -> list[str]:
    """Every single style, in table order ("mixed" is the extra mode)."""
    return list(STYLES)


# -- words ------------------------------------------------------------------------------------------

COLOURS = {
    "en": ["red", "blue", "green", "yellow", "white", "black", "orange", "purple", "grey", "brown", "pink",
           "teal"],
    "zh": ["红色", "蓝色", "绿色", "黄色", "白色", "黑色", "橙色", "紫色", "灰色", "棕色", "粉色", "青色"],
}  # fmt: skip
ZH_NOUNS = (
    "灯笼", "石桥", "雪松", "帆船", "花瓶", "钟楼", "木门", "风筝", "台灯", "书架", "水壶", "路牌",
    "长椅", "雨伞", "篮子", "镜子", "窗台", "邮筒", "栅栏", "草帽", "陶罐", "石狮", "铁塔", "木船",
)  # fmt: skip
NOUNS = {"en": WORDS, "zh": ZH_NOUNS}
HAN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff]")


class Dice:
    """Deterministic choices from a seed string (a request's conversation key)."""

    def __init__(self, seed: str):
        self.seed = seed

    def int(self, n: int, *path: object) -> int:
        h = hashlib.sha256("\x00".join([self.seed, *map(str, path)]).encode()).digest()
        return int.from_bytes(h[:8], "big") % n

    def distinct(self, pool: list[str] | tuple[str, ...], k: int, *path: object) -> list[str]:
        out: list[str] = []
        i = 0
        while len(out) < k:
            w = pool[self.int(len(pool), *path, i)]
            if w not in out:
                out.append(w)
            i += 1
        return out


def _a(word: str) -> str:
    """The word with its English indefinite article."""
    return ("an " if word[:1] in "aeiou" else "a ") + word


def caption_text(d: Dice, lang: str) -> str:
    """A caption of about 90 words (Chinese: about 150 characters), plain prose."""
    n = d.distinct(NOUNS[lang], 10, "cap")
    c = d.distinct(COLOURS[lang], 3, "capc")
    if lang == "zh":
        return (
            f"这张照片中央是一个{c[0]}的{n[0]}，立在一座{n[1]}前面。左边有一个{c[1]}的{n[2]}放在{n[3]}上，"
            f"上方挂着一块小小的{n[4]}牌子。背景是一片开阔的{n[5]}，天空呈{c[2]}，远处的{n[6]}一半被{n[7]}挡住。"
            f"光线柔和，从右侧照来，在{n[8]}上投下长长的影子。整个画面安静而整齐，像是{n[9]}边一个平静的早晨。"
        )
    return (
        f"The photograph shows {_a(c[0])} {n[0]} standing in front of a large {n[1]}. To the left there is "
        f"{_a(c[1])} {n[2]} resting on {_a(n[3])}, and a small {n[4]} sign hangs above it. The background is "
        f"a wide {n[5]} under {_a(c[2])} sky, with {_a(n[6])} partly hidden behind {_a(n[7])}. "
        f"The light is soft and comes from the right, casting long shadows across the {n[8]}. "
        "Everything in the picture is sharp and evenly lit, and nothing moves. "
        f"Overall the scene feels calm and orderly, like a quiet morning beside {_a(n[9])}."
    )


def _things(d: Dice, lang: str, *path: object) -> tuple[str, str]:
    """Two noun phrases unique enough to key a question: "cedar lantern", "quartz harbor"."""
    w = d.distinct(NOUNS[lang], 4, *path)
    sep = "" if lang == "zh" else " "
    return w[0] + sep + w[1], w[2] + sep + w[3]


def judgement_items(d: Dice, lang: str, n: int) -> list[dict]:
    truths = ["yes" if i % 2 == 0 else "no" for i in range(n)]
    for i in range(n - 1, 0, -1):  # seeded shuffle: half yes, half no
        j = d.int(i + 1, "shuffle", i)
        truths[i], truths[j] = truths[j], truths[i]
    out = []
    for i, truth in enumerate(truths):
        x, y = _things(d, lang, "j", i)
        asked, other = d.distinct(COLOURS[lang], 2, "jc", i)
        if lang == "zh":
            q = f"{y}旁边有一个{asked}的{x}吗？"
            yes = f"是的，{y}旁边确实有一个{asked}的{x}。"
            no = f"不是，{y}旁边的{x}是{other}的，不是{asked}的。"
        else:
            q = f"Is there {_a(asked)} {x} next to the {y}?"
            yes = f"Yes, {_a(asked)} {x} stands right next to the {y}."
            no = f"No, the {x} next to the {y} is {other}, not {asked}."
        out.append({"kind": "judgement", "question": q, "truth": truth, "reasons": {"yes": yes, "no": no}})
    return out


def choice_items(d: Dice, lang: str, n: int) -> list[dict]:
    out = []
    for i in range(n):
        x, y = _things(d, lang, "m", i)
        if i == 0:  # a counting question: numeric options
            base = 2 + d.int(5, "mbase")
            options = [str(base + k) for k in range(4)]
            for k in range(3, 0, -1):
                j = d.int(k + 1, "mshuf", k)
                options[k], options[j] = options[j], options[k]
            if lang == "zh":
                q, why = f"{y}附近有几个{x}？", "仔细数一数，{y}附近有{o}个{x}。"
            else:
                q, why = (
                    f"How many {x}s are there near the {y}?",
                    "Counting carefully, there are {o} {x}s near the {y}.",
                )
        else:
            options = d.distinct(COLOURS[lang], 4, "mc", i)
            if lang == "zh":
                q, why = f"{y}旁边的{x}是什么颜色？", "{y}旁边的{x}显然是{o}的。"
            else:
                q, why = f"What colour is the {x} beside the {y}?", "The {x} beside the {y} is clearly {o}."
        correct = d.int(4, "mcorrect", i)
        why = why.replace("{x}", x).replace("{y}", y).replace("{o}", options[correct])
        out.append(
            {"kind": "multiple_choice", "question": q, "options": options, "correct": correct, "why": why}
        )
    return out


def short_items(d: Dice, lang: str, n: int) -> list[dict]:
    out = []
    for i in range(n):
        x, y = _things(d, lang, "s", i)
        if i == 0:
            answer = str(2 + d.int(7, "scount"))
            q = f"{y}旁边能数出几个{x}？" if lang == "zh" else f"How many {x}s can you count by the {y}?"
        elif i == 1:
            answer = d.distinct(COLOURS[lang], 1, "scol")[0]
            q = f"{y}上的{x}是什么颜色？" if lang == "zh" else f"What colour is the {x} on the {y}?"
        else:
            answer = d.distinct(NOUNS[lang], 1, "sword", i)[0]
            answer = answer if lang == "zh" else answer.capitalize()
            q = (
                f"{y}上的{x}牌子写着什么字？"
                if lang == "zh"
                else f"Which word is painted on the {x} by the {y}?"
            )
        out.append({"kind": "short_vqa", "question": q, "answer": answer})
    return out


def long_items(d: Dice, lang: str, n: int) -> list[dict]:
    rounds = []
    for i in range(n):
        x, y = _things(d, lang, "l", i)
        c = d.distinct(COLOURS[lang], 1, "lc", i)[0]
        if lang == "zh":
            q = f"{y}附近的{x}看起来在做什么？" if i == 0 else f"从{x}和{y}的位置能推断出什么？"
            a = (
                f"{x}是{c}的，安静地靠在{y}旁边。它的影子落向左侧，说明光线来自右边。"
                "所以它应该是被人有意摆放在那里的。"
            )
        else:
            q = (
                f"What is the {x} doing near the {y}?"
                if i == 0
                else f"What can you infer from where the {x} and the {y} are?"
            )
            a = (
                f"The {x} is {c} and rests quietly beside the {y}. Its shadow falls to the left, which shows "
                f"that the light comes from the right. So it was most likely placed there on purpose."
            )
        rounds.append({"question": q, "answer": a})
    return [{"kind": "long_vqa", "question": rounds[0]["question"], "rounds": rounds}]


MAKERS = {
    "judgement": judgement_items,
    "multiple_choice": choice_items,
    "short_vqa": short_items,
    "long_vqa": long_items,
}


# -- what the generator states (the intent, possibly stated wrongly, values in some form) --------


def _prefix(letter: str, option: str, form: int) -> str:
    full = "ＡＢＣＤ"[LETTERS.index(letter)]
    forms = [f"{letter}. {option}", f"({letter}) {option}", f"{letter}) {option}", f"{letter}、{option}"]
    return [*forms, f"{full}．{option}"][form]


def _letter_form(letter: str, option: str, form: int) -> str:
    forms = [f"({letter})", f"{letter}.", f"Option {letter}", letter.lower(), f"选{letter}", option]
    return [*forms, f"{letter}. {option}"][form]


YES_FORMS: list[Any] = ["Yes.", "yes, it is", "Yes, there is.", "是的", "对", "正确", True]
NO_FORMS: list[Any] = ["No, there is not", "No.", "no", "不是", "错", "不对", False]


def _numeric(value: str) -> Any:
    return int(value) if value.isdigit() else value


def stated(item: dict, style: Style, d: Dice, i: int) -> dict:
    """One item as the generator writes it: clean fields first, then the style's slips and forms."""
    kind = item["kind"]
    if kind == "long_vqa":
        return {"rounds": [dict(r) for r in item["rounds"]]}
    half = style.wrong == "hallucinate" and d.int(2, "wrong", i) == 0
    flip = style.wrong in ("contradict", "decoy")
    if kind == "judgement":
        truth = item["truth"]
        said = {"yes": "no", "no": "yes"}[truth] if flip or half else truth
        why = item["reasons"][said if half else truth]  # a contradiction keeps the true reason
        answer: Any = said
        if style.values == "yesno":
            forms = YES_FORMS if said == "yes" else NO_FORMS
            answer = forms[d.int(len(forms), "yn", i)]
        return {"question": item["question"], "answer": answer, "reason": why}
    if kind == "multiple_choice":
        options, correct = list(item["options"]), item["correct"]
        said = correct
        if flip or half:
            said = (correct + 1 + d.int(3, "slip", i)) % 4
        template = item["why"]
        why = template if not half else _explain(item, options[said])
        letter = LETTERS[said]
        answer = letter
        if style.values == "letters":
            answer = _letter_form(letter, options[said], d.int(7, "lf", i))
        shown: list[Any] = options
        if style.values == "prefixed":
            form = d.int(5, "pf", i)
            shown = [_prefix(LETTERS[k], o, form) for k, o in enumerate(options)]
        elif style.values == "numbers":
            shown = [_numeric(o) for o in options]
        return {"question": item["question"], "options": shown, "answer": answer, "explanation": why}
    # short_vqa
    answer = item["answer"]
    if half or style.wrong == "decoy":
        answer = _other_value(answer, d, i)
    value: Any = _numeric(answer) if style.values == "numbers" else answer
    return {"question": item["question"], "answer": value}


def _explain(item: dict, option: str) -> str:
    """The item's explanation written for `option` (a hallucinated item explains its wrong pick)."""
    right = item["options"][item["correct"]]
    return item["why"].replace(right, option) if right in item["why"] else item["why"]


def _other_value(answer: str, d: Dice, i: int) -> str:
    if answer.isdigit():
        return str(int(answer) + 1)
    for pool in (*COLOURS.values(), WORDS, ZH_NOUNS):
        low = [w.casefold() for w in pool]
        if answer.casefold() in low:
            other = [w for w in pool if w.casefold() != answer.casefold()]
            pick = other[d.int(len(other), "other", i)]
            return pick.capitalize() if answer[:1].isupper() else pick
    return answer + " stone"


# -- the server -------------------------------------------------------------------------------------


@dataclass
class Reply:
    content: str | None
    refusal: str | None = None
    finish: str = "stop"


@dataclass
class Counters:
    requests: dict[str, int] = field(default_factory=dict)
    repair_asks: dict[str, int] = field(default_factory=dict)
    more_room: dict[str, int] = field(default_factory=dict)  # asked again with more max_tokens
    cut: dict[str, int] = field(default_factory=dict)  # answered cut off (finish_reason length)
    refused: dict[str, int] = field(default_factory=dict)
    asks: dict[str, dict[str, int]] = field(default_factory=dict)  # kind → conversation → requests

    def add(self, name: str, kind: str) -> None:
        table = getattr(self, name)
        table[kind] = table.get(kind, 0) + 1

    def json(self) -> dict:
        return {
            "requests": dict(self.requests),
            "repair_asks": dict(self.repair_asks),
            "more_room": dict(self.more_room),
            "cut": dict(self.cut),
            "refused": dict(self.refused),
            "max_asks": {k: max(v.values(), default=0) for k, v in self.asks.items()},
            "conversations": {k: len(v) for k, v in self.asks.items()},
        }


class StyleServer(FakeOpenAI):
    """The loopback server answering in one reply style (or `mixed`); see the module docstring.

    `repair`: "repeat" answers a repair ask (a request that carries an earlier assistant
    reply) in the same style; "obey" answers it with clean JSON."""

    def __init__(self, *, style: str = "clean", repair: str = "repeat", **kw: Any):
        super().__init__(**kw)
        self.configure(style, repair, self.seed)

    def configure(
        self, style: str, repair: str = "repeat", seed: int | None = None, reset: bool = True
    ) -> None:
        """Switch the style; `reset` also forgets the intents and counters."""
        if style != "mixed" and style not in STYLES:
            raise ValueError(f"unknown style {style!r}; expected one of {', '.join(STYLES)} or mixed")
        if repair not in ("repeat", "obey"):
            raise ValueError(f"repair must be 'repeat' or 'obey', not {repair!r}")
        with self._lock:
            self.style, self.repair = style, repair
            if seed is not None:
                self.seed = seed
            if reset or not hasattr(self, "counters"):
                self.counters = Counters()
                self.questions: dict[str, dict] = {}  # question text → intended item
                self.captions: dict[str, str] = {}  # caption text → conversation
                self.domains: dict[str, dict] = {}  # conversation → {"caption", "domain"}
                self.verdicts: dict[str, Any] = {}  # verify question text → the verifier's true answer
                self.first_max: dict[str, int] = {}  # conversation → max_tokens of its first ask

    def intended(self) -> dict:
        """What the server meant (JSON-able): read by `Intents`."""
        with self._lock:
            return {
                "questions": dict(self.questions),
                "captions": list(self.captions),
                "domains": list(self.domains.values()),
                "verdicts": dict(self.verdicts),
            }

    def snapshot(self) -> dict:
        snap = super().snapshot()
        with self._lock:
            snap["styles"] = {"style": self.style, "repair": self.repair, **self.counters.json()}
        return snap

    # -- routes (when run as a process) -----------------------------------------------------------
    def add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_get("/intended", self._intended)
        router.add_post("/style", self._style)

    async def _intended(self, request: web.Request) -> web.Response:
        return web.json_response(self.intended())

    async def _style(self, request: web.Request) -> web.Response:
        body = await request.json()
        try:
            self.configure(
                body.get("style", self.style),
                body.get("repair", self.repair),
                body.get("seed"),
                bool(body.get("reset", True)),
            )
        except ValueError as e:
            return web.json_response({"error": str(e)}, status=400)
        return web.json_response({"style": self.style, "repair": self.repair, "seed": self.seed})

    # -- answering ------------------------------------------------------------------------------
    def completion(self, req: dict, info: dict, outcome: str = "ok") -> dict:
        if outcome not in ("ok", "timeout") or self.responder is not None:
            return super().completion(req, info, outcome)
        reply = self.reply(req)
        message = {"role": "assistant", "content": reply.content, "refusal": reply.refusal, "annotations": []}
        choices = [
            {"index": i, "message": dict(message), "logprobs": None, "finish_reason": reply.finish}
            for i in range(req.get("n") or 1)
        ]
        return self.envelope(req, info, choices)

    def reply(self, req: dict) -> Reply:
        """Decide what the request means, then write it in the conversation's style."""
        conv, repair = conversation(req)
        kind, schema = self.classify(req)
        lang = language(req)
        limit = req.get("max_completion_tokens") or req.get("max_tokens") or 0
        with self._lock:
            c = self.counters
            c.add("requests", kind)
            asks = c.asks.setdefault(kind, {})
            asks[conv] = asks.get(conv, 0) + 1
            first = self.first_max.setdefault(conv, limit)
            if repair:
                c.add("repair_asks", kind)
            elif asks[conv] > 1 and limit > first:
                c.add("more_room", kind)
        style = self.style_for(kind, conv)
        if repair and self.repair == "obey":
            style = STYLES["clean"]
        reply = self.write(kind, schema, req, conv, lang, style)
        cut = (kind == "caption" and style.caption == "truncated") or (
            kind in SCHEMA_KINDS and style.writer == "truncated" and kind in style.kinds
        )
        if cut and limit <= first and reply.content:
            reply = Reply(reply.content[: max(1, len(reply.content) // 2)], finish="length")
        with self._lock:
            if reply.finish == "length":
                self.counters.add("cut", kind)
            if reply.refusal or _is_refusal(reply.content):
                self.counters.add("refused", kind)
        return reply

    def style_for(self, kind: str, conv: str) -> Style:
        """The conversation's style: the server's, or in mixed mode one drawn (seeded by the
        conversation) from the styles that change this kind of request, clean included."""
        if self.style != "mixed":
            return STYLES[self.style]
        pool = [s for s in _STYLES if kind in s.kinds or s.name == "clean"]
        return pool[Dice(f"{self.seed}:{conv}").int(len(pool), "style")]

    def classify(self, req: dict) -> tuple[str, dict | None]:
        """(kind, schema): a schema reply (instructions, domain, judge), a caption or a verification."""
        schema = find_schema(req)
        if schema is not None:
            return schema_kind(schema), schema
        first = _text(next((m for m in req["messages"] if m.get("role") == "user"), {}))
        if _has_image(req):
            return ("verify" if self.question_in(first, start=True) else "caption"), None
        if self.question_in(first) is not None:  # a judge asked to answer in words
            return "agree", None
        kind = task_kind(_all_text(req))
        return kind or "text", None

    def question_in(self, text: str, start: bool = False) -> dict | None:
        """The intended item whose question begins `text` (or, with start=False, appears in it)."""
        with self._lock:
            line = text.strip().split("\n", 1)[0].strip()
            hit = self.questions.get(line)
            if hit is not None:
                return hit
            for q, item in self.questions.items():
                if text.strip().startswith(q) if start else q in text:
                    return item
        return None

    # -- intents ----------------------------------------------------------------------------------
    def items_for(self, kind: str, conv: str, lang: str, count: int) -> list[dict]:
        """The questions meant for one instruction request (recorded, keyed by question)."""
        items = MAKERS[kind](Dice(f"{self.seed}:{conv}"), lang, count)
        with self._lock:
            for it in items:
                self.questions.setdefault(it["question"], {**it, "lang": lang, "conversation": conv})
        return items

    def caption_for(self, conv: str, lang: str) -> str:
        text = caption_text(Dice(f"{self.seed}:{conv}"), lang)
        with self._lock:
            self.captions.setdefault(text, conv)
        return text

    def domain_for(self, conv: str, names: list[str], req: dict) -> str:
        names = names or ["general"]
        domain = names[Dice(f"{self.seed}:{conv}").int(len(names), "domain")]
        text = _all_text(req)
        with self._lock:
            caption = next((c for c in self.captions if c in text), None)
            self.domains.setdefault(conv, {"caption": caption, "domain": domain})
        return domain

    # -- writing ------------------------------------------------------------------------------------
    def write(self, kind: str, schema: dict | None, req: dict, conv: str, lang: str, style: Style) -> Reply:
        d = Dice(f"{self.seed}:{conv}")
        if kind == "caption":
            return write_caption(self.caption_for(conv, lang), style, d)
        if kind == "verify":
            return Reply(self.verifier_reply(req, style, d))
        if kind == "text":
            return Reply(caption_text(d, lang))
        touched = kind in style.kinds
        if touched and style.writer == "refusal":
            return Reply("I'm sorry, but I can't help with that request.")
        if touched and style.writer == "refusal_field":
            return Reply(None, refusal="I'm sorry, but I can't assist with that request.")
        if kind in MAKERS:
            count = task_count(kind, _all_text(req), schema)
            items = self.items_for(kind, conv, lang, count)
            shown = style if touched else STYLES["clean"]
            said = [stated(it, shown, d, i) for i, it in enumerate(items)]
            obj, decoy = assemble(kind, said, schema, conv), None
            if touched and style.writer == "think":
                wrong = Style("decoy", "", (), wrong="decoy")
                decoy = assemble(kind, [stated(it, wrong, d, i) for i, it in enumerate(items)], schema, conv)
        elif kind == "domain":
            names = domain_names(schema)
            chosen = self.domain_for(conv, names, req)
            obj = fill(schema, conv, {"domain": chosen})
            others = [n for n in names if n != chosen] or [chosen]
            decoy = fill(schema, conv, {"domain": others[d.int(len(others), "decoy")]})
        elif kind == "agree":
            agree = self.judge_verdict(req)
            if touched and style.judge == "mixed":
                return Reply(judge_form(agree, d))
            if schema is None:
                return Reply("Yes, they agree." if agree else "No, they do not agree.")
            obj, decoy = fill(schema, conv, {"agree": agree}), fill(schema, conv, {"agree": not agree})
        elif kind == "score":
            obj = fill(schema, conv, {"score": 4, "reason": "Clear question, correct and fluent answer."})
            decoy = fill(schema, conv, {"score": 1, "reason": "Unusable."})
        else:
            obj = SchemaFaker(schema or {}, conv).generate()
            decoy = obj
        if kind in MAKERS and schema is None and (not touched or style.writer == "tags"):
            # asked for the tag format (no schema in the request): written in it, with the
            # explanation or reason tags the prompt shows
            text = _all_text(req)
            return Reply(tags(obj, kind, lang, notes="<E1>" in text or "<R1>" in text))
        if not touched:
            return Reply(json.dumps(obj, ensure_ascii=False))
        return Reply(serialise(obj, kind, style.writer, decoy, lang))

    def verifier_reply(self, req: dict, style: Style, d: Dice) -> str:
        """What a verifier looking at the picture answers: the truth, in the style's phrasing."""
        text = _text(next(m for m in req["messages"] if m.get("role") == "user"))
        item = self.question_in(text, start=True)
        truth = true_answer(item, text) if item is not None else None
        with self._lock:
            self.verdicts[text.strip()] = truth
        if truth is None:
            return "I cannot tell from the picture."
        how = style.verify if "verify" in style.kinds else "clean"
        return verifier_phrase(item["kind"], truth, how, d)

    def judge_verdict(self, req: dict) -> bool:
        """A truthful judge: the sample's (reference) answer agrees with the server's truth."""
        text = _all_text(req)
        item = self.question_in(text)
        if item is None:
            return False
        truth = item.get("answer") or (item.get("rounds") or [{}])[0].get("answer", "")
        m = re.search(r"(?:Reference answer|参考答案)\s*[:：]\s*(.*?)\s*(?:\n|$)", text)
        if m is None:
            return False
        return _norm(m.group(1)) == _norm(str(truth))


def true_answer(item: dict, shown: str) -> str | None:
    """The answer the item means, as asked in `shown`: the letter of the line holding the
    right option (None when no line does), yes/no, or the short answer."""
    if item["kind"] == "multiple_choice":
        right = _norm(item["options"][item["correct"]])
        for line in shown.split("\n"):
            m = OPTION_LINE.match(line)
            if m and _norm(_unprefix(m.group(2))) == right:
                return m.group(1)
        return None
    if item["kind"] == "judgement":
        return item["truth"]
    if item["kind"] == "short_vqa":
        return item["answer"]
    return item["rounds"][0]["answer"]


def verifier_phrase(kind: str, truth: str, how: str, d: Dice) -> str:
    if kind == "multiple_choice":
        others = [x for x in LETTERS if x != truth]
        if how == "prose":
            return f"A close look at the picture settles it: the answer is {truth}."
        if how == "think":
            a, b = others[d.int(3, "t1")], others[d.int(3, "t2")]
            return (
                f"<think>Option {a} looks plausible at first, and {b} is close too; "
                f"checking the picture again.</think>\n{truth}"
            )
        if how == "answer_is":
            forms = [f"The answer is {truth}.", f"Answer: {truth}", f"答案是{truth}。"]
            return [*forms, f"The correct option is ({truth})."][d.int(4, "ai")]
        return truth
    if kind == "judgement":
        yes = truth == "yes"
        if how == "prose":
            return f"Now that I look closely, {truth}."
        if how == "think":
            doubt, final = ("No", "Yes.") if yes else ("Yes", "No.")
            return f"<think>{doubt}? Let me look at the picture again.</think>\n{final}"
        if how == "answer_is":
            forms = (
                ["The answer is yes.", "Answer: Yes", "是的。", "Yes, it is."]
                if yes
                else ["The answer is no.", "Answer: No", "不是。", "No, it is not."]
            )
            return forms[d.int(4, "ai")]
        return "Yes" if yes else "No"
    if how == "sentence":
        return f"Looking at the picture, I would say {truth}."
    return truth


def judge_form(agree: bool, d: Dice) -> str:
    forms = [
        "{'agree': True}" if agree else "{'agree': False}",
        '{"agree"：true}' if agree else '{"agree"：false}',
        "是" if agree else "否",
        "Yes, they agree." if agree else "No, they do not agree.",
    ]
    return forms[d.int(len(forms), "judge")]


def write_caption(text: str, style: Style, d: Dice) -> Reply:
    how = style.caption if "caption" in style.kinds else "clean"
    if how == "refusal":
        return Reply("I'm sorry, but I can't help with describing this image.")
    if how == "preamble":
        return Reply(f"Sure! Here is a detailed description of the image:\n\n{text}")
    if how == "think":
        return Reply(
            "<think>\nThe user wants a detailed description. I should mention the main subject, "
            "the colours, the background and the light.\n</think>\n\n" + text
        )
    return Reply(text)


# -- assembling and serialising ----------------------------------------------------------------------

ZH_KEYS = {
    "questions": "题目", "question": "问题", "options": "选项", "answer": "答案", "explanation": "解释",
    "reason": "理由", "rounds": "对话", "domain": "领域", "agree": "一致", "score": "分数",
}  # fmt: skip


def item_schema(schema: dict | None, kind: str) -> tuple[dict, dict]:
    """(root properties, list item properties) of a schema, resolved."""
    if schema is None:
        return {}, {}
    f = SchemaFaker(schema, "")
    root = f.resolve(schema)
    props = root.get("properties") or {}
    key = LIST_KEY.get(kind)
    if key is None or key not in props:
        return props, {}
    items = f.resolve(f.resolve(props[key]).get("items") or {})
    return props, items.get("properties") or {}


def assemble(kind: str, said: list[dict], schema: dict | None, conv: str) -> dict:
    """The reply object: schema-valid filler from `SchemaFaker` for fields the server does not
    mean anything by, the stated items for the rest. An explanation goes under the item's
    `explanation` or `reason` field, whichever the schema has."""
    key = LIST_KEY[kind]
    base = fill(schema, conv, {})
    filler = base.get(key) if isinstance(base.get(key), list) else []
    template = filler[0] if filler and isinstance(filler[0], dict) else {}
    if kind == "long_vqa":
        return {**base, key: [{**template, **r} for r in said[0]["rounds"]]}
    _, iprops = item_schema(schema, kind)
    items = []
    for it in said:
        it = {**template, **it}
        for mine, alt in (("explanation", "reason"), ("reason", "explanation")):
            if iprops and mine in it and mine not in iprops and alt in iprops:
                it[alt] = it.pop(mine)
            elif iprops and mine in it and mine not in iprops:
                it.pop(mine)
        items.append(it)
    return {**base, key: items}


def fill(schema: dict | None, conv: str, fields: dict) -> dict:
    if schema is None:
        return dict(fields)
    base = SchemaFaker(schema, conv).generate()
    base = base if isinstance(base, dict) else {}
    return {**base, **fields}


def serialise(obj: dict, kind: str, writer: str, decoy: dict | None, lang: str) -> str:
    """The reply text of `obj` as one writer writes it."""
    compact = json.dumps(obj, ensure_ascii=False)
    if writer == "chatter":
        pretty = json.dumps(obj, ensure_ascii=False, indent=2)
        return (
            f"Sure! Here is the JSON you asked for:\n\n```json\n{pretty}\n```\n\n"
            "Let me know if you would like any changes."
        )
    if writer == "trailing_commas":
        pretty = json.dumps(obj, ensure_ascii=False, indent=2)
        return re.sub(r"(?<=[^\[{,\s])(\n\s*[\]}])", r",\1", pretty)
    if writer == "python":
        return repr(obj)
    if writer == "fullwidth":
        return json.dumps(obj, ensure_ascii=False, separators=("，", "："))
    if writer == "zh_keys":
        return json.dumps(_rekey(obj), ensure_ascii=False)
    if writer == "think":
        draft = json.dumps(decoy if decoy is not None else obj, ensure_ascii=False)
        return (
            f"<think>\nThe user wants JSON. A first draft: {draft}\n"
            "On a second look some of those answers are wrong; the final version follows.\n</think>\n\n"
            f"{compact}"
        )
    if writer == "bare_array":
        key = LIST_KEY.get(kind)
        return json.dumps(obj[key], ensure_ascii=False) if key in obj else compact
    if writer == "tags" and kind in INSTRUCTION_KINDS:
        return tags(obj, kind, lang)
    return compact


def tags(obj: dict, kind: str, lang: str, notes: bool = False) -> str:
    """MMInstruct's tagged format: <Qn> question </Qn>, <Cn> options </Cn>, <An> answer </An>;
    with `notes`, also <En> explanation </En> or <Rn> reason </Rn>."""
    blocks = []
    if kind == "long_vqa":
        for n, r in enumerate(obj["rounds"], 1):
            blocks.append(f"<Q{n}> {r['question']} </Q{n}>\n<A{n}> {r['answer']} </A{n}>")
        return "\n".join(blocks)
    yes_no = {"yes": "是", "no": "否"} if lang == "zh" else {"yes": "Yes", "no": "No"}
    for n, q in enumerate(obj["questions"], 1):
        lines = [f"<Q{n}> {q['question']} </Q{n}>"]
        if kind == "multiple_choice":
            opts = " ".join(f"{LETTERS[k]}. {o}" for k, o in enumerate(q["options"]))
            lines.append(f"<C{n}> {opts} </C{n}>")
        answer = yes_no.get(q["answer"], q["answer"]) if kind == "judgement" else q["answer"]
        lines.append(f"<A{n}> {answer} </A{n}>")
        for key, tag in (("explanation", "E"), ("reason", "R")):
            if notes and q.get(key):
                lines.append(f"<{tag}{n}> {q[key]} </{tag}{n}>")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _rekey(value: Any) -> Any:
    if isinstance(value, dict):
        return {ZH_KEYS.get(k, k): _rekey(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rekey(v) for v in value]
    return value


# -- reading requests -------------------------------------------------------------------------------


def _text(message: dict) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"
        )
    return ""


def _all_text(req: dict) -> str:
    return "\n".join(_text(m) for m in req["messages"])


def _has_image(req: dict) -> bool:
    return any(
        isinstance(m.get("content"), list) and any(p.get("type") == "image_url" for p in m["content"])
        for m in req["messages"]
    )


def conversation(req: dict) -> tuple[str, bool]:
    """(key of the conversation: its first user message, text and images; whether the request
    is a repair ask, i.e. carries an earlier reply of the assistant)."""
    messages = req["messages"]
    first = next((m for m in messages if m.get("role") == "user"), messages[-1])
    content = first.get("content")
    blob = json.dumps(content, sort_keys=True, ensure_ascii=False)
    repair = any(m.get("role") == "assistant" for m in messages)
    return hashlib.sha256(blob.encode("utf-8", "surrogatepass")).hexdigest()[:24], repair


def language(req: dict) -> str:
    """zh when the system message (else the first user message) is written in Chinese."""
    messages = req["messages"]
    lead = next((m for m in messages if m.get("role") in ("system", "developer")), None)
    if lead is None:
        lead = next((m for m in messages if m.get("role") == "user"), {})
    return "zh" if HAN.search(_text(lead)) else "en"


def find_schema(req: dict) -> dict | None:
    """The JSON schema a request asks for: its `response_format`, else one quoted in a message."""
    rf = req.get("response_format") or {}
    if rf.get("type") == "json_schema":
        return rf["json_schema"]["schema"]
    decoder = json.JSONDecoder()
    for m in req["messages"]:
        if m.get("role") == "assistant":
            continue
        text = _text(m)
        if '"properties"' not in text:
            continue
        i = text.find("{")
        while i != -1:
            try:
                value, end = decoder.raw_decode(text, i)
            except ValueError:
                i = text.find("{", i + 1)
                continue
            if isinstance(value, dict) and ("properties" in value or "$defs" in value):
                return value
            i = text.find("{", end)
    return None


def schema_kind(schema: dict) -> str:
    f = SchemaFaker(schema, "")
    props = f.resolve(schema).get("properties") or {}
    for key, kind in (("domain", "domain"), ("agree", "agree"), ("score", "score"), ("rounds", "long_vqa")):
        if key in props:
            return kind
    if "questions" in props:
        _, iprops = item_schema(schema, "judgement")
        if "options" in iprops:
            return "multiple_choice"
        answer = f.resolve(iprops.get("answer") or {})
        if set(answer.get("enum") or []) == {"yes", "no"} or answer.get("type") == "boolean":
            return "judgement"
        return "short_vqa"
    return "other"


def domain_names(schema: dict | None) -> list[str]:
    if schema is None:
        return []
    f = SchemaFaker(schema, "")
    prop = f.resolve((f.resolve(schema).get("properties") or {}).get("domain") or {})
    return list(prop.get("enum") or ([prop["const"]] if "const" in prop else []))


TASK_WORDS = (
    ("judgement", ("yes/no question", "是非题")),
    ("multiple_choice", ("multiple-choice", "选择题")),
    ("long_vqa", ("conversation of", "轮的对话")),
    ("short_vqa", ("single word", "一个词")),
)


def task_kind(text: str) -> str | None:
    """The instruction type a request without a schema asks for (tags mode), from its task line."""
    for kind, words in TASK_WORDS:
        if any(w in text for w in words):
            return kind
    return None


def task_count(kind: str, text: str, schema: dict | None) -> int:
    """How many items the prompt asks for ("Write 4 …", "写4个", "of 3 rounds"), at least the
    schema's minimum."""
    pats = [r"of (\d+) rounds", r"(\d+)轮"] if kind == "long_vqa" else [r"Write (\d+)", r"写(\d+)"]
    n = DEFAULT_COUNT[kind]
    for p in pats:
        m = re.search(p, text)
        if m:
            n = int(m.group(1))
            break
    if schema is not None:
        props, _ = item_schema(schema, kind)
        key = LIST_KEY[kind]
        n = max(n, int(SchemaFaker(schema, "").resolve(props.get(key) or {}).get("minItems") or 0))
    return max(1, min(n, 12))


def _is_refusal(text: str | None) -> bool:
    return bool(text) and text.startswith("I'm sorry")  # type: ignore[union-attr]


# -- comparing an engine's samples with what was meant -------------------------------------------------

OPTION_LINE = re.compile(r"^\s*\(?([A-D])[.．、:：)）]\s*(.*?)\s*$")
PREFIX = re.compile(r"^\s*(?:\(\s*[A-Da-dＡ-Ｄ]\s*\)|[A-Da-dＡ-Ｄ]\s*[.．、:：)）])\s*")


def _unprefix(text: str) -> str:
    for _ in range(3):
        text = PREFIX.sub("", text, count=1)
    return text


def _norm(text: str) -> str:
    return " ".join(str(text).casefold().split()).strip(" .。!！?？,，;；:：'\"“”")


class Intents:
    """What the server meant, from `StyleServer.intended()`: `wrong(sample)` says why a
    sample differs from it (None when it is what the server meant)."""

    def __init__(self, data: dict):
        self.questions: dict[str, dict] = data["questions"]
        self.captions: list[str] = data["captions"]
        self.domains: dict[str, str] = {d["caption"]: d["domain"] for d in data["domains"] if d["caption"]}
        self.verdicts: dict[str, Any] = data.get("verdicts", {})
        self._by_length = sorted(self.questions, key=len, reverse=True)

    def item_for(self, question: str) -> dict | None:
        line = question.strip().split("\n", 1)[0].strip()
        if line in self.questions:
            return self.questions[line]
        return next((self.questions[q] for q in self._by_length if question.strip().startswith(q)), None)

    def caption_in(self, text: str) -> str | None:
        return next((c for c in self.captions if c in text), None)

    def wrong(self, sample: Any) -> str | None:
        """Why `sample` (a visinstruct Sample) is not what the server meant, or None."""
        caption = (sample.context or {}).get("caption")
        if caption is not None:
            meant = self.caption_in(caption)
            if meant is None:
                return f"built on a caption the server never meant: {caption[:60]!r}"
            if _norm(caption) != _norm(meant):
                return f"the caption carries more than the server meant: {caption[:60]!r}"
            if meant in self.domains and sample.domain != self.domains[meant]:
                return f"domain {sample.domain!r}, the server meant {self.domains[meant]!r}"
        if not sample.turns:
            return "no turns"
        item = self.item_for(sample.turns[0].question)
        if item is None:
            return f"a question the server never asked: {sample.turns[0].question[:60]!r}"
        if item["kind"] != sample.type:
            return f"a {item['kind']} question stored as {sample.type}"
        if sample.type == "multiple_choice":
            if any(PREFIX.match(str(o)) for o in sample.options):
                return f"options keep their letters: {sample.options}"
            if sorted(map(_norm, sample.options)) != sorted(map(_norm, item["options"])):
                return f"options {sample.options}, the server meant {item['options']}"
            if sample.answer_letter not in LETTERS:
                return f"answer letter {sample.answer_letter!r}"
            got = sample.options[LETTERS.index(sample.answer_letter)]
            meant = item["options"][item["correct"]]
            if _norm(got) != _norm(meant):
                return f"answer {sample.answer_letter} = {got!r}, the server meant {meant!r}"
        elif sample.type == "judgement":
            if sample.short_answer != item["truth"]:
                return f"answer {sample.short_answer!r}, the server meant {item['truth']!r}"
        elif sample.type == "short_vqa":
            if _norm(sample.short_answer or sample.turns[0].answer) != _norm(item["answer"]):
                return f"answer {sample.short_answer!r}, the server meant {item['answer']!r}"
        elif sample.type == "long_vqa":
            meant = [(_norm(r["question"]), _norm(r["answer"])) for r in item["rounds"]]
            if [(_norm(t.question), _norm(t.answer)) for t in sample.turns] != meant:
                return "the conversation differs from the one the server wrote"
        return None

    def misread(self, sample: Any) -> str | None:
        """How the engine's reading of the verifier differs from what the verifier meant:
        "unsure" (no answer read) or "misread" (another answer), else None."""
        res = (sample.checks or {}).get("verify")
        meant = self.verdicts.get(sample.turns[0].question.strip()) if sample.turns else None
        if not isinstance(res, dict) or meant is None or sample.type not in ("multiple_choice", "judgement"):
            return None
        got = res.get("answer")
        if got not in (*LETTERS, "yes", "no"):
            return "unsure"
        return None if got == meant else "misread"


def main(argv: list[str] | None = None) -> None:
    """Run the style server in this process until killed: prints `LISTENING <port>`."""
    import argparse
    import signal

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--style", default="clean", choices=[*STYLES, "mixed"])
    ap.add_argument("--repair", default="repeat", choices=["repeat", "obey"])
    a = ap.parse_args(argv)
    server = StyleServer(port=a.port, seed=a.seed, style=a.style, repair=a.repair).start()
    print(f"LISTENING {server.port}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait()
    server.stop()


if __name__ == "__main__":
    main()
