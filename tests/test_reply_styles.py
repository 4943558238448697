"""The reply-style server: each style is written as specified, and what the server meant is
recorded so that a sample an engine accepts can be compared with it (bench/replies.py).

Requests are the engine's own (its request builders, bodies from `ModelClient.request_body`)
sent with the official SDK, so the server is tested on what the engine really sends."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request

import openai
import orjson
import pytest
from PIL import Image
from reply_styles import NO_FORMS, STYLES, YES_FORMS, Intents, StyleServer

from visinstruct.aio import run_async
from visinstruct.checks.verify import judge_request, verify_request
from visinstruct.domains import builtin_domains
from visinstruct.generate.caption import caption_request
from visinstruct.generate.instruct import instruction_request, samples_from
from visinstruct.generate.schemas import SCHEMAS, domain_choice
from visinstruct.models import structured
from visinstruct.models.client import ChatRequest, ModelClient
from visinstruct.models.endpoints import Endpoint
from visinstruct.models.images import ImageEncoder, sha256_file
from visinstruct.prompts import load_prompt
from visinstruct.records import LETTERS, Sample, Turn

COUNTS = {"judgement": 4, "multiple_choice": 3, "short_vqa": 3, "long_vqa": 3}
CATALOG = builtin_domains()
DOMAIN = CATALOG["landmark"] if "landmark" in CATALOG else next(iter(CATALOG.values()))


@pytest.fixture(scope="module")
def server():
    with StyleServer() as s:
        yield s


@pytest.fixture(scope="module")
def picture(tmp_path_factory):
    path = tmp_path_factory.mktemp("img") / "a.png"
    Image.new("RGB", (64, 48), (200, 120, 40)).save(path)
    return path


class Engine:
    """Sends the engine's requests to the server and reads the raw replies."""

    def __init__(self, server: StyleServer, picture, mode: str = "json_schema"):
        self.server, self.picture, self.sha = server, picture, sha256_file(picture)
        self.sdk = openai.OpenAI(base_url=server.base_url, api_key=server.api_key, max_retries=0)
        common = {"base_url": server.base_url, "provider": "vllm", "api_key_env": "REPLY_STYLES_KEY"}
        self.eps = {
            "llm": Endpoint(name="llm", model="fake-model", structured=mode, **common),
            "vlm": Endpoint(name="vlm", model="fake-vlm", image_max_side=64, **common),
        }

    def body(self, req: ChatRequest) -> dict:
        async def go() -> bytes:
            client = ModelClient(list(self.eps.values()), encoder=ImageEncoder(workers=0))
            ep = self.eps[req.endpoint]
            await client.open_endpoint(ep)
            try:
                return await client.request_body(req, ep)
            finally:
                await client.aclose()

        return orjson.loads(run_async(go()))

    def send(self, req: ChatRequest, **override):
        """The first choice of the reply (message.content, message.refusal, finish_reason)."""
        return self.sdk.chat.completions.create(**{**self.body(req), **override}).choices[0]

    # the engine's requests -----------------------------------------------------------------------
    def caption(self, lang: str = "en") -> ChatRequest:
        return caption_request(
            load_prompt("caption"),
            image=str(self.picture),
            image_id=self.sha,
            lang=lang,
            endpoint="vlm",
            domain=None,
            known_text=None,
            max_tokens=700,
            temperature=0.2,
        )

    def instructions(self, itype: str, context: str, lang: str = "en") -> ChatRequest:
        return instruction_request(
            load_prompt("instructions"),
            itype=itype,
            lang=lang,
            domain=DOMAIN,
            context=context,
            knowledge=None,
            seeds=[],
            count=COUNTS[itype],
            endpoint="llm",
            max_tokens=1200,
            temperature=0.7,
        )

    def domain(self, caption: str) -> ChatRequest:
        p, names = load_prompt("assign_domain"), sorted(CATALOG)
        listing = "\n".join(f"- {n}: {CATALOG[n].description.en}" for n in names)
        return ChatRequest(
            [
                {"role": "system", "content": p.text("system", lang="en")},
                {"role": "user", "content": p.text("user", lang="en", caption=caption, domains=listing)},
            ],
            endpoint="llm",
            params={"max_tokens": 50, "temperature": 0.0},
            schema=domain_choice(names),
        )

    def samples(self, itype: str, content: str, caption: str) -> list:
        """Samples made by the engine from a reply read naively (the JSON exactly as written)."""
        value = SCHEMAS[itype].model_validate(json.loads(content))
        return list(
            samples_from(
                itype,
                value,
                image_ids=[self.sha],
                domain=DOMAIN.name,
                lang="en",
                index=0,
                prompt=load_prompt("instructions"),
                provenance={},
                context={"caption": caption},
            )
        )


