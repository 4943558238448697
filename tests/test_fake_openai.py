"""The loopback OpenAI-compatible test server: endpoints, injection, counters, Files and Batch API."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from enum import Enum
from typing import Literal

import aiohttp
import openai
import pytest
from fake_openai import FakeOpenAI, SchemaFaker, body_key
from pydantic import BaseModel, Field

KEY = "sk-test"


def run(coro):
    return asyncio.run(coro)


def chat_body(text: str = "Describe the picture.", model: str = "fake-model", **kw) -> dict:
    return {"model": model, "messages": [{"role": "user", "content": text}], **kw}


async def post(server: FakeOpenAI, path: str, body=None, key: str | None = KEY, timeout: float | None = None):
    """(status, headers, text) of a raw POST with a JSON body."""
    headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
    data = body if isinstance(body, bytes | str) else json.dumps(body)
    headers["Content-Type"] = "application/json"
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as http,
        http.post(server.url + path, data=data, headers=headers) as r,
    ):
        return r.status, r.headers, await r.text()


async def get(server: FakeOpenAI, path: str, key: str | None = KEY):
    headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
    async with aiohttp.ClientSession() as http, http.get(server.url + path, headers=headers) as r:
        return r.status, r.headers, await r.read()


async def chat(server: FakeOpenAI, body: dict, **kw):
    return await post(server, "/v1/chat/completions", body, **kw)


def sdk(server: FakeOpenAI, **kw) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=server.base_url, api_key=server.api_key, max_retries=0, **kw)


def data_url(data: bytes, mime: str = "image/jpeg") -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode()


def image_message(text: str, *images: tuple[bytes, str]) -> dict:
    parts: list[dict] = [{"type": "text", "text": text}]
    for data, detail in images:
        parts.append({"type": "image_url", "image_url": {"url": data_url(data), "detail": detail}})
    return {"role": "user", "content": parts}


# -- lifecycle ------------------------------------------------------------------------------------------


def test_start_stop_context_manager_and_restart():
    with FakeOpenAI() as server:
        assert server.running and server.port > 0
        assert server.base_url == f"http://127.0.0.1:{server.port}/v1"
        status, _, _ = run(chat(server, chat_body()))
        assert status == 200
    assert not server.running
    with pytest.raises(aiohttp.ClientConnectionError):
        run(chat(server, chat_body()))
    server.start()  # restartable; stored counters survive
    try:
        assert run(chat(server, chat_body()))[0] == 200
        assert server.requests == 2
    finally:
        server.stop()
    server.stop()  # idempotent


def test_fixture_is_running(fake_openai):
    assert fake_openai.running
    assert fake_openai.api_key == KEY
    assert fake_openai.models == ["fake-model", "fake-vlm"]


# -- chat completions ---------------------------------------------------------------------------------


def test_chat_completion_shape_usage_and_determinism(fake_openai):
    text = "x" * 40
    status, headers, raw = run(chat(fake_openai, chat_body(text, model="fake-vlm")))
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    assert headers["x-request-id"].startswith("req_")
    body = json.loads(raw)
    assert body["object"] == "chat.completion" and body["id"].startswith("chatcmpl-")
    assert body["model"] == "fake-vlm" and isinstance(body["created"], int)
    choice = body["choices"][0]
    assert choice["finish_reason"] == "stop" and choice["message"]["role"] == "assistant"
    content = choice["message"]["content"]
    assert isinstance(content, str) and content
    usage = body["usage"]
    assert usage["prompt_tokens"] == 10
    assert usage["completion_tokens"] == -(-len(content) // 4)
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]

    again = json.loads(run(chat(fake_openai, chat_body(text, model="fake-vlm")))[2])
    other = json.loads(run(chat(fake_openai, chat_body(text + "?", model="fake-vlm")))[2])
    assert again["choices"][0]["message"]["content"] == content
    assert other["choices"][0]["message"]["content"] != content
    # the path without /v1 works too
    assert run(post(fake_openai, "/chat/completions", chat_body(text)))[0] == 200
    assert fake_openai.requests == 4 and fake_openai.ok == 4 and fake_openai.by_status == {200: 4}


def test_content_follows_last_user_message_and_n(fake_openai):
    body = {
        "model": "fake-model",
        "messages": [
            {"role": "system", "content": "You are helpful."},
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": "second"},
        ],
        "n": 3,
    }
    out = json.loads(run(chat(fake_openai, body))[2])
    contents = [c["message"]["content"] for c in out["choices"]]
    assert [c["index"] for c in out["choices"]] == [0, 1, 2] and len(set(contents)) == 3
    single = json.loads(run(chat(fake_openai, chat_body("second")))[2])
    assert single["choices"][0]["message"]["content"] == contents[0]


def test_chat_with_sdk(fake_openai):
    async def main():
        async with sdk(fake_openai) as client:
            r = await client.chat.completions.create(
                model="fake-vlm", messages=[{"role": "user", "content": "hello"}], temperature=0.2
            )
            assert r.choices[0].message.content and r.usage.prompt_tokens == 2
            return r

    run(main())
    sent = {"model": "fake-vlm", "messages": [{"role": "user", "content": "hello"}], "temperature": 0.2}
    assert fake_openai.last_request == sent
    assert fake_openai.by_key == {body_key(sent): 1}


def test_auth_errors(fake_openai):
    expected = {
        "message": "Incorrect API key provided",
        "type": "invalid_request_error",
        "code": "invalid_api_key",
    }
    for key in ("sk-wrong", None):
        status, _, raw = run(chat(fake_openai, chat_body(), key=key))
        assert status == 401
        assert expected.items() <= json.loads(raw)["error"].items()
    assert run(get(fake_openai, "/v1/models", key="nope"))[0] == 401

    async def main():
        async with openai.AsyncOpenAI(base_url=fake_openai.base_url, api_key="bad", max_retries=0) as c:
            with pytest.raises(openai.AuthenticationError) as info:
                await c.chat.completions.create(
                    model="fake-model", messages=[{"role": "user", "content": "x"}]
                )
            assert info.value.code == "invalid_api_key"

    run(main())
    assert fake_openai.requests == 3 and fake_openai.by_status == {401: 3} and fake_openai.ok == 0


def test_custom_key_and_models():
    with FakeOpenAI(api_key="sk-other", models=["m1"]) as server:
        assert run(chat(server, chat_body(model="m1"), key="sk-other"))[0] == 200
        assert run(chat(server, chat_body(model="fake-model"), key="sk-other"))[0] == 404
        assert run(chat(server, chat_body(model="m1")))[0] == 401


def test_model_not_found(fake_openai):
    status, _, raw = run(chat(fake_openai, chat_body(model="gpt-nope")))
    assert status == 404 and json.loads(raw)["error"]["code"] == "model_not_found"

    async def main():
        async with sdk(fake_openai) as c:
            with pytest.raises(openai.NotFoundError):
                await c.chat.completions.create(model="gpt-nope", messages=[{"role": "user", "content": "x"}])

    run(main())


@pytest.mark.parametrize(
    "body",
    [
        {"model": "fake-model", "messages": []},
        {"model": "fake-model"},
        {"model": "fake-model", "messages": "hi"},
        {"messages": [{"role": "user", "content": "x"}]},
        {"model": "fake-model", "messages": [{"role": "wizard", "content": "x"}]},
        {"model": "fake-model", "messages": [{"role": "user", "content": 3}]},
        {"model": "fake-model", "messages": [{"role": "user", "content": [{"type": "video", "x": 1}]}]},
        {"model": "fake-model", "messages": [{"role": "user", "content": "x"}], "stream": True},
        {"model": "fake-model", "messages": [{"role": "user", "content": "x"}], "n": 0},
        {
            "model": "fake-model",
            "messages": [{"role": "user", "content": "x"}],
            "response_format": {"type": "x"},
        },
        "not json at all {",
        [1, 2],
    ],
)
def test_bad_requests(fake_openai, body):
    status, _, raw = run(chat(fake_openai, body))
    assert status == 400
    assert json.loads(raw)["error"]["type"] == "invalid_request_error"
    assert fake_openai.by_status == {400: 1}


def test_bad_request_with_sdk(fake_openai):
    async def main():
        async with sdk(fake_openai) as c:
            with pytest.raises(openai.BadRequestError):
                await c.chat.completions.create(model="fake-model", messages=[])

    run(main())


# -- images ---------------------------------------------------------------------------------------------


def test_images_counted_and_decoded(fake_openai):
    jpeg = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4
    body = {"model": "fake-vlm", "messages": [image_message("abcd" * 3, (jpeg, "low"), (jpeg[:100], "high"))]}
    status, _, raw = run(chat(fake_openai, body))
    assert status == 200
    assert json.loads(raw)["usage"]["prompt_tokens"] == 3 + 2 * 85
    assert fake_openai.images == [("low", len(jpeg)), ("high", 100)]

    # no detail -> "auto"; a remote URL is accepted with an unknown size
    parts = [
        {"type": "image_url", "image_url": {"url": data_url(b"12345")}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png", "detail": "low"}},
    ]
    assert (
        run(chat(fake_openai, {"model": "fake-vlm", "messages": [{"role": "user", "content": parts}]}))[0]
        == 200
    )
    assert fake_openai.images[2:] == [("auto", 5), ("low", None)]
    assert fake_openai.snapshot()["images"][0] == ["low", len(jpeg)]


def test_image_changes_content(fake_openai):
    a = {"model": "fake-vlm", "messages": [image_message("What is shown?", (b"image-a", "low"))]}
    b = {"model": "fake-vlm", "messages": [image_message("What is shown?", (b"image-b", "low"))]}
    ca = json.loads(run(chat(fake_openai, a))[2])["choices"][0]["message"]["content"]
    cb = json.loads(run(chat(fake_openai, b))[2])["choices"][0]["message"]["content"]
    assert ca != cb


@pytest.mark.parametrize(
    "url",
    [
        "data:image/jpeg;base64,@@not-base64@@",
        "data:image/jpeg;base64,abc",  # bad padding
        "data:image/jpeg;base64,",  # empty
        "data:text/plain;base64,aGVsbG8=",  # not an image
        "data:image/png,rawbytes",  # not base64
        "ftp://example.com/x.png",
    ],
)
def test_invalid_images(fake_openai, url):
    parts = [{"type": "text", "text": "x"}, {"type": "image_url", "image_url": {"url": url}}]
    status, _, raw = run(
        chat(fake_openai, {"model": "fake-vlm", "messages": [{"role": "user", "content": parts}]})
    )
    assert status == 400 and "image" in json.loads(raw)["error"]["message"].lower()
    assert fake_openai.images == []


# -- structured output ----------------------------------------------------------------------------------


class Kind(str, Enum):
    COUNT = "count"
    COLOR = "color"
    POSITION = "position"


class Box(BaseModel):
    x: int = Field(ge=0, le=640)
    y: int = Field(ge=0, le=480)
    w: float = Field(gt=0, le=1)
    h: float = Field(gt=0.5, lt=0.6)


class QA(BaseModel):
    question: str = Field(min_length=30, max_length=60)
    answer: str = Field(max_length=12)
    kind: Kind
    style: Literal["short", "long"]
    box: Box | None = None
    tags: list[str] = Field(min_length=3, max_length=5)


class Sheet(BaseModel):
    caption: str
    items: list[QA] = Field(min_length=1, max_length=4)
    difficulty: int = Field(ge=1, le=5)
    confident: bool
    languages: list[Literal["en", "zh", "de"]] = Field(min_length=2, max_length=3)
    notes: dict[str, int] = {}


def schema_format(model: type[BaseModel]) -> dict:
    return {
        "type": "json_schema",
        "json_schema": {"name": model.__name__, "schema": model.model_json_schema()},
    }


def test_json_schema_output_validates(fake_openai):
    contents = []
    for prompt in ("Write questions about image 1.", "Write questions about image 2."):
        body = chat_body(prompt, response_format=schema_format(Sheet))
        status, _, raw = run(chat(fake_openai, body))
        assert status == 200
        content = json.loads(raw)["choices"][0]["message"]["content"]
        sheet = Sheet.model_validate_json(content)
        assert len(sheet.items) == 2 and sheet.items[0].box is not None
        for item in sheet.items:
            assert len(set(item.tags)) == len(item.tags) == 3
        assert len(set(sheet.languages)) == 2
        assert sheet.notes and all(isinstance(v, int) for v in sheet.notes.values())
        contents.append(content)
    assert contents[0] != contents[1]
    again = run(
        chat(fake_openai, chat_body("Write questions about image 1.", response_format=schema_format(Sheet)))
    )
    assert json.loads(again[2])["choices"][0]["message"]["content"] == contents[0]


def test_sdk_parse_with_pydantic_model(fake_openai):
    async def main():
        async with sdk(fake_openai) as client:
            r = await client.chat.completions.parse(
                model="fake-vlm", messages=[{"role": "user", "content": "make a sheet"}], response_format=QA
            )
            return r.choices[0].message.parsed

    parsed = run(main())
    assert isinstance(parsed, QA) and isinstance(parsed.kind, Kind)
    assert fake_openai.last_request["response_format"]["json_schema"]["strict"] is True


class Node(BaseModel):
    name: str
    children: list[Node] = []
    parent: Node | None = None


def test_schema_faker_terminates_on_recursive_models():
    value = SchemaFaker(Node.model_json_schema(), "seed").generate()
    Node.model_validate(value)
    assert len(json.dumps(value)) < 200_000


def test_schema_faker_keywords():
    import jsonschema  # in the test extra: a missing one fails rather than skips

    schema = {
        "type": "object",
        "properties": {
            "a": {"type": "integer", "minimum": 10, "maximum": 12},
            "b": {"type": "integer", "exclusiveMinimum": 0, "exclusiveMaximum": 2},
            "c": {"type": "integer", "minimum": 0, "maximum": 100, "multipleOf": 7},
            "d": {"type": "number", "minimum": -1, "maximum": -0.5},
            "e": {
                "type": "array",
                "items": {"type": "string"},
                "minItems": 6,
                "maxItems": 6,
                "uniqueItems": True,
            },
            "f": {"type": "array", "items": {"enum": ["x", "y", "z"]}, "maxItems": 3, "uniqueItems": True},
            "g": {"type": "array", "items": {"type": "integer"}, "maxItems": 1},
            "h": {"type": ["string", "null"], "minLength": 80, "maxLength": 90},
            "i": {"type": "string", "maxLength": 1, "minLength": 1},
            "j": {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "boolean"}]},
            "k": {"const": "fixed"},
            "l": {"anyOf": [{"type": "null"}, {"$ref": "#/$defs/Point"}]},
            "m": {"allOf": [{"$ref": "#/$defs/Point"}], "description": "pydantic wraps refs like this"},
            "n": {"type": "string", "format": "date-time"},
            "o": {"type": "string", "format": "uuid"},
            "p": {"type": "string", "format": "email"},
            "q": {"type": "null"},
            "r": {"type": "boolean"},
        },
        "required": ["a"],
        "$defs": {"Point": {"type": "object", "properties": {"x": {"type": "number"}}, "required": ["x"]}},
    }
    for seed in ("one", "two", "three"):
        value = SchemaFaker(schema, seed).generate()
        jsonschema.validate(value, schema, format_checker=jsonschema.FormatChecker())
        assert set(value) == set(schema["properties"])
        assert len(value["g"]) == 1 and len(value["f"]) == 2 and len(value["e"]) == 6
        assert value["l"] == {"x": value["l"]["x"]} and value["m"]["x"] is not None
    a = SchemaFaker(schema, "one").generate()
    assert a == SchemaFaker(schema, "one").generate() and a != SchemaFaker(schema, "two").generate()


def test_json_object_mode(fake_openai):
    body = chat_body("Answer in JSON.", response_format={"type": "json_object"})
    status, _, raw = run(chat(fake_openai, body))
    assert status == 200
    content = json.loads(json.loads(raw)["choices"][0]["message"]["content"])
    assert isinstance(content, dict) and isinstance(content["answer"], str)
    # like OpenAI: json_object requires the word "json" in the messages (can be switched off)
    assert run(chat(fake_openai, chat_body("Answer.", response_format={"type": "json_object"})))[0] == 400
    fake_openai.require_json_word = False
    assert run(chat(fake_openai, chat_body("Answer.", response_format={"type": "json_object"})))[0] == 200


def test_responder_hook(fake_openai):
    seen = []

    def responder(req: dict) -> str | None:
        seen.append(req)
        return "custom answer" if "custom" in req["messages"][-1]["content"] else None

    fake_openai.responder = responder
    custom = json.loads(run(chat(fake_openai, chat_body("please custom")))[2])
    assert custom["choices"][0]["message"]["content"] == "custom answer"
    normal = json.loads(run(chat(fake_openai, chat_body("normal")))[2])
    assert normal["choices"][0]["message"]["content"] not in ("", "custom answer")
    assert len(seen) == 2 and seen[0]["model"] == "fake-model"

    def broken(req: dict) -> str:
        raise RuntimeError("boom")

    fake_openai.responder = broken
    status, _, raw = run(chat(fake_openai, chat_body()))
    assert status == 500 and "boom" in raw


# -- models, stats, routing -----------------------------------------------------------------------------


def test_models(fake_openai):
    status, _, raw = run(get(fake_openai, "/v1/models"))
    assert status == 200 and [m["id"] for m in json.loads(raw)["data"]] == ["fake-model", "fake-vlm"]
    assert run(get(fake_openai, "/models"))[0] == 200

    async def main():
        async with sdk(fake_openai) as c:
            ids = [m.id async for m in c.models.list()]
            one = await c.models.retrieve("fake-vlm")
            with pytest.raises(openai.NotFoundError):
                await c.models.retrieve("nope")
            return ids, one

    ids, one = run(main())
    assert ids == ["fake-model", "fake-vlm"] and one.id == "fake-vlm"


def test_stats_endpoint_and_reset(fake_openai):
    run(chat(fake_openai, chat_body()))
    run(chat(fake_openai, chat_body(model="nope")))
    status, _, raw = run(get(fake_openai, "/stats", key=None))
    stats = json.loads(raw)
    assert status == 200
    assert stats["requests"] == 2 and stats["ok"] == 1 and stats["by_status"] == {"200": 1, "404": 1}
    assert stats["by_key"] == {body_key(chat_body()): 1} and stats["max_in_flight"] == 1
    fake_openai.reset()
    assert fake_openai.requests == 0 and not fake_openai.by_status and not fake_openai.by_key
    run(chat(fake_openai, chat_body()))
    assert run(post(fake_openai, "/stats/reset", {}, key=None))[0] == 200
    assert fake_openai.snapshot()["requests"] == 0


def test_unknown_route(fake_openai):
    status, _, raw = run(get(fake_openai, "/v1/nothing"))
    assert status == 404 and "Unknown request URL" in json.loads(raw)["error"]["message"]


def test_by_key_counts_successes_only(fake_openai):
    a, b = chat_body("a"), chat_body("b")
    fake_openai.script = ["500", "429", "malformed", "bad_content", "ok", "ok", "ok"]
    statuses = [run(chat(fake_openai, a))[0] for _ in range(4)]
    assert statuses == [500, 429, 200, 200]
    assert fake_openai.by_key == {} and fake_openai.ok == 0  # broken 200s are not successes
    run(chat(fake_openai, a))
    run(chat(fake_openai, b))
    assert fake_openai.by_key == {body_key(a): 1, body_key(b): 1} and fake_openai.max_successes() == 1
    run(chat(fake_openai, a))
    assert fake_openai.by_key[body_key(a)] == 2 and fake_openai.max_successes() == 2
    assert fake_openai.by_status == {500: 1, 429: 1, 200: 5} and fake_openai.requests == 7
    assert body_key(json.dumps(a)) == body_key(a)  # str/bytes bodies hash the same as dicts


def test_counters_under_concurrency(fake_openai):
    fake_openai.latency = 0.05

    async def main():
        async with aiohttp.ClientSession() as http:

            async def one(i: int) -> int:
                async with http.post(
                    fake_openai.base_url + "/chat/completions",
                    json=chat_body(f"q{i}"),
                    headers={"Authorization": f"Bearer {KEY}"},
                ) as r:
                    await r.read()
                    return r.status

            return await asyncio.gather(*(one(i) for i in range(40)))

    assert run(main()) == [200] * 40
    s = fake_openai.snapshot()
    assert s["requests"] == s["ok"] == 40 and len(s["by_key"]) == 40
    assert 10 <= s["max_in_flight"] <= 40 and s["in_flight"] == 0


# -- failure injection ----------------------------------------------------------------------------------


def test_script_is_exact_and_429_headers(fake_openai):
    fake_openai.script = ["429", "429", "ok"]
    fake_openai.retry_after = 3
    results = [run(chat(fake_openai, chat_body())) for _ in range(4)]
    assert [r[0] for r in results] == [429, 429, 200, 200]
    headers, body = results[0][1], json.loads(results[0][2])
    assert headers["retry-after"] == "3" and headers["retry-after-ms"] == "3000"
    assert body["error"]["code"] == "rate_limit_exceeded"
    assert fake_openai.script == []
    fake_openai.retry_after = 0.25  # ms header is exact, seconds header stays an integer >= 1
    fake_openai.script = ["429"]
    headers = run(chat(fake_openai, chat_body()))[1]
    assert headers["retry-after"] == "1" and headers["retry-after-ms"] == "250"


def test_script_unknown_entry(fake_openai):
    fake_openai.script = ["teapot"]
    status, _, raw = run(chat(fake_openai, chat_body()))
    assert status == 500 and "teapot" in raw


def test_injected_errors_with_sdk(fake_openai):
    async def main():
        async with sdk(fake_openai) as c:
            msgs = [{"role": "user", "content": "x"}]
            fake_openai.script = ["500", "429", "ok"]
            with pytest.raises(openai.InternalServerError):
                await c.chat.completions.create(model="fake-model", messages=msgs)
            with pytest.raises(openai.RateLimitError) as info:
                await c.chat.completions.create(model="fake-model", messages=msgs)
            assert info.value.response.headers["retry-after-ms"] == "1000"
            r = await c.chat.completions.create(model="fake-model", messages=msgs)
            assert r.choices[0].message.content

    run(main())
    assert fake_openai.by_status == {500: 1, 429: 1, 200: 1}


def test_sdk_retries_through_injected_errors(fake_openai):
    fake_openai.script = ["500", "429", "ok"]
    fake_openai.retry_after = 0.01

    async def main():
        client = openai.AsyncOpenAI(base_url=fake_openai.base_url, api_key=KEY, max_retries=3)
        async with client:
            return await client.chat.completions.create(
                model="fake-model", messages=[{"role": "user", "content": "x"}]
            )

    assert run(main()).choices[0].message.content
    assert fake_openai.requests == 3 and fake_openai.ok == 1 and fake_openai.max_successes() == 1


def test_timeout_with_sdk_and_raw(fake_openai):
    fake_openai.hang = 5
    fake_openai.script = ["timeout"]

    async def main():
        async with sdk(fake_openai, timeout=0.2) as c:
            with pytest.raises(openai.APITimeoutError):
                await c.chat.completions.create(
                    model="fake-model", messages=[{"role": "user", "content": "x"}]
                )

    run(main())
    fake_openai.timeout_rate = 1.0
    with pytest.raises(asyncio.TimeoutError):
        run(chat(fake_openai, chat_body(), timeout=0.2))
    fake_openai.timeout_rate = 0.0
    fake_openai.hang = 0.3  # a short hang is just slow: a patient client gets a normal answer
    fake_openai.script = ["timeout"]
    assert run(chat(fake_openai, chat_body("patient")))[0] == 200
    assert fake_openai.by_key == {body_key(chat_body("patient")): 1}
    fake_openai.stop()  # wakes the two handlers still hanging
    assert fake_openai.by_status[499] == 2  # answered after the clients had given up: not a success


def test_malformed_and_bad_content(fake_openai):
    fake_openai.script = ["malformed", "bad_content", "length"]
    status, _, raw = run(chat(fake_openai, chat_body()))
    assert status == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(raw)
    fmt = schema_format(QA)
    status, _, raw = run(chat(fake_openai, chat_body(response_format=fmt)))
    content = json.loads(raw)["choices"][0]["message"]["content"]
    assert status == 200 and content.startswith("Sure! Here is {")
    with pytest.raises(json.JSONDecodeError):
        json.loads(content)
    status, _, raw = run(chat(fake_openai, chat_body(response_format=fmt)))
    assert json.loads(raw)["choices"][0]["finish_reason"] == "length"
    assert fake_openai.ok == 0 and fake_openai.by_status == {200: 3}

    async def main():
        async with sdk(fake_openai) as c:
            fake_openai.script = ["malformed"]
            with pytest.raises((ValueError, openai.APIError)):  # the SDK surfaces a JSON decode error
                await c.chat.completions.create(
                    model="fake-model", messages=[{"role": "user", "content": "x"}]
                )

    run(main())


def test_random_injection_is_seeded_and_deterministic():
    rates = {"fail_rate": 0.2, "rate_limit_rate": 0.2, "malformed_rate": 0.1, "bad_content_rate": 0.1}

    def sequence(server: FakeOpenAI) -> list[tuple[int, bool]]:
        out = []
        for i in range(60):
            status, _, raw = run(chat(server, chat_body(f"q{i}")))
            out.append((status, status == 200 and "Sure!" not in raw and raw.endswith("}")))
        return out

    with FakeOpenAI(seed=7, **rates) as a, FakeOpenAI(seed=7, **rates) as b, FakeOpenAI(seed=8, **rates) as c:
        first = sequence(a)
        assert first == sequence(b)
        assert first != sequence(c)
        a.reset()  # reseeds
        assert sequence(a) == first
        statuses = [s for s, _ in first]
        assert 4 <= statuses.count(500) <= 25 and 4 <= statuses.count(429) <= 25
        assert a.ok == sum(good for _, good in first)


def test_injection_only_after_validation(fake_openai):
    fake_openai.fail_rate = 1.0
    assert run(chat(fake_openai, chat_body(), key="bad"))[0] == 401
    assert run(chat(fake_openai, chat_body(model="x")))[0] == 404
    assert run(chat(fake_openai, {"model": "fake-model", "messages": []}))[0] == 400
    fake_openai.script = ["ok"]  # the script is not consumed by invalid requests either
    fake_openai.script.insert(0, "429")
    assert run(chat(fake_openai, chat_body(), key="bad"))[0] == 401
    assert [run(chat(fake_openai, chat_body()))[0] for _ in range(3)] == [429, 200, 500]
    fake_openai.fail_rate = 0.0  # settable while running
    assert run(chat(fake_openai, chat_body()))[0] == 200


def test_latency(fake_openai):
    fake_openai.latency = 0.2

    async def main():
        async with sdk(fake_openai) as c:
            msgs = [{"role": "user", "content": "x"}]
            await asyncio.gather(
                *(c.chat.completions.create(model="fake-model", messages=msgs) for _ in range(8))
            )

    run(main())
    assert fake_openai.max_in_flight == 8  # the eight waited side by side, not one after another


def test_rpm_token_bucket(fake_openai):
    fake_openai.rpm = 120  # 2 per second, 1 s burst -> 2 at once
    results = [run(chat(fake_openai, chat_body(f"q{i}"))) for i in range(3)]
    assert [r[0] for r in results] == [200, 200, 429]
    for _, headers, _ in results:
        assert headers["x-ratelimit-limit-requests"] == "120"
        assert int(headers["x-ratelimit-limit-tokens"]) > 0
        assert "x-ratelimit-remaining-requests" in headers
    h429 = results[2][1]
    assert h429["x-ratelimit-remaining-requests"] == "0"
    assert 1 <= int(h429["retry-after-ms"]) <= 520 and h429["retry-after"] == "1"

    async def main():
        async with sdk(fake_openai) as c:
            with pytest.raises(openai.RateLimitError):
                await c.chat.completions.create(
                    model="fake-model", messages=[{"role": "user", "content": "x"}]
                )

    run(main())
    time.sleep(int(h429["retry-after-ms"]) / 1000 + 0.05)
    assert run(chat(fake_openai, chat_body("later")))[0] == 200
    fake_openai.rpm = None
    statuses = [run(chat(fake_openai, chat_body()))[0] for _ in range(5)]
    assert statuses == [200] * 5
    assert "x-ratelimit-limit-requests" not in run(chat(fake_openai, chat_body()))[1]


# -- files ------------------------------------------------------------------------------------------------


def test_files_raw(fake_openai):
    async def main():
        headers = {"Authorization": f"Bearer {KEY}"}
        async with aiohttp.ClientSession() as http:
            form = aiohttp.FormData()
            form.add_field("purpose", "batch")
            form.add_field("file", b'{"a": 1}\n', filename="in.jsonl", content_type="application/jsonl")
            async with http.post(fake_openai.base_url + "/files", data=form, headers=headers) as r:
                assert r.status == 200
                obj = await r.json()
            form = aiohttp.FormData()
            form.add_field("file", b"x", filename="x.jsonl")
            async with http.post(fake_openai.base_url + "/files", data=form, headers=headers) as r:
                assert r.status == 400
            async with http.post(
                fake_openai.base_url + "/files", json={"purpose": "batch"}, headers=headers
            ) as r:
                assert r.status == 400
            return obj

    obj = run(main())
    assert obj["id"].startswith("file-") and obj["object"] == "file" and obj["status"] == "processed"
    assert obj["bytes"] == 9 and obj["filename"] == "in.jsonl" and obj["purpose"] == "batch"
    assert isinstance(obj["created_at"], int)
    status, _, raw = run(get(fake_openai, f"/v1/files/{obj['id']}"))
    assert status == 200 and json.loads(raw) == obj
    status, headers, raw = run(get(fake_openai, f"/v1/files/{obj['id']}/content"))
    assert status == 200 and raw == b'{"a": 1}\n'
    listing = json.loads(run(get(fake_openai, "/v1/files"))[2])
    assert [f["id"] for f in listing["data"]] == [obj["id"]]
    assert run(get(fake_openai, "/v1/files/file-missing"))[0] == 404
    assert run(get(fake_openai, "/v1/files/file-missing/content"))[0] == 404
    assert fake_openai.file_data[obj["id"]] == b'{"a": 1}\n'


def test_files_with_sdk(fake_openai):
    async def main():
        async with sdk(fake_openai) as c:
            f = await c.files.create(file=("notes.jsonl", b"line\n"), purpose="batch")
            got = await c.files.retrieve(f.id)
            content = await c.files.content(f.id)
            deleted = await c.files.delete(f.id)
            with pytest.raises(openai.NotFoundError):
                await c.files.retrieve(f.id)
            return f, got, content, deleted

    f, got, content, deleted = run(main())
    assert f.id == got.id and f.bytes == 5 and f.filename == "notes.jsonl" and f.purpose == "batch"
    assert content.content == b"line\n" and deleted.deleted


# -- batches ----------------------------------------------------------------------------------------------


def batch_jsonl(lines: list[dict]) -> bytes:
    return "".join(json.dumps(x) + "\n" for x in lines).encode()


def batch_line(custom_id: str, body: dict) -> dict:
    return {"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions", "body": body}


def test_batch_lifecycle_with_sdk_and_resume(fake_openai):
    lines = [
        batch_line("plain", chat_body("first")),
        batch_line("schema", chat_body("second", response_format=schema_format(QA))),
        batch_line("image", {"model": "fake-vlm", "messages": [image_message("third", (b"img", "low"))]}),
    ]

    async def create():
        async with sdk(fake_openai) as c:
            f = await c.files.create(file=("batch.jsonl", batch_jsonl(lines)), purpose="batch")
            batch = await c.batches.create(
                input_file_id=f.id,
                endpoint="/v1/chat/completions",
                completion_window="24h",
                metadata={"run": "r1"},
            )
            assert batch.status == "validating" and batch.input_file_id == f.id
            polled = await c.batches.retrieve(batch.id)
            assert polled.status == "in_progress" and polled.request_counts.total == 3
            assert polled.output_file_id is None
            return batch.id

    batch_id = run(create())

    async def resume():  # a new client, as after a process restart
        async with sdk(fake_openai) as c:
            batch = await c.batches.retrieve(batch_id)
            assert batch.status == "completed"
            assert batch.request_counts.model_dump() == {"total": 3, "completed": 3, "failed": 0}
            assert batch.metadata == {"run": "r1"} and batch.error_file_id is None
            assert batch.usage is not None and batch.usage.total_tokens > 0
            again = await c.batches.retrieve(batch_id)
            assert again.status == "completed" and again.output_file_id == batch.output_file_id
            content = await c.files.content(batch.output_file_id)
            listing = await c.batches.list()
            return content.text, [b.id for b in listing.data]

    text, listed = run(resume())
    assert listed == [batch_id]
    out = [json.loads(x) for x in text.splitlines()]
    assert [x["custom_id"] for x in out] == ["plain", "schema", "image"]
    for x in out:
        assert x["id"].startswith("batch_req_") and x["error"] is None
        assert x["response"]["status_code"] == 200 and x["response"]["request_id"]
        assert x["response"]["body"]["object"] == "chat.completion"
    QA.model_validate_json(out[1]["response"]["body"]["choices"][0]["message"]["content"])
    assert out[2]["response"]["body"]["model"] == "fake-vlm"
    direct = json.loads(run(chat(fake_openai, chat_body("first")))[2])
    assert (
        direct["choices"][0]["message"]["content"]
        == out[0]["response"]["body"]["choices"][0]["message"]["content"]
    )
    assert fake_openai.requests == 1 and fake_openai.batch_lines == 3


@pytest.mark.parametrize("polls", [1, 3])
def test_batch_polls_to_complete(polls):
    with FakeOpenAI(batch_polls_to_complete=polls) as server:
        fid = server.add_file(batch_jsonl([batch_line("a", chat_body())]), "b.jsonl", "batch")["id"]
        status, _, raw = run(post(server, "/v1/batches", {"input_file_id": fid, **BATCH_ARGS}))
        assert status == 200
        bid = json.loads(raw)["id"]
        seen = [json.loads(run(get(server, f"/v1/batches/{bid}"))[2])["status"] for _ in range(polls + 1)]
        assert seen == ["in_progress"] * (polls - 1) + ["completed", "completed"]


BATCH_ARGS = {"endpoint": "/v1/chat/completions", "completion_window": "24h"}


def test_batch_failures_go_to_error_file(fake_openai):
    lines = [batch_line("good", chat_body()), batch_line("bad-model", chat_body(model="nope"))]
    fid = fake_openai.add_file(batch_jsonl(lines), "b.jsonl", "batch")["id"]
    batch = json.loads(run(post(fake_openai, "/v1/batches", {"input_file_id": fid, **BATCH_ARGS}))[2])
    fake_openai.batch_polls_to_complete = 1
    done = fake_openai.poll_batch(batch["id"])
    assert done["status"] == "completed" and done["request_counts"] == {
        "total": 2,
        "completed": 1,
        "failed": 1,
    }
    errors = [json.loads(x) for x in fake_openai.file_data[done["error_file_id"]].splitlines()]
    assert errors[0]["custom_id"] == "bad-model" and errors[0]["response"]["status_code"] == 404
    assert errors[0]["response"]["body"]["error"]["code"] == "model_not_found"

    fake_openai.batch_fail_rate = 1.0
    fid = fake_openai.add_file(batch_jsonl([batch_line("x", chat_body())]), "c.jsonl", "batch")["id"]
    batch = json.loads(run(post(fake_openai, "/v1/batches", {"input_file_id": fid, **BATCH_ARGS}))[2])
    done = json.loads(run(get(fake_openai, f"/v1/batches/{batch['id']}"))[2])
    assert done["request_counts"] == {"total": 1, "completed": 0, "failed": 1}
    assert done["output_file_id"] is None
    (error,) = [json.loads(x) for x in fake_openai.file_data[done["error_file_id"]].splitlines()]
    assert (
        error["custom_id"] == "x" and error["response"] is None and error["error"]["code"] == "server_error"
    )


def test_batch_validation(fake_openai):
    bad = batch_jsonl([batch_line("a", chat_body()), batch_line("a", chat_body())]) + b"{nope\n"
    fid = fake_openai.add_file(bad, "bad.jsonl", "batch")["id"]
    batch = json.loads(run(post(fake_openai, "/v1/batches", {"input_file_id": fid, **BATCH_ARGS}))[2])
    failed = json.loads(run(get(fake_openai, f"/v1/batches/{batch['id']}"))[2])
    assert failed["status"] == "failed" and failed["failed_at"]
    assert [e["code"] for e in failed["errors"]["data"]] == ["duplicate_custom_id", "invalid_json_line"]
    assert [e["line"] for e in failed["errors"]["data"]] == [2, 3]
    assert run(post(fake_openai, "/v1/batches", {"input_file_id": "file-nope", **BATCH_ARGS}))[0] == 404
    assert (
        run(post(fake_openai, "/v1/batches", {"input_file_id": fid, **BATCH_ARGS, "endpoint": "/v1/x"}))[0]
        == 400
    )
    args = {"input_file_id": fid, **BATCH_ARGS, "completion_window": "1h"}
    assert run(post(fake_openai, "/v1/batches", args))[0] == 400
    assert run(get(fake_openai, "/v1/batches/batch_nope"))[0] == 404
    assert run(post(fake_openai, "/v1/batches", {"input_file_id": fid, **BATCH_ARGS}, key="bad"))[0] == 401


def test_batch_cancel_and_list_with_sdk(fake_openai):
    data = batch_jsonl([batch_line("a", chat_body())])

    async def main():
        async with sdk(fake_openai) as c:
            f = await c.files.create(file=("b.jsonl", data), purpose="batch")
            first = await c.batches.create(input_file_id=f.id, **BATCH_ARGS)
            second = await c.batches.create(input_file_id=f.id, **BATCH_ARGS)
            cancelling = await c.batches.cancel(first.id)
            assert cancelling.status == "cancelling"
            cancelled = await c.batches.retrieve(first.id)
            assert cancelled.status == "cancelled" and cancelled.output_file_id is None
            for _ in range(2):
                done = await c.batches.retrieve(second.id)
            assert done.status == "completed"
            with pytest.raises(openai.BadRequestError):
                await c.batches.cancel(second.id)
            page = await c.batches.list(limit=1)
            assert [b.id for b in page.data] == [second.id] and page.has_more
            return [b.id async for b in c.batches.list(limit=1)], first.id, second.id

    ids, first, second = run(main())
    assert ids == [second, first]
    assert set(fake_openai.batches) == {first, second}


def test_batches_survive_server_restart(fake_openai):
    fid = fake_openai.add_file(batch_jsonl([batch_line("a", chat_body())]), "b.jsonl", "batch")["id"]
    bid = json.loads(run(post(fake_openai, "/v1/batches", {"input_file_id": fid, **BATCH_ARGS}))[2])["id"]
    fake_openai.stop()
    fake_openai.start()

    async def main():
        async with sdk(fake_openai) as c:
            statuses = [(await c.batches.retrieve(bid)).status for _ in range(2)]
            return statuses, (await c.files.retrieve(fid)).id

    assert run(main()) == (["in_progress", "completed"], fid)
