"""A deterministic stand-in rephraser for the loopback OpenAI server (tests/fake_openai.py).

It reads the augmentation request it is sent — the masked instruction, the directive and
the temperature — and builds a rewrite from them: synonym substitutions, an opening or a
closing phrase, question/command turns; higher temperatures change more. About one reply
in five is planted bad (a dropped or invented marker, a brace expression, meta-text, the
wrong language, too long or too short, an echo, an extra line, nothing) so the filters are
exercised end to end. Quoted replies and announcing first lines are planted too: those
are cleaned, not rejected. Nothing here is canned per template.
"""

from __future__ import annotations

import hashlib
import random
import re

SENTINEL = re.compile(r"\[\[[A-Z]{1,2}\]\]")
EN_SYNONYMS = {
    "image": ["picture", "photo", "photograph", "scene", "visual"],
    "picture": ["image", "photo", "scene", "shot"],
    "photo": ["picture", "image", "snapshot"],
    "describe": ["depict", "portray", "characterize", "outline"],
    "describes": ["depicts", "portrays", "refers to"],
    "description": ["account", "depiction", "summary"],
    "answer": ["reply", "response", "solution"],
    "question": ["query", "inquiry", "prompt"],
    "select": ["choose", "pick", "identify"],
    "choose": ["select", "pick", "decide on"],
    "pick": ["choose", "select"],
    "find": ["locate", "identify", "spot", "pinpoint"],
    "locate": ["find", "pinpoint", "spot"],
    "region": ["area", "zone", "section", "box"],
    "area": ["region", "section", "zone"],
    "part": ["portion", "section", "segment"],
    "show": ["display", "depict", "present"],
    "shown": ["displayed", "depicted", "visible", "presented"],
    "shows": ["displays", "depicts", "contains"],
    "tell": ["inform", "let me know", "say"],
    "write": ["compose", "produce", "draft"],
    "generate": ["produce", "create", "write"],
    "short": ["brief", "concise", "compact"],
    "brief": ["short", "concise", "succinct"],
    "briefly": ["concisely", "shortly", "in brief"],
    "correct": ["right", "accurate", "true"],
    "right": ["correct", "proper"],
    "best": ["most suitable", "most fitting", "optimal"],
    "options": ["choices", "alternatives", "candidates"],
    "choices": ["options", "alternatives"],
    "text": ["writing", "words", "lettering"],
    "read": ["transcribe", "read out", "decipher"],
    "count": ["number", "tally", "total"],
    "number": ["count", "quantity", "amount"],
    "look": ["glance", "gaze", "peer"],
    "relationship": ["relation", "connection", "link"],
    "relation": ["relationship", "connection"],
    "caption": ["title", "description", "label"],
    "content": ["contents", "subject matter", "material"],
    "matches": ["fits", "corresponds to", "agrees with"],
    "decide": ["determine", "judge", "assess"],
    "check": ["verify", "confirm", "test"],
    "explain": ["clarify", "describe", "spell out"],
    "contains": ["holds", "includes", "has"],
    "visible": ["seen", "present", "in view"],
    "give": ["provide", "supply", "offer"],
    "words": ["text", "writing", "terms"],
    "exactly": ["precisely", "verbatim", "word for word"],
}
EN_OPENINGS = [
    "Please", "Kindly", "Carefully", "Using the image,", "Looking at the picture,", "In this task,",
    "Based on what you see,", "With the image in mind,", "For this image,", "Taking a close look,",
    "Considering the photo,", "Now,", "Quickly,", "Using visual cues,",
]  # fmt: skip
EN_CLOSINGS = [
    "Be concise.", "Answer in a few words.", "Use the image to decide.", "Keep it short.",
    "Rely on the visual details.", "Give a clear reply.", "Be precise.", "Respond directly.",
    "Only use what is visible.", "One short phrase is enough.", "Avoid guessing.", "Stay factual.",
]  # fmt: skip
ZH_SYNONYMS = {
    "图片": ["图像", "画面", "照片", "这幅图"],
    "图像": ["图片", "画面", "照片"],
    "回答": ["作答", "解答", "答复"],
    "问题": ["提问", "题目"],
    "观察": ["查看", "仔细看", "端详"],
    "给出": ["提供", "写出", "说出"],
    "答案": ["结果", "回答"],
    "结合": ["依据", "参考", "根据"],
    "根据": ["依据", "参照", "结合"],
    "简要": ["简短", "扼要", "简洁"],
    "然后": ["之后", "接着", "再"],
}
ZH_OPENINGS = [
    "仔细看图，",
    "结合画面内容，",
    "请认真观察，",
    "依据这张照片，",
    "看完图片后，",
    "根据所见，",
    "先观察图像，",
]
ZH_CLOSINGS = [
    "答案要简洁。",
    "请只给出答案。",
    "尽量用一句话回答。",
    "请直接作答。",
    "回答要准确。",
    "不必展开。",
]
EN_DIRECTIVES = [
    "Rewrite it as if speaking to a curious student.",
    "Put the most important word at the start of the sentence.",
    "Phrase it as a friendly request from a colleague.",
    "Use a different verb for the main action.",
    "Turn it into a short, direct command.",
    "Add a hint about where in the image to look.",
]
ZH_DIRECTIVES = [
    "换一种更生动的说法。",
    "把最关键的词放到句首。",
    "用请求同事帮忙的语气改写。",
    "换一个不同的动词。",
]
BAD_KINDS = (
    "drop_marker", "extra_marker", "double_marker", "injection", "attribute", "index", "conversion",
    "format_spec", "meta", "label", "meta_zh", "translate", "long", "short", "echo", "extra_line", "empty",
)  # fmt: skip
SALVAGE_KINDS = ("quoted", "announced")


