"""A dataset image's ground truth → finished samples of the four instruction types, without a model.

Each `Truth` (one question with its exact answer) becomes:

- **short_vqa**: the question, answered with the normalised answer itself (`short_answer` is
  the ground truth). Skipped when the answer is longer than a short answer may be (more than
  8 words, 20 characters in Chinese: the `length` rule's bounds), as for long choice texts;
- **judgement**: a pair, "<question> Is the answer X?", once with the right answer (yes) and
  once with a plausibly wrong one (no): the first distractor below. A yes/no question is
  already a judgement: it is asked as it is, with its own answer (the dataset's balance);
- **multiple_choice**: four options, the right one placed by `drafts.finish` (letters balanced
  over every block of four images). The three others are the dataset's own choices when it
  has at least three more (chosen at random, seeded); a question without choices is padded
  with nearby numbers for a numeric answer, else with other answers of the same dataset and
  category met before it (`pool`) and the image's other answers. A question with only two or
  three choices of its own (linear/nonlinear) gets no multiple-choice sample: options made up
  beside the dataset's own would not be plausible; its judgement pair asks about the other
  choice. Yes/no questions are asked as "Which of these questions about the image has the
  answer yes?" over the image's own questions (one answered yes, three no, or the reverse),
  when the image has enough of them;
- **long_vqa**: the question with "explain step by step", answered with the dataset's solution
  (its steps, also kept in `context["explanation"]`), then the final answer in a second turn.
  Questions without a solution are asked together as one conversation about the image, up to
  four a conversation; a lone question without a solution is answered and then its choices
  weighed (which one is right, which are not), and without choices has no long sample.

Every sample is in the record's own language (GeoQA+ is Chinese), with wrappers from
`phrasings.yaml`; `context["facts"]` holds the exact ground truth (question, answer, kind,
choices, unit and the dataset's own facts), and provenance the dataset, split, question id,
license and the answer as the file has it (`answer_raw`).

A `Dialogue` (an already-written sample) becomes one sample with its turns verbatim; its
generator is `import/<dataset>` (written by someone else: the dataset-wide duplicate search
looks at it), where samples made from ground truth are `dataset/<dataset>`.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Sequence
from fractions import Fraction
from functools import cache
from importlib import resources
from typing import Any

import yaml

from visinstruct import __version__
from visinstruct.drafts import GENERATOR_VERSION, finish
from visinstruct.expand.base import DatasetImage, Dialogue, Truth
from visinstruct.records import Sample, Turn, sample_id
from visinstruct.synth.base import Question
from visinstruct.templates import render

TYPES = ("judgement", "multiple_choice", "short_vqa", "long_vqa")
SHORT_MAX = {"en": 8, "zh": 20}  # the `length` rule's default bounds of a short answer
CHAT_TURNS = 4  # questions without a solution per long conversation
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_WORD = re.compile(r"[\u3400-\u9fff]|[^\W_\u3400-\u9fff]+")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_FRACTION = re.compile(r"(-?\d+)/(\d+)")


@cache
def phrasings() -> dict[str, dict[str, list[str]]]:
    text = resources.files("visinstruct.expand").joinpath("phrasings.yaml").read_text("utf-8")
    return yaml.load(text, Loader=_LOADER)


def say(rng: random.Random, key: str, lang: str, **values: object) -> str:
    variants = phrasings()[key]
    return render(rng.choice(variants.get(lang) or variants["en"]), values)


def generator(dataset: str) -> str:
    """The `generator` of the samples made from a dataset's ground truth: exact, like drawn ones
    (duplicates are looked for among one image's samples, where they are made)."""
    return f"dataset/{dataset}"


def importer(dataset: str) -> str:
    """The `generator` of a dataset's already-written samples: checked like a model's, the
    dataset-wide duplicate search included."""
    return f"import/{dataset}"


def _norm(text: str) -> str:
    return " ".join(str(text).casefold().split())


def shown(t: Truth) -> str:
    """The answer as a sentence shows it: with its unit ("$8.2", "10 pounds")."""
    if not t.unit or t.kind != "number":
        return t.answer
    return f"{t.unit}{t.answer}" if t.unit in ("$", "€", "£", "¥") else f"{t.answer} {t.unit}"


def nearby_numbers(answer: str, rng: random.Random) -> list[str]:
    """Plausible wrong numbers near `answer`, written like it (same decimals; fractions stay
    fractions); [] when the answer is not a plain number."""
    m = _FRACTION.fullmatch(answer.strip())
    if m:
        num, den = int(m.group(1)), int(m.group(2))
        out = []
        for dn, dd in ((1, 0), (-1, 0), (0, 1), (0, -1), (2, 0), (1, 1)):
            n2, d2 = num + dn, den + dd
            if d2 > 0 and n2 != 0 and Fraction(n2, d2) != Fraction(num, den):
                out.append(f"{n2}/{d2}")
        rng.shuffle(out)
        return out
    if not _NUMBER.fullmatch(answer.strip()):
        return []
    text = answer.strip()
    places = len(text.split(".")[1]) if "." in text else 0
    value = float(text)
    step = 10**-places if places else 1
    mag = max(step, round(abs(value) * 0.1, places)) if value else step
    deltas = [step, -step, 2 * step, -2 * step, mag, -mag, 3 * step, 10 * step]
    out, seen = [], {text}
    for d in deltas:
        v = value + d
        if value >= 0 and v < 0:
            continue
        s = (f"{v:.{places}f}".rstrip("0").rstrip(".") or "0") if places else str(round(v))
        if s not in seen:
            seen.add(s)
            out.append(s)
    head, tail = out[:4], out[4:]  # the closest first, in a seeded order
    rng.shuffle(head)
    rng.shuffle(tail)
    return head + tail


def distractors(t: Truth, others: Sequence[str], pool: Sequence[str], rng: random.Random) -> list[str]:
    """Wrong answers for `t`, the most plausible first: its own choices, then nearby numbers
    (numeric answers), then answers of the same category elsewhere in the dataset (`pool`) and
    the image's other answers (`others`)."""
    seen = {_norm(t.answer)}
    out: list[str] = []

    def add(values: Iterable[str]) -> None:
        for v in values:
            v = str(v).strip()
            if v and _norm(v) not in seen:
                seen.add(_norm(v))
                out.append(v)

    own = [c for c in t.choices if _norm(c) != _norm(t.answer)]
    rng.shuffle(own)
    add(own)
    if t.kind == "number":
        add(nearby_numbers(t.answer, rng))
    if not t.choices:
        same_kind = [p for p in pool if (_NUMBER.fullmatch(p) is not None) == (t.kind == "number")]
        rng.shuffle(same_kind)
        add(same_kind)
        rest = list(others)
        rng.shuffle(rest)
        add(rest)
    return out


def _short_enough(answer: str, lang: str) -> bool:
    return len(_WORD.findall(answer)) <= SHORT_MAX.get(lang, 8)


def drafts(
    t: Truth, others: Sequence[str], pool: Sequence[str], rng: random.Random, types: set[str]
) -> list[Question]:
    """The draft questions of one `Truth` (see the module docstring)."""
    lang, cat, out = t.lang, t.category, []
    wrong = distractors(t, others, pool, rng) if t.kind != "yes_no" else []
    if "judgement" in types:
        if t.kind == "yes_no":
            out.append(
                Question("judgement", cat, [(t.question, "")], truth=t.answer == "yes", phrasing="own")
            )
        elif wrong:
            pair = [(shown(t), True), (shown(Truth("", "", wrong[0], None, t.kind, unit=t.unit)), False)]
            rng.shuffle(pair)
            for answer, truth in pair:
                q = say(rng, "judge", lang, question=t.question, answer=answer)
                out.append(Question("judgement", cat, [(q, "")], truth=truth, phrasing="judge"))
    own_few = 0 < len(t.choices) < 4
    if "multiple_choice" in types and t.kind != "yes_no" and not own_few and len(wrong) >= 3:
        out.append(
            Question("multiple_choice", cat, [(t.question, "")], correct=t.answer, distractors=wrong[:3])
        )
    if "short_vqa" in types and _short_enough(t.answer, lang):
        out.append(Question("short_vqa", cat, [(t.question, t.answer)], short_answer=t.answer))
    if "long_vqa" in types and t.solution:
        steps = "\n".join(s.strip() for s in t.solution if s.strip())
        out.append(
            Question(
                "long_vqa",
                cat,
                [
                    (say(rng, "long_ask", lang, question=t.question), steps),
                    (say(rng, "long_final_ask", lang), say(rng, "final_answer", lang, answer=shown(t))),
                ],
                phrasing="long_ask",
            )
        )
    return out


def facts_of(t: Truth) -> dict[str, Any]:
    """The exact ground truth of one question, as a sample's `context["facts"]`."""
    f: dict[str, Any] = {"question": t.question, "answer": t.answer, "kind": t.kind}
    if t.choices:
        f["choices"] = list(t.choices)
    if t.unit:
        f["unit"] = t.unit
    f.update(t.facts)
    return f


def samples(
    image: DatasetImage,
    image_ids: list[str],
    *,
    index: int,
    seed: str,
    pool: dict[str, Sequence[str]] | None = None,
    types: Iterable[str] = TYPES,
    domain: str | None = None,
) -> list[Sample]:
    """Every sample of one dataset image. `index` is the image's place among the dataset's
    images (it places answer letters); `pool` maps a category to answers met before this image
    (distractors); `seed` fixes the wording. The same arguments give the same samples."""
    wanted = set(types)
    domain = domain or image.domain
    base_prov = {
        **image.provenance,
        "generator": generator(image.dataset),
        "generator_version": GENERATOR_VERSION,
        "engine": __version__,
        "dataset": image.dataset,
        "split": image.split,
        "license": image.license,
        "unit": image.ref,
    }
    stream = f"{image.dataset}:{image.split}"
    ordinals: dict[tuple[str, str], int] = {}
    out: list[Sample] = []

    def emit(q: Question, lang: str, prov: dict[str, Any], context: dict[str, Any]) -> None:
        key = (lang, q.type)
        n = ordinals.get(key, 0)
        ordinals[key] = n + 1
        rng = random.Random(f"{seed}:{lang}:{q.type}:{n}")
        s = finish(
            q,
            rng=rng,
            lang=lang,
            domain=domain,
            image_ids=image_ids,
            stream=f"{stream}/{lang}",
            index=index,
            ordinal=n,
            provenance=prov,
            context=context,
        )
        out.append(s)

    answers = [t.answer for t in image.questions]
    pool = pool or {}
    for t in image.questions:
        rng = random.Random(f"{seed}:{t.qid}")
        others = [a for a in answers if _norm(a) != _norm(t.answer)]
        prov = {**base_prov, "qid": t.qid, "answer_raw": t.answer_raw}
        facts = facts_of(t)
        for q in drafts(t, others, pool.get(t.category, ()), rng, wanted):
            context: dict[str, Any] = {"facts": facts}
            if q.type == "long_vqa":
                context["explanation"] = q.turns[0][1]
            emit(q, t.lang, prov, context)
    for lang in dict.fromkeys(t.lang for t in image.questions):
        mine = [t for t in image.questions if t.lang == lang]
        rng = random.Random(f"{seed}:{lang}:image")
        if "multiple_choice" in wanted:
            for q, used in _which_questions(mine, rng):
                prov = {**base_prov, "qids": [t.qid for t in used]}
                emit(q, lang, prov, {"facts": {"questions": [facts_of(t) for t in used]}})
        if "long_vqa" in wanted:
            for q, used in _conversations(mine, rng):
                prov = {**base_prov, "qids": [t.qid for t in used]}
                emit(q, lang, prov, {"facts": {"questions": [facts_of(t) for t in used]}})
    return out


def _which_questions(truths: list[Truth], rng: random.Random) -> list[tuple[Question, list[Truth]]]:
    """ "Which of these questions has the answer yes (no)?" over an image's yes/no questions."""
    yes = _distinct([t for t in truths if t.kind == "yes_no" and t.answer == "yes"])
    no = _distinct([t for t in truths if t.kind == "yes_no" and t.answer == "no"])
    out = []
    for key, one, three in (("which_yes", yes, no), ("which_no", no, yes)):
        if one and len(three) >= 3:
            right = rng.choice(one)
            wrong = rng.sample(three, 3)
            q = Question(
                "multiple_choice",
                right.category,
                [(say(rng, key, right.lang), "")],
                correct=right.question,
                distractors=[t.question for t in wrong],
                phrasing=key,
            )
            out.append((q, [right, *wrong]))
    return out


def _conversations(truths: list[Truth], rng: random.Random) -> list[tuple[Question, list[Truth]]]:
    """The image's questions without a solution, asked together, up to CHAT_TURNS a conversation."""
    plain = _distinct([t for t in truths if not t.solution])
    out = []
    for i in range(0, len(plain), CHAT_TURNS):
        chunk = plain[i : i + CHAT_TURNS]
        if len(chunk) < 2:
            if i == 0 and chunk[0].choices:  # a lone question: answered, then its choices weighed
                out.append((_weighed(chunk[0], rng), chunk))
            break
        turns = [(t.question, say(rng, "chat_answer", t.lang, answer=shown(t))) for t in chunk]
        out.append((Question("long_vqa", chunk[0].category, turns, phrasing="chat_answer"), chunk))
    return out


def _weighed(t: Truth, rng: random.Random) -> Question:
    """A question without a solution, alone on its image: answered, then the dataset's choices
    weighed against the answer (which one it is, which are not)."""
    sep = "、" if t.lang == "zh" else ", "
    wrong = [c for c in t.choices if _norm(c) != _norm(t.answer)]
    turns = [
        (t.question, say(rng, "chat_answer", t.lang, answer=shown(t))),
        (
            say(rng, "choices_ask", t.lang, choices=sep.join(t.choices)),
            say(rng, "choices_weighed", t.lang, answer=t.answer, wrong=sep.join(wrong)),
        ),
    ]
    return Question("long_vqa", t.category, turns, phrasing="choices_weighed")


def _distinct(truths: list[Truth]) -> list[Truth]:
    """One truth per question text (a conversation or option list never repeats a question)."""
    seen: dict[str, Truth] = {}
    for t in truths:
        seen.setdefault(_norm(t.question), t)
    return list(seen.values())


def dialogue_sample(
    image: DatasetImage, d: Dialogue, image_ids: list[str], domain: str | None = None
) -> Sample:
    """An already-written sample, its turns as they are."""
    prov = {
        **image.provenance,
        "generator": importer(image.dataset),
        "engine": __version__,
        "dataset": image.dataset,
        "split": image.split,
        "license": image.license,
        "unit": image.ref,
        "qid": d.qid,
    }
    domain = domain or image.domain
    sid = sample_id(*image_ids, domain, d.type, d.lang, "dialogue", image.ref, d.qid)
    return Sample(
        id=sid,
        images=list(image_ids),
        domain=domain,
        type=d.type,
        language=d.lang,
        turns=[Turn(q, a) for q, a in d.turns],
        options=list(d.options),
        answer_letter=d.answer_letter,
        short_answer=d.short_answer,
        category=d.category,
        provenance=prov,
    )
