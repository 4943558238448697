"""provider: vllm-offline — the request/row conversions, the cache and ledger fill, endpoint
validation; the real Ray Data vLLM processor runs only where vLLM and a GPU are."""

from __future__ import annotations

import importlib.util
import io
import sqlite3

import orjson
import pytest
from PIL import Image
from pydantic import BaseModel

from visinstruct.errors import RecipeError
from visinstruct.models import ChatRequest, Endpoint, ModelClient, offline, run_async
from visinstruct.models.ledger import ledger_rows
from visinstruct.recipe import parse_recipe


class Caption(BaseModel):
    caption: str
    objects: list[str]


def png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (32, 24), (200, 40, 40)).save(buf, "PNG")
    return buf.getvalue()


def vlm(**kw) -> Endpoint:
    return Endpoint(name="vlm", provider="vllm-offline", model="/models/Qwen2-VL-7B-Instruct", **kw)


def caption_request(text: str = "Describe the image.") -> ChatRequest:
    return ChatRequest(
        [{"role": "user", "content": [{"type": "text", "text": text}, {"type": "image", "image": png()}]}],
        endpoint="vlm",
        stage="caption",
        params={"temperature": 0.2, "max_tokens": 200},
        schema=Caption,
    )


def body_of(client: ModelClient, req: ChatRequest) -> dict:
    async def go() -> dict:
        ep = client.endpoint(req.endpoint)
        await client.open_endpoint(ep)
        await client.hash_images(req)
        return orjson.loads(await client.request_body(req, ep))

    return run_async(go())


# -- request → row -------------------------------------------------------------------------------
def test_a_chat_request_with_an_image_and_a_schema_becomes_the_row_the_processor_reads():
    client = ModelClient([vlm()])
    row = offline.request_row("k1", body_of(client, caption_request()))
    assert row["key"] == "k1" and row["max_tokens"] == 200 and row["images"] == 1
    assert isinstance(row["request"], str), "one JSON column: rows of any shape share an Arrow block"
    cols = offline.unpack_row(row)
    assert set(cols) == {"messages", "sampling_params"}
    user = cols["messages"][0]
    assert user["role"] == "user"
    text, image = user["content"]
    assert text == {"type": "text", "text": "Describe the image."}
    assert set(image) == {"type", "image"} and image["type"] == "image"
    assert image["image"].startswith("data:image/jpeg;base64,"), "PrepareImageStage loads data URLs"
    assert cols["messages"][-1]["role"] == "system", "the schema instruction, as for any endpoint"
    sp = cols["sampling_params"]
    assert sp["temperature"] == 0.2 and sp["max_tokens"] == 200
    schema = orjson.loads(sp["guided_decoding"]["json"])
    assert set(schema["properties"]) == {"caption", "objects"}
    assert schema["additionalProperties"] is False and set(schema["required"]) == {"caption", "objects"}


def test_sampling_params_map_openai_fields_and_refuse_what_vllm_would_not_honour():
    body = {"model": "m", "messages": [], "max_completion_tokens": 50, "seed": 3, "top_p": None}
    assert offline.sampling_params(body) == {"seed": 3, "max_tokens": 50}
    body = {"model": "m", "messages": [], "response_format": {"type": "json_object"}}
    assert offline.sampling_params(body) == {"guided_decoding": {"json_object": True}}
    with pytest.raises(offline.EndpointError, match="cannot send the request field 'logprobs'"):
        offline.sampling_params({"model": "m", "messages": [], "logprobs": True})


def test_processor_config_takes_the_endpoint_options_and_raises_the_image_limit():
    ep = vlm(tensor_parallel_size=2, concurrency=(1, 4), batch_size=32, max_model_len=8192)
    ep = ep.model_copy(update={"engine_kwargs": {"enable_prefix_caching": True}})
    rows = [{"images": 1}, {"images": 3}]
    cfg = offline.processor_config(ep, rows)
    assert cfg["model_source"] == "/models/Qwen2-VL-7B-Instruct"
    assert cfg["concurrency"] == (1, 4) and cfg["batch_size"] == 32 and cfg["has_image"] is True
    assert cfg["engine_kwargs"] == {
        "enable_prefix_caching": True,
        "tensor_parallel_size": 2,
        "max_model_len": 8192,
        "limit_mm_per_prompt": {"image": 3},
    }
    text_only = offline.processor_config(vlm(), [{"images": 0}])
    assert text_only["has_image"] is False and text_only["concurrency"] == 1
    assert text_only["batch_size"] == offline.DEFAULT_BATCH_SIZE