def _rng(*parts: object) -> random.Random:
    return random.Random(hashlib.sha256("\x00".join(map(str, parts)).encode()).hexdigest())


def respond(req: dict) -> str:
    """The reply to one chat request (the FakeOpenAI `responder` hook)."""
    user = req["messages"][-1]["content"]
    temp = float(req.get("temperature", 1.0))
    if user.startswith(("Here are directives", "以下是在保持")):
        return _proposals(user, temp)
    zh = "指令：\n" in user
    m = re.search(r"(?:Instruction:|指令：)\n(.*)\Z", user, re.S)
    if m is None:
        return "I cannot tell what to rewrite."
    instr = m.group(1).strip()
    directive = re.search(r"(?:Directive:|改写要求：)\s*(.*)", user)
    directive_text = directive.group(1) if directive else ""
    rng = _rng(user, temp)
    good = _rewrite_zh(instr, rng, temp) if zh else _rewrite_en(instr, rng, temp, directive_text)
    roll = rng.random()
    if roll < 0.2:
        return _bad(rng.choice(BAD_KINDS), instr, good, zh, rng)
    if roll < 0.26:
        kind = rng.choice(SALVAGE_KINDS)
        return f'"{good}"' if kind == "quoted" else ("Here is the rewritten instruction:\n" + good)
    return good


