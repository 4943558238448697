"""One question engine for every synthetic domain: a fact in, the four instruction types out.

A domain states what it knows as `Fact`s: the right value, plausible wrong values (most
plausible first), how a value is written, and how to ask about it, claim it or explain it.
From a fact this module makes the drafts the contract in `base` asks for:

- judgement: a statement claiming the right value (true) or a plausible wrong one (false),
  or one the fact's own `judge` builds when a false statement needs more than a wrong value;
- multiple_choice: the right value and exactly 3 distinct wrong values as options;
- short_vqa: the question, answered with the value as a word or a number;
- long_vqa: the fact's worked explanation, turn by turn.

`Kinds` picks an item's facts, of distinct kinds while they last, and `ask_all` composes an
item's drafts. Plausible wrong values come from `nearby` (numbers a few steps away),
`preferred_first` (what is in the image before what is not) and `distinct_distractors`.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from visinstruct.synth.base import Question, SynthDomain, fmt_num

Turn = tuple[str, str]


@dataclass(frozen=True)
class Said:
    """A rendered phrasing and the key it came from (kept with the draft as provenance)."""

    key: str
    text: str


@dataclass(eq=False)
class Fact:
    """One thing the engine knows about an item, and how to ask about it.

    `value` and `wrong` are in the domain's own terms (a number, a label, a colour name);
    `show` writes one as it appears in an option or an answer. `ask` words the question,
    `claim(v)` a statement that the value is `v`; `judge(truth)` builds a statement of the
    given truth directly (and says what it states). A fact is asked as every type it can be.
    """

    kind: str
    category: str
    value: Any = None
    wrong: Sequence[Any] = ()  # plausible wrong values, most plausible first
    show: Callable[[Any], str] = str
    ask: Callable[[], Said] | None = None
    claim: Callable[[Any], Said] | None = None
    judge: Callable[[bool], tuple[Said, dict[str, Any]]] | None = None
    explain: Callable[[], list[Turn]] | None = None  # the turns of a long answer
    key: str = ""  # long answers: the phrasing key recorded (the kind if empty)
    mc_ask: Callable[[], Said] | None = None  # another wording when the options are shown
    short_ask: Callable[[], Said] | None = None  # another wording for a short answer
    short_show: Callable[[Any], str] | None = None  # the short answer when it differs from the option
    mc: bool = True
    short: bool = True
    false_from: int = 3  # a false statement claims one of the first `false_from` wrong values
    choose_from: int = 3  # options: 3 of the first `choose_from` wrong values (topped up in order)
    args: dict[str, Any] = field(default_factory=dict)  # what the question is about, for the facts
    valid: Sequence[Any] = ()  # every right value when several are (one is offered, none is wrong)
    _answer: str | None = field(default=None, init=False, repr=False)
    _options: list[tuple[Any, str]] | None = field(default=None, init=False, repr=False)

    def answer(self) -> str:
        """The right value as shown (written once: a value may be worded at random)."""
        if self._answer is None:
            self._answer = self.show(self.value)
        return self._answer

    def options(self) -> list[tuple[Any, str]]:
        """The wrong values with how each is shown, in order: distinct even ignoring case ("The"
        and "the" are one option to a reader) and never a right answer."""
        if self._options is None:
            seen = {self.answer().casefold(), *(self.show(v).casefold() for v in self.valid)}
            out: list[tuple[Any, str]] = []
            for v in self.wrong:
                s = self.show(v)
                if s.casefold() not in seen:
                    seen.add(s.casefold())
                    out.append((v, s))
            self._options = out
        return self._options


@dataclass
class Asked:
    """A draft and the fact it asks about, so the domain can record what was asked."""

    question: Question
    fact: Fact
    shown: Any = None  # judgement: the value claimed (None when the fact's `judge` built it)
    stated: dict[str, Any] = field(default_factory=dict)  # judgement by `judge`: what it states

    @property
    def type(self) -> str:
        """The draft's instruction type."""
        return self.question.type

    def record(self) -> dict[str, Any]:
        """What was asked, in plain JSON terms: type, kind, args, answer (and the claim)."""
        out: dict[str, Any] = {
            "type": self.type,
            "kind": self.fact.kind,
            "args": self.fact.args,
            "answer": self.fact.value,
        }
        if self.type == "judgement":
            out["truth"] = self.question.truth
            if self.fact.judge is None:
                out["shown"] = self.shown
            else:
                out["stated"] = self.stated
        elif self.type == "multiple_choice":
            out["distractors"] = list(self.question.distractors)
            if self.fact.valid:
                out["valid"] = list(self.fact.valid)
        return out


# ---------------------------------------------------------------------------------------------
# one fact, one draft


def can_judge(f: Fact) -> bool:
    """A fact can be judged if it has its own judge or a claim and a wrong value to claim."""
    return f.judge is not None or (f.claim is not None and bool(f.options()))


def can_choose(f: Fact) -> bool:
    """A fact can be asked with options if it has a question and 3 distinct wrong values."""
    return f.mc and f.ask is not None and len(f.options()) >= 3