@pytest.fixture
def engine(server, picture, monkeypatch):
    monkeypatch.setenv("REPLY_STYLES_KEY", server.api_key)
    return Engine(server, picture)


def clean_replies(server: StyleServer, engine: Engine) -> tuple[str, dict[str, dict]]:
    """The clean caption and the clean JSON object of each instruction type."""
    server.configure("clean")
    caption = engine.send(engine.caption()).message.content
    return caption, {
        t: json.loads(engine.send(engine.instructions(t, caption)).message.content) for t in COUNTS
    }


def test_the_table_has_every_style_the_benchmark_needs():
    need = {
        "clean", "chatter", "trailing_commas", "python_dict", "fullwidth", "zh_keys", "truncated", "tags",
        "refusal", "refusal_field", "think", "numbers", "bare_array", "prefixed_options", "letter_forms",
        "yesno_forms", "contradiction", "verify_prose", "verify_think", "verify_answer_is", "verify_judge",
        "caption_refusal", "caption_truncated", "caption_preamble",
    }  # fmt: skip
    assert need <= set(STYLES) and len(STYLES) >= 18
    assert all(s.about and (s.kinds or s.name == "clean") for s in STYLES.values())


def test_clean_replies_are_what_the_server_means(server, engine):
    caption, objs = clean_replies(server, engine)
    meant = server.intended()
    assert meant["captions"] == [caption] and len(caption.split()) > 60
    for itype, obj in objs.items():
        SCHEMAS[itype].model_validate(obj)  # valid as asked
    assert [len(objs[t]["questions"]) for t in ("judgement", "multiple_choice", "short_vqa")] == [4, 3, 3]
    assert len(objs["long_vqa"]["rounds"]) == 3
    for q in objs["multiple_choice"]["questions"]:
        item = meant["questions"][q["question"]]
        assert q["options"] == item["options"] and q["answer"] == LETTERS[item["correct"]]
        assert item["options"][item["correct"]] in q["explanation"]
    truths = [meant["questions"][q["question"]]["truth"] for q in objs["judgement"]["questions"]]
    assert [q["answer"] for q in objs["judgement"]["questions"]] == truths and sorted(truths) == [
        "no",
        "no",
        "yes",
        "yes",
    ]
    domain = json.loads(engine.send(engine.domain(caption)).message.content)["domain"]
    assert domain in CATALOG and server.intended()["domains"] == [{"caption": caption, "domain": domain}]


def as_written(itype: str, obj: dict, caption: str) -> list[Sample]:
    """Samples that keep a reply's options, letters and yes/no exactly as written (what an
    engine reading replies naively would accept), made without the engine."""
    out = []
    for n, q in enumerate(obj["questions"]):
        turn, extra = Turn(q["question"], str(q["answer"])), {"short_answer": str(q["answer"])}
        if itype == "multiple_choice":
            lines = "\n".join(f"{LETTERS[k]}. {o}" for k, o in enumerate(q["options"]))
            turn = Turn(f"{q['question']}\n{lines}\nAnswer with the option's letter.", q["answer"])
            chosen = q["options"][LETTERS.index(q["answer"])]
            extra = {"options": q["options"], "answer_letter": q["answer"], "short_answer": chosen}
        out.append(
            Sample(
                f"s{n}", ["img"], DOMAIN.name, itype, "en", [turn],
                context={"caption": caption}, **extra,
            )
        )  # fmt: skip
    return out


def _tags(content: str) -> list[dict]:
    out = []
    for n, q in re.findall(r"<Q(\d+)> (.*?) </Q\1>", content):
        c = re.search(rf"<C{n}> (.*?) </C{n}>", content)
        a = re.search(rf"<A{n}> (.*?) </A{n}>", content, re.S)
        opts = re.split(r"\s*[A-D]\. ", " " + c.group(1))[1:] if c else None
        out.append({"question": q, "options": opts, "answer": a.group(1) if a else None})
    return out


