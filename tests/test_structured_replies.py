"""Replies the way real models write them: the reader (reasoning blocks, chatter, fences,
near-JSON, numbers for text, bare lists, MMInstruct's tag format) and, against the loopback
server, what the client does with cut-off replies, refusals and servers that ignore
`response_format`."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import pytest

from visinstruct.generate.schemas import ChoiceSet, Conversation, JudgementSet, ShortSet, domain_choice
from visinstruct.models import ChatRequest, Endpoint, ModelClient, run_async, structured
from visinstruct.models.replies import normalise_punctuation, refusal, strip_reasoning
from visinstruct.models.tags import split_options

JUDGED = [{"question": "Is the sky blue?", "answer": "yes"}, {"question": "Is it night?", "answer": "no"}]
JUDGED_JSON = json.dumps({"questions": JUDGED})


def judged(text: str, mode: str = "json_schema"):
    value, reason = structured.parse(text, JudgementSet, mode)
    assert value is not None, reason
    return [(q.question, q.answer) for q in value.questions]


EXPECTED = [("Is the sky blue?", "yes"), ("Is it night?", "no")]


# -- near-JSON -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "reply",
    [
        '{"questions": [{"question": "Is the sky blue?", "answer": "yes",}, '
        '{"question": "Is it night?", "answer": "no",},],}',
        "{'questions': [{'question': 'Is the sky blue?', 'answer': 'yes', 'ok': True}, "
        "{'question': 'Is it night?', 'answer': 'no', 'ok': False}]}",
        '{questions: [{question: "Is the sky blue?", answer: "yes"}, '
        '{question: "Is it night?", answer: "no"}]}',
        "{“questions”：[{“question”：“Is the sky blue?”，“answer”：“yes”}，"
        '{"question"："Is it night?"，"answer"："no"}]}',
    ],
    ids=["trailing-commas", "python-dict", "unquoted-keys", "full-width"],
)
def test_near_json_is_repaired(reply):
    assert judged(reply) == EXPECTED


def test_line_breaks_inside_strings_are_kept():
    reply = (
        '{"rounds": [{"question": "What?", "answer": "First.\nThen."}, {"question": "Why?", "answer": "x"}]}'
    )
    value, reason = structured.parse(reply, Conversation)
    assert reason is None and value.rounds[0].answer == "First.\nThen."


def test_full_width_punctuation_inside_text_is_kept():
    reply = (
        '{"questions"：[{"question"："天空是蓝色的，对吗？"，"answer"："yes"，"reason"："因为：晴天"}，'
        '{"question"："r"，"answer"："no"}]}'
    )
    value, reason = structured.parse(reply, JudgementSet)
    assert reason is None
    assert value.questions[0].question == "天空是蓝色的，对吗？" and value.questions[0].reason == "因为：晴天"
    assert normalise_punctuation('{"a"：“b，c”}') == '{"a":"b，c"}'


def test_python_literals_are_read_never_evaluated(tmp_path):
    marker = tmp_path / "ran"
    reply = (
        "{'questions': [{'question': __import__('os').system('touch " + str(marker) + "'), 'answer': 'yes'}, "
        "{'question': 'b', 'answer': 'no'}]}"
    )
    structured.parse(reply, JudgementSet)
    assert not marker.exists()


# -- where the payload is --------------------------------------------------------------------
@pytest.mark.parametrize(
    "reply",
    [
        f"Sure! Here is the JSON you asked for:\n```json\n{JUDGED_JSON}\n```\nLet me know if you need more.",
        f"Sure! Here it is: {JUDGED_JSON} Hope this helps {{see above}}.",
        f"Note {{draft}} first, [1] then: {JUDGED_JSON}",
        f"<think>The user wants {{questions}} as [a list]; {{'answer': 'maybe'}} no.</think>\n{JUDGED_JSON}",
        f'<thinking>Plan: {{"questions": []}} is too few.</thinking>{JUDGED_JSON}',
        f"the server dropped my opening tag {{x}} </think>\n\n{JUDGED_JSON}",
        "<think>\nA draft: "
        + json.dumps({"questions": [JUDGED[1], JUDGED[0]]})
        + "\nnow the answer\n"
        + JUDGED_JSON,
    ],
    ids=["fence", "chatter", "chatter-brackets-first", "think", "thinking", "closing-only", "unclosed-think"],
)
def test_payload_is_found_past_reasoning_and_chatter(reply):
    assert judged(reply) == EXPECTED


def test_think_block_with_braces_is_removed_whole():
    body = strip_reasoning('<think>a {b} [c</think>{"x": 1}')
    assert body.text == '{"x": 1}' and not body.open_reasoning
    assert strip_reasoning("<think>still thinking {").open_reasoning


def test_first_complete_object_is_taken_when_two_are_valid():
    other = json.dumps({"questions": [{"question": "Second?", "answer": "no"}] * 2})
    assert judged(f"{JUDGED_JSON}\nor:\n{other}") == EXPECTED


# -- fitting the schema ----------------------------------------------------------------------
def test_numbers_are_accepted_for_text():
    value, reason = structured.parse(
        '{"questions": [{"question": "How many cats?", "answer": 42}]}', ShortSet
    )
    assert reason is None and value.questions[0].answer == "42"
    value, _ = structured.parse('{"questions": [{"question": 7, "answer": 2.5}]}', ShortSet)
    assert value.questions[0].question == "7" and value.questions[0].answer == "2.5"


def test_a_number_is_not_taken_for_a_letter():
    reply = '{"questions": [{"question": "q", "options": ["a", "b", "c", "d"], "answer": 2}]}'
    value, reason = structured.parse(reply, ChoiceSet)
    assert value is None and reason.startswith("does not match the schema: questions.0.answer:")


def test_a_bare_list_is_the_one_list_asked_for():
    assert judged(json.dumps(JUDGED)) == EXPECTED
    value, reason = structured.parse(
        '[{"question": "q", "answer": "a"}, {"question": "r", "answer": "b"}]', Conversation
    )
    assert reason is None and [r.answer for r in value.rounds] == ["a", "b"]
    # an object with no list field takes no list
    value, reason = structured.parse('["charts"]', domain_choice(["charts", "maps"]))
    assert value is None and "does not match the schema" in reason


def test_chinese_keys_and_other_spellings_of_a_field_are_read_by_the_field_they_stand_for():
    # 问题 is the list here and the question inside it: the value's type decides
    value, reason = structured.parse(
        '{"问题": [{"问题": "天空是蓝色的吗？", "答案": "是", "理由": "天空是蓝的"}, '
        '{"题目": "有云吗", "答案": "否"}]}',
        JudgementSet,
    )
    assert reason is None
    assert [(j.question, j.answer, j.reason) for j in value.questions] == [
        ("天空是蓝色的吗？", "yes", "天空是蓝的"),
        ("有云吗", "no", ""),
    ]
    value, reason = structured.parse(
        '{"题目": [{"问题": "q", "选项": ["红", "蓝", "绿", "黄"], "正确答案": "B", "解析": "蓝色"}]}',
        ChoiceSet,
    )
    assert reason is None and value.questions[0].options[1] == "蓝" and value.questions[0].answer == "B"
    value, reason = structured.parse(
        '{"Rounds": [{"Question": "q", "Answer": "a"}, {"问题": "r", "回答": "b"}]}', Conversation
    )
    assert reason is None and [r.answer for r in value.rounds] == ["a", "b"]


def test_a_renamed_key_never_overwrites_a_field_and_unknown_keys_are_not_guessed():
    # the reply's own `answer` stands; 答案 does not replace it
    value, reason = structured.parse(
        '{"questions": [{"question": "q", "answer": "B", "答案": "x"}]}', ShortSet
    )
    assert reason is None and value.questions[0].answer == "B"
    # a key that stands for no field of this schema is left as it is, and validation says what is missing
    value, reason = structured.parse('{"条目": [{"问题": "天空是蓝色的吗？", "答案": "是"}]}', JudgementSet)
    assert value is None and reason.startswith("does not match the schema: questions: Field required")
    # a name whose field has another type is not taken for it (选项 is a list, not a text)
    value, reason = structured.parse('{"questions": [{"选项": "q", "answer": "a"}]}', ShortSet)
    assert value is None and "question: Field required" in reason


def test_errors_name_what_is_wrong():
    assert structured.parse("the sky is blue", JudgementSet) == (
        None,
        "not valid JSON (no JSON object or array in the reply)",
    )
    _, reason = structured.parse('{"questions": [{"question": "q", "answer": "maybe"}, "x"]}', JudgementSet)
    assert reason.startswith("does not match the schema: questions.0.answer: ") and "more" in reason
    _, reason = structured.parse('{"questions": [', JudgementSet)
    assert reason.startswith("not valid JSON (") or reason.startswith("does not match the schema")
    assert structured.parse("  ", JudgementSet) == (None, "empty reply")


# -- MMInstruct's tag format ----------------------------------------------------------------
def test_tags_multiple_choice_en_one_line():
    reply = (
        "<Q1> What colour is the car? </Q1> <C1> A. red B. blue C. green D. grey </C1> <A1> B </A1>"
        " <E1> The car is painted blue. </E1>\n"
        "<Q2> How many wheels? </Q2> <C2> (A) two (B) three (C) four (D) six </C2> <A2> C </A2>"
    )
    value, reason = structured.parse(reply, ChoiceSet)
    assert reason is None
    first, second = value.questions
    assert first.options == ["red", "blue", "green", "grey"] and first.answer == "B"
    assert first.explanation == "The car is painted blue."
    assert second.options == ["two", "three", "four", "six"] and second.answer == "C"


def test_tags_multiple_choice_zh_on_separate_lines():
    reply = (
        "<Q1> 图中汽车是什么颜色？ </Q1>\n<C1>\nA、红色\nB、蓝色\nC、绿色\nD、灰色\n</C1>\n<A1> B </A1>\n"
        "<E1> 汽车是蓝色的，很明显。 </E1>\n"
        "<Q2> 有几个轮子？ </Q2>\n<C2>\nＡ．两个\nＢ．三个\nＣ．四个\nＤ．六个\n</C2>\n<A2> C </A2>"
    )
    value, reason = structured.parse(reply, ChoiceSet, "tags")
    assert reason is None
    assert value.questions[0].options == ["红色", "蓝色", "绿色", "灰色"]
    assert value.questions[0].explanation == "汽车是蓝色的，很明显。"
    assert value.questions[1].options == ["两个", "三个", "四个", "六个"] and value.questions[1].answer == "C"


def test_tags_judgement_short_and_conversation():
    value, reason = structured.parse(
        "<Q1> Is the sky blue? </Q1> <A1> yes </A1> <R1> It is a clear day. </R1>\n"
        "<Q2> Is it night? </Q2> <A2> no </A2>",
        JudgementSet,
    )
    assert reason is None and value.questions[0].reason == "It is a clear day."
    assert [q.answer for q in value.questions] == ["yes", "no"]
    value, reason = structured.parse("<Q1> 图中有几只猫？ </Q1> <A1> 3 </A1>", ShortSet)
    assert reason is None and value.questions[0].answer == "3"
    value, reason = structured.parse(
        "<Q1> What is happening? </Q1>\n<A1> Two people talk.\nThey smile. </A1>\n"
        "<Q2> Why? </Q2>\n<A2> They are friends. </A2>",
        Conversation,
    )
    assert reason is None and value.rounds[0].answer == "Two people talk.\nThey smile."


def test_tags_unclosed_tags_run_to_the_next_tag():
    value, reason = structured.parse("<Q1> Is it red? <A1> yes\n<Q2> Is it blue? <A2> no", JudgementSet)
    assert reason is None and [(q.question, q.answer) for q in value.questions] == [
        ("Is it red?", "yes"),
        ("Is it blue?", "no"),
    ]


def test_tags_that_do_not_fit_get_the_schema_error():
    value, reason = structured.parse(
        "<Q1> What colour? </Q1> <C1> A. red B. blue </C1> <A1> A </A1>", ChoiceSet
    )
    assert value is None and reason.startswith("does not match the schema: questions.0.options")
    _, reason = structured.parse("no tags and no JSON", ChoiceSet, "tags")
    assert reason.startswith("not in the tag format (no <Q1> tag) and not valid JSON")


def test_split_options():
    assert split_options("A. red B. blue C. green D. grey") == ["red", "blue", "green", "grey"]
    assert split_options("A) Dr. B. Smith B) Mr. C C) x D) y") == ["Dr. B. Smith", "Mr. C", "x", "y"]
    assert split_options("red\nblue\ngreen\ngrey") == ["red", "blue", "green", "grey"]
    assert split_options("A：红色 B：蓝色 C：绿色 D：灰色") == ["红色", "蓝色", "绿色", "灰色"]


def test_tags_mode_asks_for_tags_from_the_prompt_file():
    text = structured.instruction(ChoiceSet, "tags", "en")
    assert "<Q1>" in text and "<C1> A." in text and "<A1> A, B, C or D </A1>" in text and "<E1>" in text
    assert "JSON schema" not in text
    zh = structured.instruction(JudgementSet, "tags", "zh")
    assert "<R1>" in zh and "<C1>" not in zh and "标签" in zh
    # a schema the tags cannot carry is asked for as JSON
    assert "JSON schema" in structured.instruction(domain_choice(["charts", "maps"]), "tags", "en")


# -- what is asked -----------------------------------------------------------------------------
def test_instructions_name_the_fields():
    text = structured.instruction(ChoiceSet, "json_schema")
    assert "questions[].question" in text and "questions[].answer (A, B, C or D)" in text
    assert "questions[].options (list of 4 texts; 4 distinct options, without letters)" in text
    assert "questions[].question" in structured.instruction(ChoiceSet, "prompt")
    assert "JSON schema" in structured.instruction(ChoiceSet, "prompt")


def test_strict_schema_is_closed_and_complete():
    fmt = structured.response_format(JudgementSet, "json_schema", strict=True)["json_schema"]
    assert fmt["strict"] is True
    item = fmt["schema"]["$defs"]["Judgement"]
    assert item["additionalProperties"] is False and item["required"] == ["question", "answer", "reason"]
    assert "default" not in item["properties"]["reason"]
    assert "strict" not in structured.response_format(JudgementSet, "json_schema")["json_schema"]


def test_language_of_the_instruction():
    assert structured.language([{"role": "user", "content": "针对这张图像写3个是非题。"}]) == "zh"
    assert structured.language([{"role": "user", "content": [{"type": "text", "text": "Write 3"}]}]) == "en"


@pytest.mark.parametrize(
    "reply",
    [
        "I'm sorry, I can't help with that.",
        "I’m sorry, but I cannot assist with this request.",
        "I cannot assist with that.",
        "Sorry, I can't provide that.",
        "As an AI, I cannot describe people.",
        "抱歉，我无法协助完成这个请求。",
        "很抱歉，我不能回答。",
        "<think>not allowed</think>I am unable to help with this.",
    ],
)
def test_refusals_are_recognised(reply):
    assert refusal(reply)


@pytest.mark.parametrize("reply", ["Sure! Here is the JSON.", "The image shows a cat.", "我看到一只猫。", ""])
def test_other_text_is_not_a_refusal(reply):
    assert refusal(reply) is None


# -- the client, against the loopback server ----------------------------------------------------
@pytest.fixture(autouse=True)
def key(monkeypatch):
    monkeypatch.setenv("VISINSTRUCT_TEST_KEY", "sk-test")


def endpoint(server, **kw) -> Endpoint:
    base = {
        "name": "llm",
        "model": "fake-model",
        "base_url": server.base_url,
        "provider": "vllm",
        "api_key_env": "VISINSTRUCT_TEST_KEY",
        "timeout": 5.0,
    }
    return Endpoint(**{**base, **kw})


def ask(i: int, schema=JudgementSet, **params) -> ChatRequest:
    return ChatRequest(
        [{"role": "user", "content": f"Write yes/no questions about image {i}."}],
        endpoint="llm",
        params={"max_tokens": 32, **params},
        schema=schema,
    )


def one_by_one(client: ModelClient, requests: list[ChatRequest]) -> list:
    async def go():
        async with client:
            return [await client.complete(r) for r in requests]

    return run_async(go())


def test_a_cut_off_reply_is_asked_again_with_more_room(fake_openai, tmp_path):
    rooms = []

    def cut_below_128(req, choice):
        rooms.append(req["max_tokens"])
        if req["max_tokens"] < 128:
            return {"content": JUDGED_JSON[:20], "finish_reason": "length"}
        return {"content": JUDGED_JSON}

    fake_openai.reply_hook = cut_below_128
    [out] = one_by_one(ModelClient([endpoint(fake_openai)], cache=tmp_path / "c.db"), [ask(1)])
    assert out.ok, out.error
    assert rooms == [32, 64, 128] and not out.repaired
    assert [q.question for q in out.value.questions] == [q["question"] for q in JUDGED]
    # the complete reply is cached for the request as asked
    fake_openai.reset()
    [again] = one_by_one(ModelClient([endpoint(fake_openai)], cache=tmp_path / "c.db"), [ask(1)])
    assert again.ok and again.cached and fake_openai.requests == 0


def test_a_reply_still_cut_off_fails_retryably_and_is_not_cached(fake_openai, tmp_path):
    rooms = []

    def always_cut(req, choice):
        rooms.append(req["max_tokens"])
        return {"content": JUDGED_JSON[:-3], "finish_reason": "length"}  # repairable, but incomplete

    fake_openai.reply_hook = always_cut
    db = sqlite3.connect(tmp_path / "run.db")
    [out] = one_by_one(ModelClient([endpoint(fake_openai)], cache=tmp_path / "c.db", db=db), [ask(2)])
    assert not out.ok and "reply cut off at max_tokens" in out.error and not out.final
    assert rooms == [32, 64, 128], "bounded: at most 4 times the room, no repair re-ask"
    assert db.execute("SELECT count(*) FROM model_failures").fetchone()[0] == 1
    fake_openai.reply_hook = None
    fake_openai.responder = lambda req: JUDGED_JSON
    fake_openai.reset()
    [again] = one_by_one(ModelClient([endpoint(fake_openai)], cache=tmp_path / "c.db"), [ask(2)])
    assert again.ok and not again.cached and fake_openai.requests == 1


def test_a_server_refusing_more_room_fails_that_request_only(fake_openai, tmp_path):
    from fake_openai import ApiError

    def no_more_than_32(req):
        if req["max_tokens"] > 32:
            raise ApiError(400, "max_tokens is too large for this model", param="max_tokens")
        return JUDGED_JSON

    fake_openai.responder = no_more_than_32
    fake_openai.reply_hook = lambda req, choice: (
        {"content": JUDGED_JSON[:9], "finish_reason": "length"} if "cut" in str(req["messages"]) else None
    )
    cut = ChatRequest(
        [{"role": "user", "content": "cut"}], endpoint="llm", params={"max_tokens": 32}, schema=JudgementSet
    )
    outs = one_by_one(ModelClient([endpoint(fake_openai)], cache=tmp_path / "c.db"), [cut, ask(8)])
    assert not outs[0].ok and "reply cut off at max_tokens (32)" in outs[0].error and "400" in outs[0].error
    assert not outs[0].final and outs[1].ok, "not a fatal error: the next request is served"


def test_a_cut_off_caption_gets_more_room_too(fake_openai, tmp_path):
    fake_openai.reply_hook = lambda req, choice: (
        {"content": "A red car parked", "finish_reason": "length"} if req["max_tokens"] < 64 else None
    )
    [out] = one_by_one(ModelClient([endpoint(fake_openai)], cache=tmp_path / "c.db"), [ask(3, schema=None)])
    assert out.ok and out.response["choices"][0]["finish_reason"] == "stop" and fake_openai.requests == 2


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"content": None, "refusal": "I'm sorry, I can't help with that."}, "I'm sorry, I can't help"),
        ({"content": "I'm sorry, I can't help with that."}, "I'm sorry, I can't help"),
        ({"content": "抱歉，我无法协助完成这个请求。"}, "抱歉，我无法协助"),
        ({"content": '{"questions": ', "finish_reason": "content_filter"}, "content filter"),
    ],
    ids=["message.refusal", "refusal-text", "refusal-zh", "content-filter"],
)
def test_refusals_fail_uncached_and_the_next_run_asks_again(fake_openai, tmp_path, change, said):
    fake_openai.reply_hook = lambda req, choice: change
    db = sqlite3.connect(tmp_path / "run.db")
    [out] = one_by_one(ModelClient([endpoint(fake_openai)], cache=tmp_path / "c.db", db=db), [ask(4)])
    assert not out.ok and out.refused and not out.final
    assert out.error.startswith("the model refused: ") and said in out.error
    assert fake_openai.requests == 1 and not out.repaired, "no repair re-ask for a refusal"
    [(reason,)] = db.execute("SELECT reason FROM model_failures").fetchall()
    assert reason == out.error
    fake_openai.reply_hook = None
    fake_openai.responder = lambda req: JUDGED_JSON
    fake_openai.reset()
    [again] = one_by_one(ModelClient([endpoint(fake_openai)], cache=tmp_path / "c.db"), [ask(4)])
    assert again.ok and not again.cached and fake_openai.requests == 1


def test_message_refusal_fails_a_plain_text_request(fake_openai, tmp_path):
    fake_openai.reply_hook = lambda req, choice: {"content": None, "refusal": "I can't describe this image."}
    [out] = one_by_one(ModelClient([endpoint(fake_openai)], cache=tmp_path / "c.db"), [ask(5, schema=None)])
    assert not out.ok and out.refused and "can't describe" in out.error


def test_json_schema_requests_are_strict_and_name_the_fields(fake_openai, tmp_path):
    one_by_one(ModelClient([endpoint(fake_openai)], cache=tmp_path / "c.db"), [ask(6, schema=ChoiceSet)])
    sent = fake_openai.last_request
    assert sent["response_format"]["json_schema"]["strict"] is True
    assert (
        sent["response_format"]["json_schema"]["schema"]["$defs"]["Choice"]["additionalProperties"] is False
    )
    assert "questions[].options" in sent["messages"][-1]["content"]
    one_by_one(ModelClient([endpoint(fake_openai, provider="ollama")]), [ask(7, schema=ChoiceSet)])
    assert "strict" not in fake_openai.last_request["response_format"]["json_schema"]


TAGGED = (
    "<Q1> Is the sky blue? </Q1> <A1> yes </A1> <R1> clear day </R1>\n<Q2> Is it night? </Q2> <A2> no </A2>"
)


def status_of(run_dir) -> str:
    p = subprocess.run(
        [sys.executable, "-m", "visinstruct.cli", "status", str(run_dir)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 0, p.stderr
    return p.stdout


def test_a_server_ignoring_response_format_is_switched_once_with_a_note(fake_openai, tmp_path):
    from visinstruct.store import RunStore

    fake_openai.responder = lambda req: TAGGED  # whatever response_format says
    modes = []
    fake_openai.reply_hook = lambda req, choice: modes.append(req.get("response_format", {}).get("type"))
    with RunStore(tmp_path / "run") as store:
        client = ModelClient([endpoint(fake_openai)], cache=tmp_path / "run" / "cache.db", db=store.db)
        outs = one_by_one(client, [ask(i) for i in range(5)])
        assert all(o.ok for o in outs) and not any(o.repaired for o in outs)
        assert modes == ["json_schema"] * 3 + [None, None], "switched after three replies without JSON"
        assert (
            client.modes == {"llm": "tags"} and "<Q1>" in fake_openai.last_request["messages"][-1]["content"]
        )
        # the next job starts in the mode learned
        modes.clear()
        one_by_one(
            ModelClient([endpoint(fake_openai)], cache=tmp_path / "run" / "cache.db", db=store.db), [ask(9)]
        )
        assert modes == [None]
    out = status_of(tmp_path / "run")
    assert "ignores response_format json_schema" in out and "structured: tags" in out


def test_chatty_json_switches_to_the_schema_in_the_prompt(fake_openai, tmp_path):
    fake_openai.responder = lambda req: f"Sure! Here you go:\n```json\n{JUDGED_JSON}\n```"
    client = ModelClient([endpoint(fake_openai)], cache=tmp_path / "c.db")
    outs = one_by_one(client, [ask(i) for i in range(4)])
    assert all(o.ok for o in outs) and client.modes == {"llm": "prompt"}
    sent = fake_openai.last_request
    assert "response_format" not in sent and "JSON schema" in sent["messages"][-1]["content"]


def test_one_odd_reply_from_a_schema_server_switches_nothing(fake_openai, tmp_path):
    fake_openai.script = ["bad_content", "ok", "bad_content", "ok", "bad_content", "ok"]
    client = ModelClient([endpoint(fake_openai)], cache=tmp_path / "c.db")
    outs = one_by_one(client, [ask(i) for i in range(3)])
    assert all(o.ok and o.repaired for o in outs) and client.modes == {}
    assert fake_openai.last_request["response_format"]["type"] == "json_schema"


# -- the tag format through a run ----------------------------------------------------------------
def tag_reply(req: dict) -> str | None:
    """What a model asked for the tag format writes (in the instruction's language)."""
    asked = req["messages"][-1]["content"] if req["messages"][-1]["role"] == "system" else ""
    if "<Q1>" not in asked:
        return None
    zh = "标签" in asked
    items = []
    for n in range(1, 4):
        q = f"图中第{n}个物体是什么颜色？" if zh else f"What colour is object {n} in the picture?"
        if "<C1>" in asked:
            options = "\nA、红色\nB、蓝色\nC、绿色\nD、灰色\n" if zh else " A. red B. blue C. green D. grey "
            items.append(
                f"<Q{n}> {q} </Q{n}>\n<C{n}>{options}</C{n}>\n<A{n}> B </A{n}>\n<E{n}> 它是蓝色的。 </E{n}>"
            )
        elif "<R1>" in asked:
            q = f"图中第{n}个物体是蓝色的吗？" if zh else f"Is object {n} in the picture blue?"
            items.append(f"<Q{n}> {q} </Q{n}> <A{n}> {'yes' if n % 2 else 'no'} </A{n}> <R{n}> clear </R{n}>")
        else:
            a = (
                "蓝色。它在画面左侧，颜色很明显。"
                if zh
                else "Blue. It stands on the left and its colour is plain to see."
            )
            items.append(f"<Q{n}> {q} </Q{n}>\n<A{n}> {a} </A{n}>")
    return "Here are the questions:\n" + "\n".join(items)


def test_a_run_with_structured_tags_makes_every_type(fake_openai, tmp_path):
    from PIL import Image

    from visinstruct.recipe import parse_recipe
    from visinstruct.runner import run_recipe
    from visinstruct.store import RunStore

    for name in ("landmark/tower.jpg", "ocr/sign.jpg"):
        (tmp_path / "images" / name).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (64, 48), (30 * len(name), 120, 200)).save(tmp_path / "images" / name)
    fake_openai.responder = tag_reply
    common = {"base_url": fake_openai.base_url, "provider": "vllm", "api_key_env": "VISINSTRUCT_TEST_KEY"}
    rec = parse_recipe(
        {
            "name": "tags",
            "seed": 1,
            "languages": ["en", "zh"],
            "sources": [{"folder": str(tmp_path / "images")}],
            "endpoints": {
                "vlm": {"model": "fake-vlm", **common},
                "llm": {"model": "fake-model", "structured": "tags", **common},
            },
            "caption": {"endpoint": "vlm", "languages": ["en"]},
            "instructions": {"endpoint": "llm"},
        }
    )
    summary = run_recipe(rec, tmp_path / "run", workers=1)
    assert summary.stages["instructions"].failed == 0 and summary.stages["instructions"].done == 16
    with RunStore(tmp_path / "run", create=False) as store:
        samples = list(store.iter_samples())
    assert {(s.type, s.language) for s in samples} == {
        (t, lang) for t in ("judgement", "multiple_choice", "short_vqa", "long_vqa") for lang in ("en", "zh")
    }
    choice = [s for s in samples if s.type == "multiple_choice"]
    assert all(
        set(s.options) in ({"red", "blue", "green", "grey"}, {"红色", "蓝色", "绿色", "灰色"}) for s in choice
    )
    assert "response_format" not in fake_openai.last_request
