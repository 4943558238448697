"""What a stage can reach while it runs: the recipe, the run, the executor, the model client."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from visinstruct.stages.base import NotSent, UnitFailed

if TYPE_CHECKING:
    from visinstruct.domains import Domain
    from visinstruct.embed.model import Embedder
    from visinstruct.executors.local import LocalExecutor
    from visinstruct.models.client import ChatRequest, ModelClient
    from visinstruct.prompts import Prompt
    from visinstruct.recipe import Recipe
    from visinstruct.stages.checks import MakeChecks
    from visinstruct.store import RunStore

BATCH_QUIET = 1.0  # seconds without a new request before collected Batch API requests are sent
BATCH_MAX = 5000


class RunContext:
    """Shared by the stages of one run. The model client is made on first use, by the one
    factory (`models.factory`), and closed by the runner."""

    def __init__(
        self,
        recipe: Recipe,
        store: RunStore,
        base: Path,
        executor: LocalExecutor,
        make_checks: MakeChecks,
    ) -> None:
        self.recipe = recipe
        self.store = store
        self.base = base
        self.executor = executor
        self.make_checks = make_checks
        self._client: ModelClient | None = None
        self._prompts: dict[str, Prompt] = {}
        self._batch: list[tuple[ChatRequest, asyncio.Future]] = []
        self._batch_timer: asyncio.TimerHandle | None = None
        self._embedder: Embedder | None = None

    @property
    def seed(self) -> int:
        return self.recipe.seed

    @cached_property
    def catalog(self) -> dict[str, Domain]:
        from visinstruct.domains import load_catalog

        dirs = [str(self.base / d) if not Path(d).is_absolute() else d for d in self.recipe.domains_dir]
        return load_catalog(dirs)

    def prompt(self, name: str) -> Prompt:
        if name not in self._prompts:
            from visinstruct.prompts import load_prompt

            self._prompts[name] = load_prompt(name, self.recipe.prompts_dir)
        return self._prompts[name]

    def path(self, p: str) -> Path:
        """A recipe path (environment variables expanded), relative to the recipe's folder."""
        from visinstruct.models.endpoints import expand_env

        q = Path(expand_env(p))
        return q if q.is_absolute() else self.base / q

    def image(self, image_id: str, info: dict | None = None) -> Any:
        """An image's record: made earlier in this run (in the subject's `info["images"]`, not
        committed yet perhaps) or stored by an earlier commit."""
        rec = ((info or {}).get("images") or {}).get(image_id)
        return rec if rec is not None else self.store.image(image_id)

    def image_path(self, image_id: str, info: dict | None = None) -> str:
        rec = ((info or {}).get("images") or {}).get(image_id)
        if rec is not None:
            return str(self.store.dir / rec.path)
        return str(self.store.image_path(image_id))

    @property
    def embedder(self) -> Embedder | None:
        """The recipe's `embed:` model, loaded on first use (None when the recipe names none);
        its vectors are cached by image content hash across runs."""
        spec = self.recipe.embed
        if spec is None:
            return None
        if self._embedder is None:
            from visinstruct.embed.model import load_embedder

            cache = self.path(spec.cache) if spec.cache else self.store.dir / "embeddings.db"
            model = self.path(spec.model)
            name = str(model) if model.is_dir() else spec.model
            self._embedder = load_embedder(name, spec.device, spec.batch_size, cache=cache)
        return self._embedder

    # -- work ----------------------------------------------------------------------------------
    async def cpu(self, fn: Callable[[Any], Any], arg: Any) -> Any:
        """`fn(arg)` in a worker process."""
        return await self.executor.run(fn, arg)

    @property
    def client(self) -> ModelClient:
        if self._client is None:
            from visinstruct.models.factory import client_for
            from visinstruct.models.images import ImageEncoder

            # images are prepared in threads of this process: a reply waits on its image, and the
            # run's worker processes may be busy with a queue of CPU units (PIL releases the GIL)
            encoder = ImageEncoder(workers=0)
            self._client = client_for(self.recipe, self.store.dir, self.store.db, self.base, encoder=encoder)
            self._client.start()
        return self._client

    @property
    def model_client_open(self) -> bool:
        return self._client is not None

    def model(self, endpoint: str) -> str:
        """The model name an endpoint resolves to (for provenance)."""
        ep = self.client.endpoints.get(endpoint)
        return ep.resolved_model() if ep is not None else endpoint

    async def ask(self, req: ChatRequest, parse: Callable[[Any], Any] | None = None) -> Any:
        """One model call through the client; `parse` is the caller's parse half (see
        `ChatRequest.parse`). Returns its value; raises `UnitFailed` or `NotSent`."""
        req.parse = parse
        client = self.client
        if client.endpoints[req.endpoint].collected():
            await self._through_batch(req)
        out = await client.complete(req)
        if out.skipped:
            raise NotSent(out.error or "not sent")
        if not out.ok:
            raise UnitFailed(out.error or "failed", retry=not out.final)
        return out.value

    async def _through_batch(self, req: ChatRequest) -> None:
        """Requests to a Batch API or `vllm-offline` endpoint are collected while the run
        plans, sent as one batch or Ray Data job (their answers land in the cache), then read
        as cached."""
        fut = asyncio.get_running_loop().create_future()
        self._batch.append((req, fut))
        if self._batch_timer is not None:
            self._batch_timer.cancel()
        if len(self._batch) >= BATCH_MAX:
            self._send_batch()
        else:
            self._batch_timer = asyncio.get_running_loop().call_later(BATCH_QUIET, self._send_batch)
        await fut

    def _send_batch(self) -> None:
        items, self._batch, self._batch_timer = self._batch, [], None
        client = self.client

        async def go() -> None:
            try:
                await client.fill([r for r, _ in items])
            except BaseException as e:
                for _, f in items:
                    if not f.done():
                        f.set_exception(e)
                raise
            for _, f in items:
                if not f.done():
                    f.set_result(None)

        asyncio.ensure_future(go())

    async def aclose(self) -> None:
        if self._embedder is not None:
            self._embedder.close()
            self._embedder = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None