# How to get the clean object back from each writer's reply (never by evaluating it).
DECODE = {
    "chatter": lambda t: json.loads(re.search(r"```json\n(.*?)\n```", t, re.S).group(1)),
    "trailing_commas": lambda t: json.loads(re.sub(r",(\s*[\]}])", r"\1", t)),
    "fullwidth": lambda t: json.loads(t.replace("：", ":").replace("，", ",")),
    "think": lambda t: json.loads(t.split("</think>", 1)[1]),
    "bare_array": lambda t: {"questions": json.loads(t)},
}


@pytest.mark.parametrize(
    "style", ["chatter", "trailing_commas", "python_dict", "fullwidth", "think", "bare_array"]
)
def test_each_writer_writes_the_same_object_its_own_way(server, engine, style):
    caption, objs = clean_replies(server, engine)
    server.configure(style, reset=False)
    text = engine.send(engine.instructions("multiple_choice", caption)).message.content
    with pytest.raises((ValueError, AssertionError)):  # not the clean reply
        assert json.loads(text) == objs["multiple_choice"]
    if style == "python_dict":
        assert text == repr(objs["multiple_choice"]) and "'questions': [{'question'" in text
        return
    assert DECODE[style](text) == objs["multiple_choice"]
    if style == "think":
        inside = text.split("</think>")[0]
        draft = json.JSONDecoder().raw_decode(inside, inside.index("{"))[0]
        said = [q["answer"] for q in draft["questions"]]
        assert said != [q["answer"] for q in objs["multiple_choice"]["questions"]]  # a wrong draft first
    if style == "trailing_commas":
        assert re.search(r",\n\s*\]", text) and re.search(r",\n\s*\}", text)


def test_chinese_keys_and_tags(server, engine):
    caption, objs = clean_replies(server, engine)
    server.configure("zh_keys", reset=False)
    zh = json.loads(engine.send(engine.instructions("multiple_choice", caption)).message.content)
    first, want = zh["题目"][0], objs["multiple_choice"]["questions"][0]
    assert (first["问题"], first["选项"], first["答案"]) == (
        want["question"],
        want["options"],
        want["answer"],
    )
    server.configure("tags", reset=False)
    for itype in ("multiple_choice", "judgement", "long_vqa"):
        text = engine.send(engine.instructions(itype, caption)).message.content
        assert "{" not in text and text.startswith("<Q1> ")
        read = _tags(text)
        if itype == "long_vqa":
            assert [r["question"] for r in read] == [r["question"] for r in objs[itype]["rounds"]]
            continue
        clean = objs[itype]["questions"]
        assert [r["question"] for r in read] == [q["question"] for q in clean]
        if itype == "multiple_choice":
            assert [(r["options"], r["answer"]) for r in read] == [(q["options"], q["answer"]) for q in clean]
        else:
            assert [r["answer"].lower() for r in read] == [q["answer"] for q in clean]


def test_a_truncated_reply_is_whole_when_asked_again_with_more_room(server, engine):
    caption, objs = clean_replies(server, engine)
    server.configure("truncated", reset=False)
    req = engine.instructions("short_vqa", caption)
    full = json.dumps(objs["short_vqa"], ensure_ascii=False)
    for _ in range(2):  # the same max_tokens: cut again
        cut = engine.send(req)
        assert cut.finish_reason == "length" and full.startswith(cut.message.content)
        assert len(cut.message.content) < len(full)
    whole = engine.send(req, max_tokens=2400)
    assert whole.finish_reason == "stop" and whole.message.content == full
    server.configure("caption_truncated", reset=False)
    assert engine.send(engine.caption()).finish_reason == "length"
    assert engine.send(engine.caption(), max_tokens=1400).message.content == caption
    stats = server.snapshot()["styles"]
    assert stats["cut"] == {"short_vqa": 2, "caption": 1} and stats["more_room"] == {
        "short_vqa": 1,
        "caption": 1,
    }