# -- row → reply -----------------------------------------------------------------------------------
def test_an_output_row_becomes_the_chat_completion_the_client_reads():
    out = offline.output_fields(
        {
            "key": "k1",
            "generated_text": '{"caption": "a red square", "objects": ["square"]}',
            "num_input_tokens": 321,
            "num_generated_tokens": 12,
            "max_tokens": 200,
            "prompt": "<|im_start|>…",
            "image": ["PIL image"],
        }
    )
    assert set(out) == {"key", "generated_text", "num_input_tokens", "num_generated_tokens", "max_tokens"}
    reply = offline.reply_from_row(out, "/models/Qwen2-VL-7B-Instruct")
    choice = reply["choices"][0]
    assert choice["message"] == {"role": "assistant", "content": out["generated_text"]}
    assert choice["finish_reason"] == "stop"
    assert reply["usage"] == {"prompt_tokens": 321, "completion_tokens": 12, "total_tokens": 333}
    cut = offline.reply_from_row({**out, "num_generated_tokens": 200}, "m")
    assert cut["choices"][0]["finish_reason"] == "length", "all of max_tokens used: cut off"
    assert offline.reply_from_row({**out, "generated_text": None}, "m") is None


class FakeProcessor:
    """Stands in for the vLLM processor: answers each row from its request."""

    def __init__(self) -> None:
        self.jobs: list[list[dict]] = []

    def __call__(self, ep, rows, emit) -> None:
        self.jobs.append(rows)
        for row in rows:
            cols = offline.unpack_row(row)
            text = cols["messages"][0]["content"][0]["text"]
            reply = orjson.dumps({"caption": text, "objects": ["square"]}).decode()
            if "broken" in text:
                reply = "not json"
            emit(
                offline.output_fields(
                    {
                        **row,
                        **cols,
                        "generated_text": reply,
                        "num_input_tokens": 100,
                        "num_generated_tokens": 10,
                    }
                )
            )


def test_a_job_fills_cache_and_ledger_and_a_rerun_sends_nothing(tmp_path, monkeypatch):
    fake = FakeProcessor()
    monkeypatch.setattr(offline, "run_processor", fake)
    db = sqlite3.connect(tmp_path / "run.db")
    reqs = [caption_request(f"picture {i}") for i in range(5)] + [caption_request("picture 0")]
    client = ModelClient([vlm()], cache=tmp_path / "c.db", db=db)
    outs = client.map(reqs)
    assert [o.value.caption for o in outs] == [f"picture {i}" for i in range(5)] + ["picture 0"]
    assert len(fake.jobs) == 1 and len(fake.jobs[0]) == 5, "one job, identical requests sent once"
    [row] = [r for r in ledger_rows(db) if r[1] == "caption"]
    endpoint, stage, model, requests, cached, failed, _, tin, tout, cost = row
    assert (endpoint, requests, tin, tout, cost, failed) == ("vlm", 5, 500, 50, 0.0, 0)
    assert cached == 6, "the client read every reply from the cache"

    again = ModelClient([vlm()], cache=tmp_path / "c.db", db=db).map(reqs)
    assert all(o.ok for o in again) and len(fake.jobs) == 1, "a rerun does not redo finished requests"


def test_a_reply_that_does_not_parse_is_repaired_through_a_small_job(tmp_path, monkeypatch):
    fake = FakeProcessor()
    monkeypatch.setattr(offline, "run_processor", fake)
    client = ModelClient([vlm()], cache=tmp_path / "c.db")
    [out] = client.map([caption_request("broken picture")])
    # as for a Batch API reply: the cached reply does not parse, so it is dropped and asked
    # again (a job of one), then repaired once (another): the client's own rules
    assert [len(j) for j in fake.jobs] == [1, 1, 1]
    repair = offline.unpack_row(fake.jobs[2][0])["messages"]
    assert {"role": "assistant", "content": "not json"} in repair, "the repair shows the reply back"
    assert out.repaired and not out.ok  # the fake answers the repair the same broken way
    assert "invalid structured output" in out.error


