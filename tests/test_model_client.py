"""The model client over real HTTP against the loopback server: retries, limits, cache,
structured output, failures, cost and the Batch API."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest
from PIL import Image
from pydantic import BaseModel, Field

from visinstruct.models import ChatRequest, Endpoint, ModelClient, ModelFatalError, Price, run_async
from visinstruct.models.ledger import ledger_rows
from visinstruct.models.limits import Limiter, TokenBucket


def endpoint(server, **kw) -> Endpoint:
    base = {
        "name": "llm",
        "model": "fake-model",
        "base_url": server.base_url,
        "provider": "vllm",
        "api_key_env": "VISINSTRUCT_TEST_KEY",
        "max_in_flight": 32,
        "timeout": 5.0,
    }
    base.update(kw)
    return Endpoint(**base)


@pytest.fixture(autouse=True)
def key(monkeypatch):
    monkeypatch.setenv("VISINSTRUCT_TEST_KEY", "sk-test")


def text(i: int, stage: str = "default", **params) -> ChatRequest:
    return ChatRequest(
        [{"role": "user", "content": f"question number {i}"}],
        endpoint="llm",
        stage=stage,
        params={"max_tokens": 32, **params},
    )


def run(client: ModelClient, requests) -> list:
    async def go():
        async with client:
            return await client.run(requests)

    return run_async(go())


class QA(BaseModel):
    question: str
    answer: str
    options: list[str] = Field(min_length=4, max_length=4)


# -- retries ---------------------------------------------------------------------------------
def test_429_with_retry_after_is_honoured(fake_openai, tmp_path, monkeypatch):
    fake_openai.retry_after = 0.3
    fake_openai.script = ["429", "429", "ok"]
    backoff, delays = ModelClient._backoff, []

    def recorded(self, attempt, err):
        delays.append(backoff(self, attempt, err))
        return delays[-1]

    monkeypatch.setattr(ModelClient, "_backoff", recorded)
    [out] = run(ModelClient([endpoint(fake_openai)], cache=tmp_path / "c.db"), [text(1)])
    assert out.ok and out.attempts == 3
    assert fake_openai.requests == 3
    assert len(delays) == 2 and all(d >= 0.3 for d in delays), "waits Retry-After (0.3 s) each time"


@pytest.mark.parametrize("failure", ["500", "malformed", "timeout"])
def test_transient_failures_are_retried(fake_openai, tmp_path, failure):
    fake_openai.hang = 3.0
    fake_openai.script = [failure, failure, "ok"]
    ep = endpoint(fake_openai, timeout=0.5)
    [out] = run(ModelClient([ep], cache=tmp_path / "c.db"), [text(1)])
    assert out.ok, out.error
    assert out.attempts == 3
    assert fake_openai.max_successes() == 1


def test_retries_exhausted_is_recorded_not_raised(fake_openai, tmp_path):
    fake_openai.script = ["500"] * 3
    db = sqlite3.connect(tmp_path / "run.db")
    [out] = run(
        ModelClient([endpoint(fake_openai, max_retries=2)], cache=tmp_path / "c.db", db=db), [text(1)]
    )
    assert not out.ok and "gave up after 3 attempts" in out.error and "500" in out.error
    [(reason,)] = db.execute("SELECT reason FROM model_failures").fetchall()
    assert "gave up" in reason


@pytest.mark.parametrize("transport", ["aiohttp", "sdk"])
def test_invalid_key_stops_at_once_with_one_clear_message(fake_openai, tmp_path, monkeypatch, transport):
    monkeypatch.setenv("VISINSTRUCT_TEST_KEY", "sk-wrong")
    ep = endpoint(fake_openai, max_in_flight=4, transport=transport)
    with pytest.raises(ModelFatalError) as e:
        run(ModelClient([ep], cache=tmp_path / "c.db"), [text(i) for i in range(200)])
    msg = str(e.value)
    assert "401" in msg and "VISINSTRUCT_TEST_KEY" in msg and "\n" not in msg
    assert fake_openai.requests <= 8, "stopped at once, not after every request failed"


def test_unknown_model_is_fatal(fake_openai, tmp_path):
    with pytest.raises(ModelFatalError, match="404.*model name"):
        run(ModelClient([endpoint(fake_openai, model="no-such-model")], cache=tmp_path / "c.db"), [text(1)])


def test_sdk_transport_retries_the_same_way(fake_openai, tmp_path):
    fake_openai.retry_after = 0.1
    fake_openai.script = ["429", "500", "malformed", "ok"]
    [out] = run(ModelClient([endpoint(fake_openai, transport="sdk")], cache=tmp_path / "c.db"), [text(1)])
    assert out.ok and out.attempts == 4


# -- a big job with failures -------------------------------------------------------------------
def test_2000_requests_with_injected_failures_none_lost_none_resent(fake_openai, tmp_path):
    fake_openai.fail_rate = 0.10
    fake_openai.malformed_rate = 0.10
    ep = endpoint(fake_openai, max_in_flight=100, max_retries=2)
    client = ModelClient([ep], cache=tmp_path / "c.db", db=sqlite3.connect(tmp_path / "run.db"), seed=1)
    client._backoff = lambda attempt, err: 0.001  # keep the test quick; backoff itself is tested below
    outs = run(client, [text(i) for i in range(2000)])
    assert len(outs) == 2000
    assert all(o.ok or o.error for o in outs)
    failed = [o for o in outs if not o.ok]
    assert all("gave up after 3 attempts" in o.error for o in failed)
    ok = [o for o in outs if o.ok]
    assert len(ok) + len(failed) == 2000 and len(ok) > 1900
    assert fake_openai.max_successes() == 1, "no request was sent again after it succeeded"
    assert fake_openai.ok == len(ok)
    # failures are recorded with their reason; a re-run sends only the failed ones
    fake_openai.fail_rate = fake_openai.malformed_rate = 0.0
    fake_openai.reset()
    again = run(ModelClient([ep], cache=tmp_path / "c.db"), [text(i) for i in range(2000)])
    assert all(o.ok for o in again)
    assert fake_openai.requests == len(failed)


# -- cache -------------------------------------------------------------------------------------
def test_rerunning_a_finished_job_sends_nothing(fake_openai, tmp_path):
    reqs = [text(i) for i in range(50)]
    first = run(ModelClient([endpoint(fake_openai)], cache=tmp_path / "c.db"), reqs)
    assert fake_openai.requests == 50
    fake_openai.reset()
    second = run(ModelClient([endpoint(fake_openai)], cache=tmp_path / "c.db"), [text(i) for i in range(50)])
    assert fake_openai.requests == 0
    assert [o.text for o in first] == [o.text for o in second] and all(o.cached for o in second)


def test_cache_key_depends_on_params_and_model(fake_openai, tmp_path):
    c = ModelClient([endpoint(fake_openai), endpoint(fake_openai, name="vlm", model="fake-vlm")])
    a, b = text(1), text(1, temperature=0.7)
    other = ChatRequest(a.messages, endpoint="vlm", params=a.params)
    assert len({c.key(a), c.key(b), c.key(other)}) == 3
    assert c.key(a) == c.key(text(1))


def test_same_image_under_two_names_is_one_cache_entry(fake_openai, tmp_path):
    img = Image.new("RGB", (300, 200), (200, 30, 30))
    img.save(tmp_path / "a.png")
    (tmp_path / "copy-of-a.png").write_bytes((tmp_path / "a.png").read_bytes())
    Image.new("RGB", (300, 200), (30, 30, 200)).save(tmp_path / "b.png")

    def ask(path):
        return ChatRequest(
            [
                {
                    "role": "user",
                    "content": [{"type": "text", "text": "Describe."}, {"type": "image", "image": str(path)}],
                }
            ],
            endpoint="llm",
        )

    client = ModelClient(
        [endpoint(fake_openai, image_max_side=128, image_detail="low")], cache=tmp_path / "c.db"
    )
    outs = run(client, [ask(tmp_path / "a.png"), ask(tmp_path / "b.png")])
    outs += run(
        ModelClient([endpoint(fake_openai, image_max_side=128, image_detail="low")], cache=tmp_path / "c.db"),
        [ask(tmp_path / "copy-of-a.png")],
    )
    assert all(o.ok for o in outs)
    assert fake_openai.requests == 2
    assert outs[2].cached and outs[2].text == outs[0].text
    assert len(client.cache) == 2
    # the image went as a resized base64 data URL with the configured detail
    assert {d for d, _ in fake_openai.images} == {"low"}


# -- structured output -----------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["json_schema", "json_object", "prompt"])
def test_structured_output_is_validated(fake_openai, tmp_path, mode):
    fake_openai.responder = (
        None
        if mode == "json_schema"
        else (lambda req: '{"question": "q?", "answer": "a", "options": ["a", "b", "c", "d"]}')
    )
    req = ChatRequest([{"role": "user", "content": "Write a JSON question."}], endpoint="llm", schema=QA)
    [out] = run(ModelClient([endpoint(fake_openai, structured=mode)], cache=tmp_path / "c.db"), [req])
    assert out.ok, out.error
    assert isinstance(out.value, QA) and len(out.value.options) == 4
    sent = fake_openai.last_request
    if mode == "json_schema":
        assert sent["response_format"]["type"] == "json_schema"
    elif mode == "json_object":
        assert sent["response_format"] == {"type": "json_object"}
    else:
        assert "response_format" not in sent and "JSON schema" in sent["messages"][-1]["content"]


def test_invalid_output_gets_one_repair_then_is_recorded(fake_openai, tmp_path):
    db = sqlite3.connect(tmp_path / "run.db")
    req = ChatRequest([{"role": "user", "content": "q"}], endpoint="llm", schema=QA)
    fake_openai.script = ["bad_content", "ok"]
    [fixed] = run(ModelClient([endpoint(fake_openai)], cache=tmp_path / "c.db", db=db), [req])
    assert fixed.ok and fixed.repaired and fake_openai.requests == 2
    assert "cannot be used" in fake_openai.last_request["messages"][-1]["content"]

    req2 = ChatRequest([{"role": "user", "content": "another"}], endpoint="llm", schema=QA)
    fake_openai.script = ["bad_content", "bad_content"]
    [broken] = run(ModelClient([endpoint(fake_openai)], cache=tmp_path / "c.db", db=db), [req2])
    assert not broken.ok and "after one repair" in broken.error and broken.text
    assert fake_openai.requests == 4
    [(reason, raw)] = db.execute("SELECT reason, raw FROM model_failures").fetchall()
    assert "not valid JSON" in reason and raw == broken.text
    # nothing invalid was cached: a re-run asks again (the repaired one comes from the cache)
    fake_openai.reset()
    [again, cached] = run(
        ModelClient([endpoint(fake_openai)], cache=tmp_path / "c.db"),
        [ChatRequest([{"role": "user", "content": "another"}], endpoint="llm", schema=QA), req],
    )
    assert again.ok and not again.cached and cached.ok and cached.cached
    assert fake_openai.requests == 1


def test_parsing_is_separate_from_fetching(fake_openai, tmp_path):
    """A stage that changes how it reads the text re-uses the cached raw reply."""
    run(ModelClient([endpoint(fake_openai)], cache=tmp_path / "c.db"), [text(7)])
    fake_openai.reset()
    [out] = run(ModelClient([endpoint(fake_openai)], cache=tmp_path / "c.db"), [text(7)])
    assert fake_openai.requests == 0
    assert out.response["choices"][0]["message"]["content"] == out.text and out.usage["completion_tokens"] > 0


# -- rate limits -------------------------------------------------------------------------------
def test_limits_are_learned_from_headers_without_a_429_storm(fake_openai, tmp_path):
    fake_openai.rpm = 1200  # 20/s, 1 s burst
    fake_openai.latency = 0.05
    ep = endpoint(fake_openai, provider="openai", max_in_flight=64)
    client = ModelClient([ep], cache=tmp_path / "c.db")
    outs = run(client, [text(i) for i in range(60)])
    assert all(o.ok for o in outs)
    assert fake_openai.by_status.get(429, 0) <= 1  # the server refuses what comes faster than its limit
    assert client.limiters["llm"].requests.rate == pytest.approx(1200 * 0.99 / 60), "paced to the 1200/min"


def test_configured_rpm_paces_requests(fake_openai, tmp_path, monkeypatch):
    ep = endpoint(fake_openai, rpm=600, max_in_flight=64)  # 10/s after a 1 s burst of 10
    wait_time, waits = TokenBucket.wait_time, []

    def recorded(self, amount):
        waits.append(wait_time(self, amount))
        return waits[-1]

    monkeypatch.setattr(TokenBucket, "wait_time", recorded)
    client = ModelClient([ep], cache=tmp_path / "c.db")
    assert all(o.ok for o in run(client, [text(i) for i in range(25)]))
    assert client.limiters["llm"].requests.rate == pytest.approx(600 * 0.99 / 60)  # a hair under
    assert any(w > 0 for w in waits), "requests past the burst waited for the bucket"


def test_window_halves_on_429_and_grows_back():
    async def go():
        lim = Limiter(16)
        for _ in range(3):
            await lim.acquire(0)
            lim.done(None, False, 0, None)
            lim.throttled(None)
        assert lim.window.limit == 2
        for _ in range(200):
            await lim.acquire(0)
            lim.done(None, True, 0, None)
        return lim.window.limit

    assert run_async(go()) == 16


def test_in_flight_never_exceeds_the_cap(fake_openai, tmp_path):
    fake_openai.latency = 0.05
    run(
        ModelClient([endpoint(fake_openai, max_in_flight=7)], cache=tmp_path / "c.db"),
        [text(i) for i in range(60)],
    )
    assert fake_openai.max_in_flight <= 7


def test_backoff_grows_with_jitter():
    c = ModelClient([Endpoint(model="m", api_key_env=None, provider="vllm")], seed=3)
    waits = [[c._backoff(a, None) for _ in range(200)] for a in range(5)]
    assert all(0 <= w <= 0.25 * 2**a for a, ws in enumerate(waits) for w in ws)
    assert len(set(waits[3])) > 100 and max(waits[4]) > max(waits[0])


# -- cost ----------------------------------------------------------------------------------------
def test_ledger_counts_tokens_and_cost_per_endpoint_and_stage(fake_openai, tmp_path):
    db = sqlite3.connect(tmp_path / "run.db")
    ep = endpoint(fake_openai, price=Price(input=1000.0, output=2000.0))
    run(
        ModelClient([ep], cache=tmp_path / "c.db", db=db),
        [text(i, stage="caption") for i in range(5)] + [text(i, stage="instruct") for i in range(5, 8)],
    )
    rows = {r[1]: r for r in ledger_rows(db)}
    assert rows["caption"][3] == 5 and rows["instruct"][3] == 3
    _, _, _, _, _, _, _, tin, tout, cost = rows["caption"]
    assert tin > 0 and tout > 0
    assert cost == pytest.approx((tin * 1000 + tout * 2000) / 1e6)
    # cached answers cost nothing and are counted as cached
    run(ModelClient([ep], cache=tmp_path / "c.db", db=db), [text(i, stage="caption") for i in range(5)])
    rows = {r[1]: r for r in ledger_rows(db)}
    assert rows["caption"][3] == 5 and rows["caption"][4] == 5 and rows["caption"][9] == pytest.approx(cost)


def test_budget_stops_new_requests_and_a_later_run_continues(fake_openai, tmp_path):
    db = sqlite3.connect(tmp_path / "run.db")
    ep = endpoint(fake_openai, price=Price(input=10_000.0, output=10_000.0), max_in_flight=1)
    reqs = [text(i) for i in range(20)]
    client = ModelClient([ep], cache=tmp_path / "c.db", db=db, budget_usd=2.0)
    outs = run(client, reqs)
    sent = fake_openai.requests
    assert client.budget_hit and 0 < sent < 20
    assert sum(o.skipped for o in outs) == 20 - sent
    assert client.ledger.total_cost() <= 2.0
    fake_openai.reset()
    more = ModelClient([ep], cache=tmp_path / "c.db", db=db, budget_usd=100.0)
    assert all(o.ok for o in run(more, [text(i) for i in range(20)]))
    assert fake_openai.requests == 20 - sent


# -- batch ----------------------------------------------------------------------------------------
def test_batch_job_resumes_after_a_restart(fake_openai, tmp_path):
    fake_openai.batch_polls_to_complete = 3
    ep = endpoint(fake_openai, batch=True, price=Price(input=1000.0, output=1000.0))
    reqs = [text(i) for i in range(12)]
    db = sqlite3.connect(tmp_path / "run.db")

    async def interrupted():
        client = ModelClient([ep], cache=tmp_path / "c.db", db=db, batch_poll_interval=0.05)
        async with client:
            task = asyncio.create_task(client.run(reqs))
            while not fake_openai.batches:
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.02)
            task.cancel()  # the process dies while the batch is still running
            with pytest.raises(asyncio.CancelledError):
                await task

    run_async(interrupted())
    assert len(fake_openai.batches) == 1
    [(status,)] = db.execute("SELECT status FROM batches").fetchall()
    assert status not in ("collected", "completed")

    db2 = sqlite3.connect(tmp_path / "run.db")  # a new process
    client = ModelClient([ep], cache=tmp_path / "c.db", db=db2, batch_poll_interval=0.05)
    outs = run(client, [text(i) for i in range(12)])
    assert all(o.ok and o.cached for o in outs)
    assert len(fake_openai.batches) == 1, "resumed the batch instead of submitting a new one"
    assert fake_openai.requests == 0, "nothing went through the real-time endpoint"
    [(status,)] = db2.execute("SELECT status FROM batches").fetchall()
    assert status == "collected"
    (_, _, _, n, _, _, _, tin, tout, cost) = ledger_rows(db2)[0]
    assert n == 12 and cost == pytest.approx((tin + tout) * 1000 / 1e6 / 2), "batch is half price"


def test_dry_run_estimate_sends_nothing_and_skips_cached(fake_openai, tmp_path):
    ep = endpoint(fake_openai, price=Price(input=1.0, output=2.0))
    img = tmp_path / "x.png"
    Image.new("RGB", (2048, 2048), "white").save(img)
    vision = ChatRequest(
        [
            {
                "role": "user",
                "content": [{"type": "text", "text": "x" * 400}, {"type": "image", "image": str(img)}],
            }
        ],
        endpoint="llm",
        stage="caption",
        params={"max_tokens": 100},
    )

    async def go(client):
        async with client:
            return await client.estimate([text(i, stage="instruct") for i in range(10)] + [vision])

    [instruct, caption] = sorted(
        run_async(go(ModelClient([ep], cache=tmp_path / "c.db"))), key=lambda e: e.stage
    )[::-1]
    assert fake_openai.requests == 0
    assert (instruct.stage, instruct.requests, instruct.output_tokens) == ("instruct", 10, 320)
    assert caption.requests == 1 and caption.input_tokens == 100 + 765  # text + a 1024-px high-detail image
    assert caption.cost_usd == pytest.approx((865 * 1.0 + 100 * 2.0) / 1e6)
    run(ModelClient([ep], cache=tmp_path / "c.db"), [text(i, stage="instruct") for i in range(4)])
    [instruct, _] = sorted(run_async(go(ModelClient([ep], cache=tmp_path / "c.db"))), key=lambda e: e.stage)[
        ::-1
    ]
    assert instruct.requests == 6 and instruct.cached == 4


def test_status_shows_spend_and_failures(fake_openai, tmp_path):
    import subprocess
    import sys

    from visinstruct.store import RunStore

    with RunStore(tmp_path / "run") as store:
        fake_openai.script = ["500", "500"]
        ep = endpoint(fake_openai, price=Price(input=1000.0, output=1000.0), max_retries=1)
        run(ModelClient([ep], cache=tmp_path / "run" / "cache.db", db=store.db), [text(0, stage="caption")])
        client = ModelClient([ep], cache=tmp_path / "run" / "cache.db", db=store.db)
        run(client, [text(i, stage="caption") for i in range(1, 4)])
    p = subprocess.run(
        [sys.executable, "-m", "visinstruct.cli", "status", str(tmp_path / "run")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == 0, p.stderr
    assert "model calls" in p.stdout and "caption" in p.stdout and "fake-model" in p.stdout
    assert f"{client.ledger.total_cost():.4f}" in p.stdout
    assert "gave up after 2 attempts" in p.stdout