def test_refusals_in_text_and_in_the_refusal_field(server, engine):
    caption, _ = clean_replies(server, engine)
    server.configure("refusal", reset=False)
    for req in (engine.instructions("judgement", caption), engine.domain(caption)):
        reply = engine.send(req)
        assert reply.message.content.startswith("I'm sorry") and reply.finish_reason == "stop"
    server.configure("refusal_field", reset=False)
    reply = engine.send(engine.instructions("judgement", caption))
    assert reply.message.content is None and reply.message.refusal.startswith("I'm sorry")
    server.configure("caption_refusal", reset=False)
    assert engine.send(engine.caption()).message.content.startswith("I'm sorry")
    assert server.snapshot()["styles"]["refused"] == {"judgement": 2, "domain": 1, "caption": 1}


def _letter_meant(answer: str, options: list[str]) -> str:
    """What a letter form denotes, read by hand for the test."""
    if answer in options:
        return LETTERS[options.index(answer)]
    m = re.fullmatch(r"\(?([A-Da-d])\)?\.?|Option ([A-D])|选([A-D])|([A-D])\. .+", answer)
    return next(g for g in m.groups() if g).upper()


def test_value_forms(server, engine):
    caption, objs = clean_replies(server, engine)
    meant = server.intended()["questions"]
    server.configure("numbers", reset=False)
    mc = json.loads(engine.send(engine.instructions("multiple_choice", caption)).message.content)
    short = json.loads(engine.send(engine.instructions("short_vqa", caption)).message.content)
    assert all(isinstance(o, int) for o in mc["questions"][0]["options"])  # the counting question
    assert [str(o) for o in mc["questions"][0]["options"]] == objs["multiple_choice"]["questions"][0][
        "options"
    ]
    assert isinstance(short["questions"][0]["answer"], int)
    assert str(short["questions"][0]["answer"]) == objs["short_vqa"]["questions"][0]["answer"]

    server.configure("prefixed_options", reset=False)
    mc = json.loads(engine.send(engine.instructions("multiple_choice", caption)).message.content)
    for q in mc["questions"]:
        item = meant[q["question"]]
        for letter, shown, plain in zip(LETTERS, q["options"], item["options"], strict=True):
            full = "ＡＢＣＤ"[LETTERS.index(letter)]
            assert re.fullmatch(rf"\(?[{letter}{full}][.)．、]? ?\)? ?{re.escape(plain)}", shown), shown

    server.configure("letter_forms", reset=False)
    mc = json.loads(engine.send(engine.instructions("multiple_choice", caption)).message.content)
    assert any(q["answer"] not in LETTERS for q in mc["questions"])
    for q in mc["questions"]:
        item = meant[q["question"]]
        assert _letter_meant(q["answer"], item["options"]) == LETTERS[item["correct"]]

    server.configure("yesno_forms", reset=False)
    judged = json.loads(engine.send(engine.instructions("judgement", caption)).message.content)
    assert any(q["answer"] not in ("yes", "no") for q in judged["questions"])
    for q in judged["questions"]:
        assert q["answer"] in (YES_FORMS if meant[q["question"]]["truth"] == "yes" else NO_FORMS)


def test_a_contradicting_answer_keeps_the_explanation_the_server_means(server, engine):
    caption, _ = clean_replies(server, engine)
    meant = server.intended()["questions"]
    server.configure("contradiction", reset=False)
    mc = json.loads(engine.send(engine.instructions("multiple_choice", caption)).message.content)
    for q in mc["questions"]:
        item = meant[q["question"]]
        right = item["options"][item["correct"]]
        assert q["answer"] != LETTERS[item["correct"]] and right in q["explanation"]
        assert not any(o in q["explanation"] for o in item["options"] if o != right)
    judged = json.loads(engine.send(engine.instructions("judgement", caption)).message.content)
    for q in judged["questions"]:
        truth = meant[q["question"]]["truth"]
        assert q["answer"] != truth and q["reason"].startswith("Yes" if truth == "yes" else "No")
    assert server.intended()["questions"] == meant  # the style never changes what is meant