def test_without_vllm_the_error_names_what_to_install(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    with pytest.raises(offline.OfflineUnavailable, match=r'pip install "ray\[data,llm\]" vllm'):
        offline.require_vllm()


# -- endpoint validation ---------------------------------------------------------------------------
def recipe_error(endpoint: dict) -> str:
    with pytest.raises(RecipeError) as e:
        parse_recipe({"name": "r", "synthetic": {"charts": 1}, "endpoints": {"vlm": endpoint}}, "r.yaml")
    return str(e.value)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"base_url": "http://gpu:8000/v1"}, "takes no base_url (for a vLLM server use provider: vllm)"),
        ({"model": " "}, "needs `model`: a local weights path or a hub name"),
        ({"batch": True}, "already sends a stage's requests as one job; remove batch"),
        ({"tensor_parallel_size": 0}, "tensor_parallel_size: Input should be greater than or equal to 1"),
        ({"concurrency": [4, 2]}, "concurrency: [min, max] needs 1 <= min <= max, got [4, 2]"),
        ({"concurrency": 0}, "concurrency: must be at least 1, got 0"),
        ({"gpu_memory_utilization": 1.5}, "gpu_memory_utilization: Input should be less than or equal to 1"),
        ({"engine_kwargs": {"tensor_parallel_size": 2}}, "set it as the endpoint's own tensor_parallel_size"),
        ({"engine_kwargs": {"model": "x"}}, "engine_kwargs.model: set it as the endpoint's model"),
        ({"max_batch": 3}, "endpoints.vlm.max_batch: unknown field"),
    ],
)
def test_vllm_offline_endpoint_errors_are_one_line(fields, message):
    msg = recipe_error({"provider": "vllm-offline", "model": "/models/Qwen2-VL-7B-Instruct", **fields})
    assert message in msg and "\n" not in msg and msg.startswith("r.yaml: endpoints.vlm")


def test_offline_options_on_an_http_endpoint_are_an_error():
    msg = recipe_error({"provider": "vllm", "model": "m", "tensor_parallel_size": 2})
    assert "tensor_parallel_size is an option of provider vllm-offline only" in msg


def test_the_documented_endpoint_is_valid():
    r = parse_recipe(
        {
            "name": "r",
            "synthetic": {"charts": 1},
            "endpoints": {
                "vlm": {
                    "provider": "vllm-offline",
                    "model": "/models/Qwen2-VL-7B-Instruct",
                    "tensor_parallel_size": 1,
                    "concurrency": 4,
                    "batch_size": 64,
                }
            },
        },
        "r.yaml",
    )
    ep = r.endpoints["vlm"]
    assert ep.collected() and ep.offline and ep.location() == "ray:vllm-offline"
    assert "in vLLM on Ray workers" in ep.describe()


# -- the real processor ------------------------------------------------------------------------------
def test_the_vllm_processor_end_to_end(tmp_path):
    """A small VLM through Ray Data's vLLM processor (set VISINSTRUCT_VLLM_MODEL to a local
    or hub model; Qwen/Qwen2-VL-2B-Instruct by default)."""
    import os

    if importlib.util.find_spec("vllm") is None:
        pytest.skip('vLLM is not installed (pip install "ray[data,llm]" vllm)')
    try:
        import torch
    except ImportError:
        pytest.skip("torch is not installed")
    if not torch.cuda.is_available():
        pytest.skip("no GPU: vllm-offline runs vLLM engines on GPUs")
    model = os.environ.get("VISINSTRUCT_VLLM_MODEL", "Qwen/Qwen2-VL-2B-Instruct")
    ep = Endpoint(name="vlm", provider="vllm-offline", model=model, max_model_len=4096, concurrency=1)
    client = ModelClient([ep], cache=tmp_path / "c.db")
    outs = client.map([caption_request(), caption_request("What colour is it?")])
    assert all(o.ok for o in outs), [o.error for o in outs]
    assert all(o.usage["prompt_tokens"] > 0 and o.usage["completion_tokens"] > 0 for o in outs)
