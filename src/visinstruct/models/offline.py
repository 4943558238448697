"""`provider: vllm-offline`: local weights in vLLM engines on Ray workers, through Ray Data's
LLM processor (`ray.data.llm.build_llm_processor` with a `vLLMEngineProcessorConfig`).

Shaped like the Batch API mode (batch.py): a stage's uncached requests become the rows of
one Ray Dataset, the processor runs them on the cluster's GPUs, and each row that comes
back is written into the response cache and the ledger as it arrives, as a chat.completion.
`ModelClient` then reads them as cached replies, so parsing, validation, repairs and
retries are the client's as for any endpoint, and a rerun (or a restart after a crash)
sends only the requests whose rows never came back. The few requests made one at a time
afterwards (a repair re-ask, a reply cut off at max_tokens asked again with more room) go
through `OfflineTransport`, which gathers those arriving together into one small job.

The conversions (request → row, row → reply) are pure functions; only `run_processor`
needs Ray Data's LLM extra, vLLM and a GPU.

Rows carry the request as one JSON string, unpacked on the workers by the processor's
preprocess: rows of different shapes (text or image messages, with or without a schema)
in one Arrow block cannot be merged column by column.
"""

from __future__ import annotations

import asyncio
import importlib.util
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import TYPE_CHECKING, Any

import orjson

from visinstruct.models.endpoints import Endpoint, EndpointError

if TYPE_CHECKING:
    from visinstruct.models.client import ChatRequest, ModelClient

INSTALL = 'pip install "ray[data,llm]" vllm'
# chat.completion fields that vLLM's SamplingParams takes under the same name
SAMPLING = (
    "temperature",
    "top_p",
    "top_k",
    "min_p",
    "seed",
    "stop",
    "presence_penalty",
    "frequency_penalty",
    "repetition_penalty",
    "max_tokens",
)
BODY = {"model", "messages", "response_format", "max_completion_tokens", *SAMPLING}
DEFAULT_BATCH_SIZE = 64
# rows of one job: their images are held in the driver until Ray Data has them
MAX_ROWS = 20_000

# (endpoint, rows, emit) -> None: runs the rows and calls emit with each output row
Process = Callable[[Endpoint, list[dict], Callable[[dict], None]], None]


class OfflineUnavailable(EndpointError):
    """vLLM, Ray Data's LLM processor or a GPU is missing for a `vllm-offline` endpoint."""


# -- request → row ---------------------------------------------------------------------------
def sampling_params(body: Mapping[str, Any]) -> dict[str, Any]:
    """vLLM sampling parameters for a chat.completion request body: its generation fields,
    `max_completion_tokens` as `max_tokens`, and a `response_format` as guided decoding (the
    JSON schema as text: `GuidedDecodingParams(json=...)` takes a string). A field vLLM
    would not honour is an error, not dropped."""
    unknown = sorted(set(body) - BODY)
    if unknown:
        raise EndpointError(f"provider vllm-offline cannot send the request field {unknown[0]!r}")
    params = {k: body[k] for k in SAMPLING if body.get(k) is not None}
    if body.get("max_completion_tokens") is not None and "max_tokens" not in params:
        params["max_tokens"] = body["max_completion_tokens"]
    fmt = body.get("response_format") or {}
    if fmt.get("type") == "json_schema":
        schema = fmt["json_schema"]["schema"]
        params["guided_decoding"] = {"json": orjson.dumps(schema).decode()}
    elif fmt.get("type") == "json_object":
        params["guided_decoding"] = {"json_object": True}
    return params


def chat_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Messages as the processor reads them: an image part is `{"type": "image", "image":
    data_url}` (what `PrepareImageStage` loads and the model's chat template places);
    `detail` is an OpenAI setting and is left out."""
    out = []
    for m in messages:
        content = m.get("content")
        if isinstance(content, list):
            parts = []
            for p in content:
                if p.get("type") == "image_url":
                    parts.append({"type": "image", "image": p["image_url"]["url"]})
                else:
                    parts.append(p)
            m = {**m, "content": parts}
        out.append(m)
    return out


def image_count(messages: list[dict[str, Any]]) -> int:
    return sum(
        1
        for m in messages
        if isinstance(m.get("content"), list)
        for p in m["content"]
        if p.get("type") in ("image", "image_url")
    )


def request_row(key: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """The Dataset row of one request body (as `ModelClient.request_body` makes it, images
    as data URLs): its cache key, the request as JSON text, and what reading the output
    needs (`max_tokens`, to tell a reply cut off)."""
    messages = chat_messages(body["messages"])
    params = sampling_params(body)
    return {
        "key": key,
        "request": orjson.dumps({"messages": messages, "sampling_params": params}).decode(),
        "max_tokens": params.get("max_tokens"),
        "images": image_count(messages),
    }


def unpack_row(row: dict[str, Any]) -> dict[str, Any]:
    """The processor's preprocess (on the workers): the columns its stages read."""
    req = orjson.loads(row["request"])
    return {"messages": req["messages"], "sampling_params": req["sampling_params"]}


def output_fields(row: dict[str, Any]) -> dict[str, Any]:
    """The processor's postprocess: what comes back to the driver (not the prompt or images)."""
    return {
        "key": row["key"],
        "generated_text": row.get("generated_text"),
        "num_input_tokens": row.get("num_input_tokens"),
        "num_generated_tokens": row.get("num_generated_tokens"),
        "max_tokens": row.get("max_tokens"),
    }


# -- row → reply -----------------------------------------------------------------------------
def reply_from_row(row: Mapping[str, Any], model: str) -> dict[str, Any] | None:
    """The chat.completion the client reads for an output row, or None when the row has no
    text. The processor reports no finish reason: a reply that used all of `max_tokens` is
    taken as cut off ("length"), so the client asks again with more room as for a server."""
    text = row.get("generated_text")
    if not isinstance(text, str):
        return None
    tin = int(row.get("num_input_tokens") or 0)
    tout = int(row.get("num_generated_tokens") or 0)
    limit = row.get("max_tokens")
    finish = "length" if limit is not None and tout >= int(limit) else "stop"
    return {
        "id": f"vllm-offline-{row['key']}",
        "object": "chat.completion",
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}],
        "usage": {"prompt_tokens": tin, "completion_tokens": tout, "total_tokens": tin + tout},
    }