def test_intents_flag_every_sample_that_is_not_what_the_server_meant(server, engine):
    """What the benchmark counts: a naive reading of the replies gives samples the
    comparison must flag, and the clean reading gives samples it must pass."""
    caption, objs = clean_replies(server, engine)
    intents = Intents(server.intended())
    clean = [s for t in COUNTS for s in engine.samples(t, json.dumps(objs[t]), caption)]
    assert len(clean) == 11 and [intents.wrong(s) for s in clean] == [None] * 11

    server.configure("contradiction", reset=False)
    for itype in ("judgement", "multiple_choice"):
        text = engine.send(engine.instructions(itype, caption)).message.content
        made = as_written(itype, json.loads(text), caption)
        assert len(made) == COUNTS[itype] and all("the server meant" in intents.wrong(s) for s in made)
    server.configure("prefixed_options", reset=False)
    text = engine.send(engine.instructions("multiple_choice", caption)).message.content
    made = as_written("multiple_choice", json.loads(text), caption)
    assert made and all("keep their letters" in intents.wrong(s) for s in made)

    server.configure("caption_preamble", reset=False)
    preamble = engine.send(engine.caption()).message.content
    sample = clean[0]
    sample.context = {"caption": preamble}
    assert "more than the server meant" in intents.wrong(sample)
    sample.context = {"caption": "I'm sorry, but I can't help with describing this image."}
    assert "never meant" in intents.wrong(sample)
    sample.context = {"caption": caption}
    server.configure("clean", reset=False)
    domain = json.loads(engine.send(engine.domain(caption)).message.content)["domain"]
    sample.domain = next(n for n in CATALOG if n != domain)
    assert "the server meant" in Intents(server.intended()).wrong(sample)
    sample.domain = domain
    assert Intents(server.intended()).wrong(sample) is None
    sample.turns[0].question = "Is the sky green?"
    assert "never asked" in intents.wrong(sample)


PROSE_YES = "Now that I look closely, yes."
THINK_YES = "<think>No? Let me look at the picture again.</think>\nYes."
ANSWER_IS = r"The answer is {L}\.|Answer: {L}|答案是{L}。|The correct option is \({L}\)\."


@pytest.mark.parametrize(
    "style, mc, yes",
    [
        ("verify_prose", r"A close look at the picture settles it: the answer is {L}\.", PROSE_YES),
        ("verify_think", r"<think>Option [^{L}] .*</think>\n{L}", THINK_YES),
        ("verify_answer_is", ANSWER_IS, None),
    ],
)  # fmt: skip
def test_the_verifier_says_the_truth_in_its_phrasing(server, engine, style, mc, yes):
    caption, objs = clean_replies(server, engine)
    choice = engine.samples("multiple_choice", json.dumps(objs["multiple_choice"]), caption)[1]
    judged = engine.samples("judgement", json.dumps(objs["judgement"]), caption)
    said_yes = next(s for s in judged if s.short_answer == "yes")
    server.configure(style, reset=False)
    reply = engine.send(verify_request(choice, [str(engine.picture)], "vlm")).message.content
    assert re.fullmatch(mc.replace("{L}", choice.answer_letter), reply, re.S), reply
    reply = engine.send(verify_request(said_yes, [str(engine.picture)], "vlm")).message.content
    assert reply == yes if yes else reply in ("The answer is yes.", "Answer: Yes", "是的。", "Yes, it is.")
    intents = Intents(server.intended())
    choice.checks = {"verify": {"pass": True, "answer": choice.answer_letter}}
    assert intents.misread(choice) is None
    choice.checks = {
        "verify": {"pass": False, "answer": next(x for x in LETTERS if x != choice.answer_letter)}
    }
    assert intents.misread(choice) == "misread"
    choice.checks = {"verify": {"pass": False, "answer": reply}}
    assert intents.misread(choice) == "unsure"


def test_half_the_generator_is_wrong_in_verifier_styles_and_the_verifier_and_judge_know(server, engine):
    caption, _ = clean_replies(server, engine)
    server.configure("verify_judge", reset=False)
    made = [
        s for t in ("judgement", "short_vqa") for s in engine.samples(
            t, engine.send(engine.instructions(t, caption)).message.content, caption
        )
    ]  # fmt: skip
    intents = Intents(server.intended())
    wrong = [s for s in made if intents.wrong(s)]
    assert 0 < len(wrong) < len(made)
    agree = {"{'agree': True}", '{"agree"：true}', "是", "Yes, they agree."}
    disagree = {"{'agree': False}", '{"agree"：false}', "否", "No, they do not agree."}
    for s in made:
        if s.type != "short_vqa":
            continue
        said = engine.send(verify_request(s, [str(engine.picture)], "vlm")).message.content
        truth = intents.item_for(s.turns[0].question)["answer"]
        assert said == f"Looking at the picture, I would say {truth}."
        verdict = engine.send(judge_request(s, said, "llm")).message.content
        assert verdict in (disagree if s in wrong else agree)
        server.configure("clean", reset=False)  # a judge asked to answer in words, without a schema
        words = engine.send(judge_request(s, said, "llm", in_words=True)).message.content
        assert words == ("No, they do not agree." if s in wrong else "Yes, they agree.")
        server.configure("verify_judge", reset=False)