def _rewrite_en(instr: str, rng: random.Random, temp: float, directive: str) -> str:
    p = 0.25 + 0.5 * temp

    def swap(m: re.Match[str]) -> str:
        w = m.group(0)
        alts = EN_SYNONYMS.get(w.lower())
        if w.startswith(("[[", "<")) or not alts or rng.random() >= p:
            return w
        alt = rng.choice(alts)
        return alt.capitalize() if w[0].isupper() else alt

    text = re.sub(r"\[\[[A-Z]{1,2}\]\]|<[^<>\s]+>|[A-Za-z]+", swap, instr)
    marker = re.match(r"^(<[^<>\s]+>\s*)", text)
    lead, text = (marker.group(1), text[marker.end() :]) if marker else ("", text)
    lowered = directive.lower()
    if "question" in lowered and not text.rstrip().endswith("?") and rng.random() < 0.6:
        text = "Could you " + _lower_first(text.rstrip(". ")) + "?"
    elif "command" in lowered and text.rstrip().endswith("?") and rng.random() < 0.6:
        text = "Work this out: " + text
    elif rng.random() < 0.3:
        text = _swap_sentences(text)
    if rng.random() < 0.3 + 0.4 * temp:
        first = text[:1] if text.startswith("[[") else text[:1].lower()
        text = f"{rng.choice(EN_OPENINGS)} {first}{text[1:]}"
    if rng.random() < 0.2 + 0.4 * temp:
        text = text.rstrip() + " " + rng.choice(EN_CLOSINGS)
    return (lead + text).strip()


def _rewrite_zh(instr: str, rng: random.Random, temp: float) -> str:
    text = instr
    p = 0.3 + 0.5 * temp
    for word, alts in ZH_SYNONYMS.items():
        if word in text and rng.random() < p:
            text = text.replace(word, rng.choice(alts), 1)
    if rng.random() < 0.3 + 0.4 * temp:
        text = rng.choice(ZH_OPENINGS) + text
    if rng.random() < 0.2 + 0.3 * temp:
        text = text.rstrip() + rng.choice(ZH_CLOSINGS)
    return text


def _bad(kind: str, instr: str, good: str, zh: str | bool, rng: random.Random) -> str:
    markers = SENTINEL.findall(good)
    if kind == "drop_marker" and markers:
        return good.replace(markers[0], "it", 1)
    if kind in ("drop_marker", "extra_marker"):
        return good + " [[Q]]"
    if kind == "double_marker" and markers:
        return good + " " + markers[0]
    if kind == "injection":
        return good + " {__import__('os').system('echo pwned > /tmp/visinstruct-pwned')}"
    if kind == "attribute":
        return good + " {question.__class__}"
    if kind == "index":
        return good + " {options[0]}"
    if kind == "conversion":
        return good + " {x!r}"
    if kind == "format_spec":
        return good + " {x:>10}"
    if kind == "meta":
        return "Sure! Here is the rephrased sentence: " + good
    if kind == "label":
        return "Rephrased: " + good
    if kind == "meta_zh":
        return "以下是改写后的指令：" + good
    if kind == "translate":
        tail = " ".join(markers)
        return f"Please look at the image and answer. {tail}".strip() if zh else f"请看图片并认真回答。{tail}"
    if kind == "long":
        filler = (
            "，请花足够的时间把画面的每一个角落都仔细看一遍，考虑所有细节之后再给出你的回答"
            if zh
            else " Take your time, look at every corner of the picture carefully, consider each and every"
            " detail you can find, compare the possibilities, and only then respond with your final answer."
        )
        return good.rstrip("。.") + filler
    if kind == "short" and len(instr) > 30:
        return " ".join(markers) + (" 好" if zh else " ok")
    if kind == "extra_line":
        return good + ("\n这样改写保留了原意。" if zh else "\nThis keeps the original meaning.")
    if kind == "empty":
        return "   "
    return instr  # echo: the instruction unchanged


def _proposals(user: str, temp: float) -> str:
    rng = _rng(user, temp)
    pool = ZH_DIRECTIVES if user.startswith("以下是") else EN_DIRECTIVES
    chosen = rng.sample(pool, min(len(pool), 4))
    return "\n".join(f"{i}. {d}" for i, d in enumerate(chosen, 1)) + "\n{not a directive}"


def _lower_first(text: str) -> str:
    return text if text.startswith(("[[", "<")) else text[:1].lower() + text[1:]


def _swap_sentences(text: str) -> str:
    parts = re.split(r"(?<=[.?!])\s+", text.strip())
    if len(parts) >= 2:
        return " ".join(parts[1:] + parts[:1])
    return text