# -- the processor -----------------------------------------------------------------------------
def engine_kwargs(ep: Endpoint, images: int = 0) -> dict[str, Any]:
    """`vllm.AsyncEngineArgs` fields: the endpoint's `engine_kwargs` and its own options; a
    prompt with several images needs `limit_mm_per_prompt` raised (vLLM takes one by default
    for some models)."""
    kw: dict[str, Any] = dict(ep.engine_kwargs or {})
    for name in ("tensor_parallel_size", "pipeline_parallel_size", "max_model_len", "gpu_memory_utilization"):
        value = getattr(ep, name)
        if value is not None:
            kw[name] = value
    if images > 1 and "limit_mm_per_prompt" not in kw:
        kw["limit_mm_per_prompt"] = {"image": images}
    return kw


def processor_config(ep: Endpoint, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The arguments of `vLLMEngineProcessorConfig` for these rows. The engine tokenizes and
    detokenizes itself (`vLLMEngineWrapper` prompts vLLM with the text prompt), so the
    processor's separate tokenize and detokenize stages are left out."""
    images = max((int(r.get("images") or 0) for r in rows), default=0)
    cfg: dict[str, Any] = {
        "model_source": ep.resolved_model(),
        "engine_kwargs": engine_kwargs(ep, images),
        "concurrency": ep.concurrency or 1,
        "batch_size": ep.batch_size or DEFAULT_BATCH_SIZE,
        "has_image": images > 0,
        "apply_chat_template": True,
        "tokenize": False,
        "detokenize": False,
    }
    if ep.max_concurrent_batches is not None:
        cfg["max_concurrent_batches"] = ep.max_concurrent_batches
    if ep.accelerator_type is not None:
        cfg["accelerator_type"] = ep.accelerator_type
    return cfg


def require_vllm() -> Any:
    """`ray.data.llm`, or a clear error naming what to install."""
    if importlib.util.find_spec("vllm") is None:
        raise OfflineUnavailable(
            f"provider vllm-offline needs vLLM and Ray Data's LLM processor: {INSTALL} "
            "(on every node, with a GPU for each engine)"
        )
    try:
        import ray.data.llm as llm
    except ImportError as e:
        why = f"ray.data.llm cannot be imported ({e})"
        raise OfflineUnavailable(f"provider vllm-offline: {why}; {INSTALL}") from e
    return llm


def gpus_needed(ep: Endpoint) -> int:
    return (ep.tensor_parallel_size or 1) * (ep.pipeline_parallel_size or 1)


def run_processor(ep: Endpoint, rows: list[dict[str, Any]], emit: Callable[[dict], None]) -> None:
    """Run the rows through a vLLM processor on the Ray cluster (`RAY_ADDRESS`, or one of
    this machine), calling `emit` with each output row as it streams back."""
    llm = require_vllm()
    import ray

    config = llm.vLLMEngineProcessorConfig(**processor_config(ep, rows))
    # building the processor connects to Ray and reads the model's config on this machine
    processor = llm.build_llm_processor(config, preprocess=unpack_row, postprocess=output_fields)
    gpus = ray.cluster_resources().get("GPU", 0)
    if gpus < gpus_needed(ep):
        raise OfflineUnavailable(
            f"{ep.describe()}: the Ray cluster has {gpus:g} GPUs, an engine needs {gpus_needed(ep)} "
            "(tensor_parallel_size x pipeline_parallel_size)"
        )
    for out in processor(ray.data.from_items(rows)).iter_rows():
        emit(out)


async def stream_rows(
    process: Process, ep: Endpoint, rows: list[dict[str, Any]]
) -> AsyncIterator[dict[str, Any]]:
    """The output rows of `process` (run in a thread) as they come, on the event loop."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

    def emit(row: dict) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, ("row", row))

    def work() -> None:
        try:
            process(ep, rows, emit)
        except BaseException as e:  # handed to the loop, raised there
            loop.call_soon_threadsafe(queue.put_nowait, ("error", e))
        else:
            loop.call_soon_threadsafe(queue.put_nowait, ("end", None))

    worker = loop.run_in_executor(None, work)
    while True:
        kind, item = await queue.get()
        if kind == "row":
            yield item
            continue
        await worker  # the thread has ended (its last word was this one)
        if kind == "end":
            return
        if isinstance(item, EndpointError):
            raise item
        raise OfflineUnavailable(f"{ep.describe()}: the vLLM job failed: {type(item).__name__}: {item}")


# -- the runner ----------------------------------------------------------------------------------
class OfflineRunner:
    """Fills the cache with a job's `vllm-offline` replies, as `BatchRunner` does for batches."""

    def __init__(self, client: ModelClient, process: Process | None = None, max_rows: int = MAX_ROWS) -> None:
        self.client = client
        self.process = process or run_processor
        self.max_rows = max_rows

    async def fill(self, requests: list[ChatRequest]) -> None:
        c = self.client
        keyed: dict[str, ChatRequest] = {}
        for r in requests:
            await c.hash_images(r)
            keyed.setdefault(c.key(r), r)
        hits = c.cache.get_many(list(keyed))
        by_endpoint: dict[str, list[tuple[str, ChatRequest]]] = {}
        for k, r in keyed.items():
            if k not in hits:
                by_endpoint.setdefault(r.endpoint, []).append((k, r))
        for name, items in by_endpoint.items():
            ep = c.endpoint(name)
            await c.open_endpoint(ep)  # model name and price
            for i in range(0, len(items), self.max_rows):
                await self._run(ep, items[i : i + self.max_rows])

    async def _run(self, ep: Endpoint, items: list[tuple[str, ChatRequest]]) -> None:
        c = self.client
        rows = [request_row(k, orjson.loads(await c.request_body(r, ep))) for k, r in items]
        stages = {k: r.stage for k, r in items}
        try:
            async for out in stream_rows(self.process, ep, rows):
                self.absorb(out, ep, stages)
        finally:
            c.flush()  # what came back stays, whatever happened to the rest

    def absorb(self, out: Mapping[str, Any], ep: Endpoint, stages: Mapping[str, str]) -> None:
        """One output row into the cache and the ledger (a row without text: a failure)."""
        c = self.client
        key = out.get("key")
        stage = stages.get(key) if isinstance(key, str) else None
        if stage is None:
            return
        model, price = c.model[ep.name], c.price[ep.name]
        reply = reply_from_row(out, model)
        if reply is None:
            reason = "vllm-offline row came back without text"
            c.failures.append((key, ep.name, stage, reason, None, time.time()))
            c.ledger.line(ep.name, stage, model).failed += 1
            return
        c.cache.put(key, ep.name, model, reply)
        c.ledger.charge(ep.name, stage, model, reply["usage"], price)


# -- one request at a time -------------------------------------------------------------------------
class OfflineTransport:
    """The client's transport for a `vllm-offline` endpoint: requests sent one at a time (a
    repair re-ask, more room for a reply cut off) are gathered for `window` seconds and run
    as one small job. The ledger is charged by the client, as for a server's reply."""

    def __init__(self, endpoint: Endpoint, process: Process | None = None, window: float = 1.0) -> None:
        self.endpoint = endpoint
        self.process = process or run_processor
        self.window = window
        self.waiting: list[tuple[dict, asyncio.Future[dict]]] = []
        self.drain: asyncio.Task[None] | None = None

    async def open(self) -> None:
        pass

    async def close(self) -> None:
        if self.drain is not None:
            self.drain.cancel()
            self.drain = None

    async def chat(self, body: bytes) -> tuple[dict, Mapping[str, str]]:
        fut: asyncio.Future[dict] = asyncio.get_running_loop().create_future()
        self.waiting.append((orjson.loads(body), fut))
        if self.drain is None:
            self.drain = asyncio.ensure_future(self._drain())
        return await fut, {}

    async def _drain(self) -> None:
        await asyncio.sleep(self.window)
        items, self.waiting, self.drain = self.waiting, [], None
        model = self.endpoint.resolved_model()
        try:
            rows = [request_row(str(i), body) for i, (body, _) in enumerate(items)]
            async for out in stream_rows(self.process, self.endpoint, rows):
                reply = reply_from_row(out, model)
                fut = items[int(out["key"])][1]
                if not fut.done():
                    if reply is None:
                        fut.set_exception(OfflineUnavailable("vllm-offline row came back without text"))
                    else:
                        fut.set_result(reply)
        except BaseException as e:
            for _, fut in items:
                if not fut.done():
                    fut.set_exception(e)
            if not isinstance(e, Exception):
                raise
        for _, fut in items:
            if not fut.done():
                fut.set_exception(OfflineUnavailable(f"{self.endpoint.describe()}: the job returned no row"))