def test_a_repair_ask_gets_the_style_again_or_clean_json(server, engine):
    caption, objs = clean_replies(server, engine)
    req = engine.instructions("judgement", caption)
    for repair, want in (("repeat", repr(objs["judgement"])), ("obey", json.dumps(objs["judgement"]))):
        server.configure("python_dict", repair=repair, reset=False)
        bad = engine.send(req).message.content
        fix = ChatRequest(
            structured.repair_messages(req.messages, bad, "not valid JSON", req.schema),
            req.endpoint,
            params=req.params,
            schema=req.schema,
        )
        assert engine.send(fix).message.content == want
    stats = server.snapshot()["styles"]
    assert stats["repair_asks"] == {"judgement": 2} and stats["max_asks"]["judgement"] == 5


def test_mixed_styles_are_seeded_per_conversation_and_mean_the_same(server, engine, picture):
    def replies(style: str, seed: int) -> tuple[list[str], dict]:
        server.configure(style, seed=seed)
        out = []
        for i in range(16):
            req = engine.instructions("multiple_choice", f"A picture of a harbour at dawn, number {i}.")
            first, again = engine.send(req), engine.send(req)
            assert first.message.content == again.message.content
            out.append(first.message.content or f"<refusal {first.message.refusal}>")
        return out, server.intended()["questions"]

    mixed, meant = replies("mixed", 7)
    assert replies("mixed", 7)[0] == mixed
    assert len({t[:1] for t in mixed}) >= 3  # several styles: {, [, <, S(ure), I('m sorry) …
    clean, meant_clean = replies("clean", 7)
    assert mixed != clean and meant  # a refused conversation means no questions; the rest the same
    assert all(meant_clean[q] == item for q, item in meant.items())


def test_the_schema_is_found_in_the_prompt_when_response_format_is_not_used(server, engine, picture):
    prompted = Engine(server, picture, mode="prompt")
    server.configure("clean")
    caption = engine.send(engine.caption()).message.content
    body = prompted.body(prompted.instructions("multiple_choice", caption))
    assert "response_format" not in body
    reply = prompted.send(prompted.instructions("multiple_choice", caption)).message.content
    SCHEMAS["multiple_choice"].model_validate_json(reply)
    assert json.loads(reply)["questions"][0]["question"] in server.intended()["questions"]


def test_the_style_is_switched_and_intents_read_over_http(server):
    def call(path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        with urllib.request.urlopen(urllib.request.Request(server.url + path, data=data), timeout=10) as r:
            return json.loads(r.read())

    assert call("/style", {"style": "tags", "repair": "obey", "seed": 3}) == {
        "style": "tags",
        "repair": "obey",
        "seed": 3,
    }
    assert server.style == "tags" and call("/intended") == {
        "questions": {},
        "captions": [],
        "domains": [],
        "verdicts": {},
    }
    with pytest.raises(urllib.error.HTTPError):
        call("/style", {"style": "nonsense"})
    server.configure("clean", seed=0)


def test_a_request_for_the_tag_format_is_answered_in_it(server, engine, picture):
    tagged = Engine(server, picture, mode="tags")
    server.configure("clean")
    caption = engine.send(engine.caption()).message.content
    for itype, note in (("multiple_choice", "<E1> "), ("judgement", "<R1> "), ("short_vqa", None)):
        assert "response_format" not in tagged.body(tagged.instructions(itype, caption))
        text = tagged.send(tagged.instructions(itype, caption)).message.content
        assert text.startswith("<Q1> ") and "{" not in text
        assert note is None or note in text
        assert {r["question"] for r in _tags(text)} <= set(server.intended()["questions"])