def can_answer(f: Fact) -> bool:
    """A fact can be asked for a short answer if it has a question and allows it."""
    return f.short and (f.short_ask or f.ask) is not None


def can_explain(f: Fact) -> bool:
    """A fact can be a long answer if it has a worked explanation."""
    return f.explain is not None


FITS: dict[str, Callable[[Fact], bool]] = {
    "judgement": can_judge,
    "multiple_choice": can_choose,
    "short_vqa": can_answer,
    "long_vqa": can_explain,
}


def judgement(fact: Fact, truth: bool, rng: random.Random) -> Asked:
    """A yes/no statement about `fact`: false ones claim a plausible wrong value."""
    if fact.judge is not None:
        said, stated = fact.judge(truth)
        q = Question("judgement", fact.category, [(said.text, "")], truth=truth, phrasing=said.key)
        return Asked(q, fact, stated=stated)
    opts = fact.options()
    shown = fact.value if truth else opts[rng.randrange(max(1, min(fact.false_from, len(opts))))][0]
    said = fact.claim(shown)
    q = Question("judgement", fact.category, [(said.text, "")], truth=truth, phrasing=said.key)
    return Asked(q, fact, shown=shown)


def multiple_choice(fact: Fact, rng: random.Random, said: Said | None = None) -> Asked:
    """The right value and 3 wrong ones, drawn from the `choose_from` most plausible."""
    opts = [s for _, s in fact.options()]
    if fact.choose_from > 3:
        head = opts[: fact.choose_from]
        rng.shuffle(head)
        opts = head + opts[fact.choose_from :]
    said = said or (fact.mc_ask or fact.ask)()
    q = Question(
        "multiple_choice",
        fact.category,
        [(said.text, "")],
        correct=fact.answer(),
        distractors=opts[:3],
        phrasing=said.key,
    )
    return Asked(q, fact)


def short_answer(fact: Fact, said: Said | None = None) -> Asked:
    """One turn answered with the value as a word or a number."""
    ans = fact.short_show(fact.value) if fact.short_show else fact.answer()
    said = said or (fact.short_ask or fact.ask)()
    q = Question("short_vqa", fact.category, [(said.text, ans)], short_answer=ans, phrasing=said.key)
    return Asked(q, fact)


def long_answer(fact: Fact) -> Asked:
    """The fact's worked explanation: two or more turns whose answers show the working."""
    turns = fact.explain()
    if len(turns) < 2:
        raise ValueError(f"{fact.kind}: a long answer needs at least two turns")
    return Asked(Question("long_vqa", fact.category, turns, phrasing=fact.key or fact.kind), fact)


# ---------------------------------------------------------------------------------------------
# an item's facts and drafts


class Kinds:
    """The kinds of fact an item can be asked about, and how facts are picked from them.

    Each type of question picks its facts of distinct kinds while kinds last, in a random
    order; kinds are not kept apart across types (a kind judged may also be asked with
    options: keeping them apart narrows what the low-variety kinds get asked).

    Each builder returns a fresh fact of its kind (it may choose at random what to ask), or
    None when the item has nothing of that kind. `weights` makes some kinds likelier; with
    `repeat` off a kind gives at most one fact per pick (its builder always gives the same).
    """

    def __init__(
        self,
        rng: random.Random,
        builders: Mapping[str, Callable[[], Fact | None]],
        weights: Mapping[str, int] | None = None,
        repeat: bool = True,
    ):
        self.rng, self.builders, self.repeat = rng, dict(builders), repeat
        self.weights = {k: (weights or {}).get(k, 1) for k in self.builders}

    @classmethod
    def fixed(cls, rng: random.Random, facts: Mapping[str, Fact]) -> Kinds:
        """Kinds of one fact each, known in advance (each is asked at most once per pick)."""
        return cls(rng, {k: (lambda f=f: f) for k, f in facts.items()}, repeat=False)

    def order(self) -> list[str]:
        """Every kind once, in a random order that puts heavier kinds first more often (weighted
        sampling without replacement: one uniform draw per kind, raised to 1/weight)."""
        draw, w = self.rng.random, self.weights
        return sorted(w, key=lambda k: draw() ** (1.0 / w[k]), reverse=True)

    def pick(self, qtype: str, k: int = 1, fits: Callable[[Fact], bool] | None = None) -> list[Fact]:
        """Up to `k` facts that can be asked as `qtype`, of distinct kinds while kinds remain."""
        ok = fits or FITS[qtype]
        names = self.order()
        out: list[Fact] = []
        if not names:
            return out
        for attempt in range(4 * len(names) + 8 if self.repeat else len(names)):
            if len(out) == k:
                break
            name = names[attempt % len(names)]
            fact = self.builders[name]()
            if fact is not None and ok(fact):
                out.append(fact)
        return out


def ask_all(
    rng: random.Random,
    kinds: Kinds,
    *,
    pairs: int,
    mc: int,
    short: int,
    long: Kinds | None = None,
    paired: bool = False,
) -> list[Asked]:
    """An item's drafts: `pairs` judgement pairs (one true, one false each), `mc` multiple-choice
    and `short` short-answer questions and one long answer (from `long`, else from `kinds`).

    `paired` asks both statements of a pair about one fact; otherwise each statement has its
    own. Questions are worded anew while a wording repeats one already asked in the item.
    """
    out: list[Asked] = []
    if paired:
        for fact in _need(kinds.pick("judgement", pairs), "judgement"):
            truths = [True, False]
            rng.shuffle(truths)
            out += [judgement(fact, t, rng) for t in truths]
    else:
        facts = _need(kinds.pick("judgement", 2 * pairs), "judgement", 2)
        facts = facts[: len(facts) // 2 * 2]
        truths = [True, False] * (len(facts) // 2)
        rng.shuffle(truths)
        out += [judgement(f, t, rng) for f, t in zip(facts, truths, strict=True)]
    seen = {a.question.turns[0][0] for a in out}
    for fact in _need(kinds.pick("multiple_choice", mc), "multiple_choice"):
        out.append(multiple_choice(fact, rng, _fresh(fact.mc_ask or fact.ask, seen)))
    for fact in _need(kinds.pick("short_vqa", short), "short_vqa"):
        out.append(short_answer(fact, _fresh(fact.short_ask or fact.ask, seen)))
    out.append(long_answer(_need((long or kinds).pick("long_vqa"), "long_vqa")[0]))
    return out


def _need(facts: list[Fact], qtype: str, k: int = 1) -> list[Fact]:
    if len(facts) < k:
        raise RuntimeError(f"no fact of this item can be asked as {qtype}")
    return facts


def _fresh(ask: Callable[[], Said], seen: set[str], tries: int = 8) -> Said:
    """A wording of `ask` not used yet in the item (the last one tried if every one is)."""
    for _ in range(tries):
        said = ask()
        if said.text not in seen:
            break
    seen.add(said.text)
    return said


# ---------------------------------------------------------------------------------------------
# wording


class Voice:
    """A domain's phrasings in one language, chosen with the item's random stream."""

    def __init__(self, domain: SynthDomain, rng: random.Random, lang: str):
        self.domain, self.rng, self.lang = domain, rng, lang

    def key(self, key: str) -> str:
        """The phrasing key to use for `key` (domains may prefer a more specific one)."""
        return key

    def say(self, key: str, **values: object) -> str:
        """A random wording of `key` with its placeholders filled."""
        return self.domain.say(self.rng, self.key(key), self.lang, **values)

    def said(self, key: str, **values: object) -> Said:
        """Like `say`, keeping the key used."""
        key = self.key(key)
        return Said(key, self.domain.say(self.rng, key, self.lang, **values))

    def listing(self, items: Sequence[str], sep: str = "list_sep", last: str = "list_and") -> str:
        """'A, B and C' with the domain's separators (`last` joins the final item)."""
        if len(items) == 1:
            return items[0]
        return self.say(sep).join(items[:-1]) + self.say(last) + items[-1]


# ---------------------------------------------------------------------------------------------
# plausible wrong values


def distinct_distractors(
    correct: object, candidates: Sequence[object], rng: random.Random, k: int = 3, shuffle: bool = True
) -> list[str]:
    """Pick `k` distinct distractors (as strings) different from `correct`."""
    seen = {str(correct)}
    out: list[str] = []
    pool = list(candidates)
    if shuffle:
        rng.shuffle(pool)
    for c in pool:
        s = str(c)
        if s not in seen:
            seen.add(s)
            out.append(s)
            if len(out) == k:
                return out
    raise ValueError(f"not enough distinct distractors for {correct!r} among {candidates!r}")


RINGS = ((1, 2, 3), (4, 5, 6, 8, 10, 12, 15))


def nearby(
    value: int | float,
    rng: random.Random,
    *,
    step: int | float = 1,
    rings: Sequence[Sequence[int]] = RINGS,
    lo: int | float | None = None,
    hi: int | float | None = None,
) -> list[int | float]:
    """Numbers a whole number of `step`s from `value`, within [lo, hi]: the nearest ring first,
    each ring shuffled, so the likeliest misreadings come first and vary."""
    out: list[int | float] = []
    for ring in rings:
        vs = [value + s * d * step for d in ring for s in (-1, 1)]
        vs = [
            v
            for v in dict.fromkeys(vs)
            if v != value and v not in out and (lo is None or v >= lo) and (hi is None or v <= hi)
        ]
        rng.shuffle(vs)
        out += vs
    return out


def numeric_distractors(
    value: int | float, rng: random.Random, k: int = 3, step: int | float = 1
) -> list[str]:
    """Plausible wrong numbers as written: a few steps from `value` first, further ones if needed."""
    near = nearby(value, rng, step=step, lo=0 if value >= 0 else None)
    return distinct_distractors(fmt_num(value), [fmt_num(v) for v in near], rng, k, shuffle=False)


def preferred_first(rng: random.Random, preferred: Sequence[Any], rest: Sequence[Any]) -> list[Any]:
    """`preferred` (shuffled) then the rest of `rest` (shuffled): e.g. colours in the image first."""
    a, b = list(preferred), [x for x in rest if x not in preferred]
    rng.shuffle(a)
    rng.shuffle(b)
    return a + b
