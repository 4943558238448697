"""`visinstruct loop`: evaluation results in, weak categories found, targeted data made,
the user's training and evaluation commands run, round after round.

Every step of every round is recorded in `loop.db` (SQLite) when it finishes, so a killed
loop, run again, starts at the first unfinished step: a finished evaluation is not run
again, a half-made round's data is resumed by the engine unit by unit, and an
interrupted hook is run again from its start.

Round r: evaluate (the model of round r − 1, or the results given for round 0) → analyse
(accuracy per category, weights, quotas) → generate (a recipe derived from the base one)
→ train. After the last round one more evaluation measures the result.
"""

from __future__ import annotations

import json
import shlex
import sqlite3
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from visinstruct.errors import RecipeError, VisinstructError
from visinstruct.expand.base import inside
from visinstruct.loop.plan import RoundPlan, plan_round
from visinstruct.loop.results import load_records, write_records
from visinstruct.loop.weakness import CategoryStat, accuracy_by_category, quotas, stats_from, weights
from visinstruct.recipe import (
    MAX_COUNT,
    Bounded,
    InstructionType,
    Language,
    parse_recipe,
    read_yaml,
    validate,
)
from visinstruct.templates import TemplateError, render

STEPS = ("evaluate", "analyse", "generate", "train")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Hooks(_Strict):
    """Commands run between rounds (no shell: split like a shell, then `{name}` filled per word).

    Placeholders: {round} {round_dir} {loop_dir} {model} {prev_model} {results} {eval_dir}
    {data} {exports}; a word that is exactly `{all_data}` becomes one word per training file.
    `files.train` / `files.eval` are templates (a trainer's config, say) filled with the same
    placeholders and written into the round's folder before that hook runs, so a tool that
    reads its settings from a file gets this round's paths. `results` is where the eval hook
    leaves its results, under {eval_dir}: a glob for tools that name their own files
    (lmms-eval's `<model>/<date>_samples_<task>.jsonl`); exactly one file it matches must be new."""

    train: str | None = None
    eval: str | None = None
    timeout: float | None = Field(default=None, gt=0, description="seconds per hook run")
    files: dict[Literal["train", "eval"], dict[str, str]] = Field(
        default_factory=dict, description="per hook: file name in the round folder → template file"
    )
    results: str = Field(default="results.jsonl", min_length=1, description="glob under {eval_dir}")


class TargetedOptions(_Strict):
    """How targeted LLM questions are asked (used for targets outside the synthetic domains)."""

    endpoint: str = "llm"
    examples: int = Field(default=2, ge=0, le=8)
    similar: float = Field(default=0.5, ge=0, le=1)
    send_image: bool = False


class LoopSpec(_Strict):
    name: str = "loop"
    recipe: str = Field(description="the base recipe: seed, languages, checks, exports, endpoints, sources")
    rounds: int = Field(default=3, ge=1, le=100)
    samples_per_round: Annotated[Bounded, Field(ge=1)] = Field(description=f"at most {MAX_COUNT:,}")
    strategy: Literal["targeted", "uniform"] = "targeted"
    floor: float = Field(default=0.05, ge=0, lt=1)
    temperature: float = Field(default=1.0, gt=0)
    benchmark: str | None = None  # a built-in mapping: seedbench, mmbench; none: our own categories
    mapping: list[str] = Field(default_factory=list, description="mapping files overriding built-in entries")
    categories: dict[str, list[dict[str, Any]] | None] = Field(
        default_factory=dict, description="benchmark category → targets, as in a mapping file; overrides them"
    )
    unmapped: str = Field(
        default="report",
        description="a category nothing maps: skip (quota 0), report (quota 0, and say so with the closest "
        "domain), or a domain to send it to (catalog name or <synthetic domain>/<category>)",
    )
    results: str | None = None  # round 0's results, when the eval hook is not to run first
    results_format: str = "auto"
    questions: str | None = None  # the benchmark's question file: categories joined by question id
    model: str | None = None  # the model before the loop: {prev_model} of round 0
    train_data: list[str] = Field(default_factory=list, description="data the model was trained on before")
    types: list[InstructionType] = Field(default_factory=lambda: ["multiple_choice"], min_length=1)
    languages: list[Language] | None = Field(default=None, min_length=1)
    targeted: TargetedOptions = Field(default_factory=TargetedOptions)
    hooks: Hooks = Field(default_factory=Hooks)


def load_loop(path: str | Path) -> tuple[LoopSpec, Path]:
    """A loop file and the folder its relative paths are read from."""
    p = Path(path)
    spec = validate(LoopSpec, read_yaml(p, "loop file"), str(p), "a loop file")
    if spec.results is None and spec.hooks.eval is None:
        raise RecipeError(f"{p}: give `results:` for round 0 or an eval hook (hooks.eval)")
    if spec.rounds > 0 and spec.hooks.train is None:
        raise RecipeError(f"{p}: hooks.train is needed to train on each round's data")
    return spec, p.resolve().parent


def unmapped_reason(closest: str) -> str:
    """Why an unmapped category gets no data, and how to give it some."""
    hint = f"closest: {closest}; " if closest else ""
    return f"unmapped ({hint}map it under `categories:` or set `unmapped: <domain>` in the loop file)"


class Ledger:
    """The loop's record of finished steps (and what each produced)."""

    def __init__(self, loop_dir: Path) -> None:
        loop_dir.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(loop_dir / "loop.db", isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(
            """
            CREATE TABLE IF NOT EXISTS steps (
                round INTEGER NOT NULL, step TEXT NOT NULL, info TEXT NOT NULL,
                started REAL, finished REAL NOT NULL, PRIMARY KEY (round, step));
            CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            """
        )

    def done(self, rnd: int, step: str) -> dict | None:
        row = self.db.execute("SELECT info FROM steps WHERE round=? AND step=?", (rnd, step)).fetchone()
        return json.loads(row[0]) if row else None

    def finish(self, rnd: int, step: str, info: dict, started: float) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO steps VALUES (?, ?, ?, ?, ?)",
            (rnd, step, json.dumps(info, ensure_ascii=False), started, time.time()),
        )

    def rows(self) -> list[tuple[int, str, dict]]:
        q = self.db.execute("SELECT round, step, info FROM steps ORDER BY round, finished")
        return [(r, s, json.loads(i)) for r, s, i in q]

    def check_spec(self, spec: LoopSpec) -> None:
        """A loop directory belongs to one loop file: refuse to mix two loops' rounds."""
        fields = spec.model_dump(exclude={"rounds", "hooks"})
        for key in ("categories", "unmapped"):  # left out at their defaults: older loop dirs match
            if fields[key] == LoopSpec.model_fields[key].get_default(call_default_factory=True):
                del fields[key]
        want = json.dumps(fields, sort_keys=True)
        row = self.db.execute("SELECT value FROM meta WHERE key='spec'").fetchone()
        if row is None:
            self.db.execute("INSERT INTO meta VALUES ('spec', ?)", (want,))
        elif row[0] != want:
            raise VisinstructError(
                "this loop directory was started with a different loop file "
                "(only `rounds` and `hooks` may change); use a new --loop-dir"
            )

    def close(self) -> None:
        self.db.close()


@dataclass
class Events:
    """What the loop tells its caller as it goes (the CLI prints these)."""

    step: Callable[[int, str, str, dict], None] = lambda rnd, step, state, info: None
    # round, stats, weights, quotas, previous round's stats, dropped (category → why),
    # unmapped (category → closest domain by name, "" when none is close)
    analysis: Callable[[int, list[CategoryStat], dict, dict, list[CategoryStat] | None, dict, dict], None] = (
        lambda *a: None
    )


class Loop:
    """One loop directory driven by one loop file."""

    def __init__(self, spec: LoopSpec, base: Path, loop_dir: Path, events: Events | None = None) -> None:
        from visinstruct.loop.mapping import load_mapping
        from visinstruct.recipe import load_recipe

        self.spec, self.base, self.dir = spec, base, loop_dir.resolve()
        self.events = events or Events()
        self.recipe_path = self._at(spec.recipe)
        self.recipe = load_recipe(self.recipe_path)
        from visinstruct.domains import load_catalog

        extra_domains = (
            load_catalog([str(self._at(d)) for d in self.recipe.domains_dir])
            if self.recipe.domains_dir
            else {}
        )
        self.domains_dirs = [str(self._at(d)) for d in self.recipe.domains_dir]
        self.mapping = load_mapping(
            spec.benchmark,
            [self._at(m) for m in spec.mapping],
            domains=list(extra_domains),
            categories=spec.categories,
            unmapped=spec.unmapped,
        )

    def _at(self, p: str) -> Path:
        q = Path(p)
        return q if q.is_absolute() else self.base / q

    def round_dir(self, rnd: int) -> Path:
        return self.dir / f"round-{rnd}"

    def model_path(self, rnd: int) -> str:
        """The model trained in round `rnd` (−1: the model before the loop)."""
        if rnd < 0:
            if not self.spec.model:
                return ""
            local = self._at(self.spec.model)  # a path beside the loop file, else a hub model id as given
            return str(local) if local.exists() else self.spec.model
        return str(self.round_dir(rnd) / "model")

    @staticmethod
    def rows_of(loop_dir: Path) -> list[tuple[int, str, dict]]:
        """The finished steps of a loop directory: (round, step, what it produced)."""
        ledger = Ledger(Path(loop_dir))
        try:
            return ledger.rows()
        finally:
            ledger.close()

    # -- the loop ------------------------------------------------------------------------------
    def run(self, rounds: int | None = None) -> list[tuple[int, list[CategoryStat]]]:
        """Run (or continue) every step not yet finished; returns accuracy per round."""
        n = rounds or self.spec.rounds
        ledger = Ledger(self.dir)
        try:
            ledger.check_spec(self.spec)
            history: list[tuple[int, list[CategoryStat]]] = []
            for rnd in range(n + 1):
                self._step(ledger, rnd, "evaluate", lambda r=rnd: self.evaluate(r))
                info = self._step(ledger, rnd, "analyse", lambda r=rnd: self.analyse(r, last=r == n))
                history.append((rnd, stats_from(info)))
                self.events.analysis(
                    rnd,
                    stats_from(info),
                    info["weights"],
                    info["quotas"],
                    history[-2][1] if len(history) > 1 else None,
                    info.get("dropped", {}),
                    info.get("unmapped", {}),
                )
                if rnd == n:
                    break
                self._step(ledger, rnd, "generate", lambda r=rnd, i=info: self.generate(r, i))
                self._step(ledger, rnd, "train", lambda r=rnd: self.train(r))
            self.write_report(ledger)
            return history
        finally:
            ledger.close()

    def _step(self, ledger: Ledger, rnd: int, step: str, do: Callable[[], dict]) -> dict:
        done = ledger.done(rnd, step)
        if done is not None:
            self.events.step(rnd, step, "done before", done)
            return done
        self.events.step(rnd, step, "start", {})
        t0 = time.time()
        info = do()
        ledger.finish(rnd, step, info, t0)
        self.events.step(rnd, step, "done", info)
        return info

    # -- steps ---------------------------------------------------------------------------------
    def evaluate(self, rnd: int) -> dict:
        """Import round `rnd`'s evaluation (running the eval hook unless results are given)."""
        from visinstruct.loop.importers import load_results

        rdir = self.round_dir(rnd)
        rdir.mkdir(parents=True, exist_ok=True)
        if rnd == 0 and self.spec.results:
            source = self._at(self.spec.results)
        else:
            if self.spec.hooks.eval is None:
                raise VisinstructError(
                    f"round {rnd}: no eval hook (hooks.eval) to evaluate the trained model"
                )
            eval_dir = rdir / "eval"
            eval_dir.mkdir(exist_ok=True)
            (eval_dir / "results.jsonl").unlink(missing_ok=True)
            before = self._results_in(eval_dir)
            self.hook("eval", rnd, model=self.model_path(rnd - 1), results=str(eval_dir / "results.jsonl"))
            source = self._new_results(rnd, eval_dir, before)
        questions = self._at(self.spec.questions) if self.spec.questions else None
        imported = load_results(
            source, format=self.spec.results_format, benchmark=self.spec.benchmark, questions=questions
        )
        if imported.summary:
            raise VisinstructError(
                f"{source}: a category-level summary (accuracy per category, no answers); the loop "
                "needs per-question results, such as the prediction or result sheet it was made from "
                "(`visinstruct weakness` reads a summary)"
            )
        if not imported.records:
            raise VisinstructError(f"{source}: no evaluation records ({len(imported.problems)} problems)")
        write_records(rdir / "results.jsonl", imported.records)
        (rdir / "import_problems.json").write_text(
            json.dumps([p.__dict__ for p in imported.problems], ensure_ascii=False, indent=1), "utf-8"
        )
        return {"source": str(source), "records": len(imported.records), "problems": len(imported.problems)}

    def _results_in(self, eval_dir: Path) -> dict[Path, int]:
        """Files matching `hooks.results` under the eval folder, with their modification times."""
        pattern = self.spec.hooks.results
        if Path(pattern).is_absolute() or ".." in Path(pattern).parts:
            raise VisinstructError(f"hooks.results: {pattern!r} must be a glob inside the eval folder")
        return {p: p.stat().st_mtime_ns for p in eval_dir.glob(pattern) if p.is_file()}

    def _new_results(self, rnd: int, eval_dir: Path, before: dict[Path, int]) -> Path:
        """The one results file the eval hook wrote (new, or changed since it started)."""
        after = self._results_in(eval_dir)
        new = sorted(p for p, t in after.items() if before.get(p) != t)
        where = eval_dir / self.spec.hooks.results
        if not new:
            raise VisinstructError(f"round {rnd}: the eval hook wrote no results at {where}")
        if len(new) > 1:
            names = ", ".join(str(p.relative_to(eval_dir)) for p in new)
            raise VisinstructError(
                f"round {rnd}: the eval hook wrote {len(new)} files matching {where} ({names}); "
                "make hooks.results match one (one task per log)"
            )
        return new[0]

    def analyse(self, rnd: int, last: bool = False) -> dict:
        """Accuracy per category, then weights and quotas over the categories data can be made for.

        A category nothing maps (or whose targets cannot be made) gets quota 0, and the round's
        whole `samples_per_round` is shared among the others: asking for 1,000 samples makes
        1,000 of what can be made. Unmapped ones are listed with the closest domain by name."""
        from visinstruct.loop.suggest import suggest

        records = load_records(self.round_dir(rnd) / "results.jsonl")
        stats = accuracy_by_category(records)
        probe = self.plan({s.category: 1 for s in stats})  # which categories data can be made for
        usable = [s for s in stats if s.category not in probe.dropped]
        unmapped = {}
        for s in stats:
            if not self.mapping.targets(s.category):
                hint = suggest(s.category, self.domains_dirs)
                unmapped[s.category] = hint.label if hint else ""
                probe.dropped[s.category] = unmapped_reason(hint.label if hint else "")
        info: dict[str, Any] = {
            "stats": [s.__dict__ for s in stats],
            "dropped": probe.dropped,
            "unmapped": unmapped,
            "weights": {},
            "quotas": {},
        }
        if usable and not last:
            floor = min(self.spec.floor, 1 / len(usable))
            w = weights(usable, floor=floor, temperature=self.spec.temperature, strategy=self.spec.strategy)
            q = quotas(w, self.spec.samples_per_round)
            info.update(weights=w, quotas={**q, **dict.fromkeys(probe.dropped, 0)})
        return info

    def languages(self) -> list[str]:
        return self.recipe.languages_of(self.spec)

    def plan(self, quotas: dict[str, int]) -> RoundPlan:
        """What `quotas` per benchmark category make: synthetic quotas and targeted questions
        (these only when the base recipe has source images and the targeted endpoint)."""
        targets = {c: self.mapping.targets(c) for c in quotas}
        llm = bool(self.recipe.sources) and self.spec.targeted.endpoint in self.recipe.endpoints
        return plan_round(quotas, targets, types=self.spec.types, languages=self.languages(), llm=llm)

    def round_recipe(self, rnd: int, info: dict) -> dict:
        """The base recipe, making this round's quotas instead of its own items."""
        plan = self.plan(info["quotas"])
        data = self.recipe.model_dump(exclude_none=True)
        data["name"] = f"{self.spec.name}-round-{rnd}"
        data["seed"] = self.recipe.seed + 1000 * (rnd + 1)  # new items every round
        data["round"] = rnd
        data["synthetic"] = plan.synthetic
        if not plan.targeted:
            data.pop("sources", None)  # the base recipe's own source data is not remade each round
        else:
            t = self.spec.targeted
            data["targeted"] = {
                "endpoint": t.endpoint,
                "bad_cases": str(self.round_dir(rnd) / "results.jsonl"),
                "quotas": plan.targeted,
                "examples": t.examples,
                "similar": t.similar,
                "send_image": t.send_image,
                "languages": self.languages(),
            }
        exports = [e for e in data.get("export", []) if e["format"] not in ("jsonl", "dataengine")]
        data["export"] = [
            {"format": "jsonl", "out": "round.jsonl"},
            {"format": "dataengine", "out": "dataengine.json"},
            *exports,
        ]
        return data

    def generate(self, rnd: int, info: dict) -> dict:
        """Make the round's data with the runner (resumable unit by unit), then export it."""
        from visinstruct.models.ledger import ledger_rows
        from visinstruct.runner import run_recipe
        from visinstruct.store import RunStore

        rdir = self.round_dir(rnd)
        data = self.round_recipe(rnd, info)
        (rdir / "recipe.yaml").write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "utf-8")
        try:
            recipe = parse_recipe(data, str(rdir / "recipe.yaml"))
        except RecipeError as e:
            raise VisinstructError(f"round {rnd}: the derived recipe is invalid: {e}") from None
        if not recipe.synthetic and recipe.targeted is None:
            raise VisinstructError(f"round {rnd}: nothing to make (every category was dropped)")
        summary = run_recipe(recipe, rdir / "run")
        made: dict[str, int] = {}
        with RunStore(rdir / "run", create=False) as store:
            store.set_meta("loop", {"round": rnd, "weights": info["weights"], "quotas": info["quotas"]})
            for s in store.iter_samples(["accepted", "edited"]):
                made[s.category or s.domain] = made.get(s.category or s.domain, 0) + 1
            cost = sum(row[-1] or 0.0 for row in ledger_rows(store.db))
        return {
            "samples": sum(made.values()),
            "by_category": made,
            "failed": summary.failed + summary.gave_up,
            "short": summary.quota_short,
            "cost_usd": cost,
            "data": str(rdir / "run" / "exports" / "round.jsonl"),
        }

    def train(self, rnd: int) -> dict:
        out = Path(self.model_path(rnd))
        self.hook("train", rnd, model=str(out), prev_model=self.model_path(rnd - 1))
        return {"model": str(out)}

    def all_data(self, upto: int) -> list[str]:
        files = [str(self._at(p)) for p in self.spec.train_data]
        files += [str(self.round_dir(r) / "run" / "exports" / "round.jsonl") for r in range(upto + 1)]
        return files

    def hook(self, name: str, rnd: int, **values: str) -> None:
        """Run a user command; a failure stops the loop with its exit code and last output."""
        command = getattr(self.spec.hooks, name)
        if command is None:
            raise VisinstructError(f"no {name} hook (hooks.{name}) in the loop file")
        fill = {
            "round": str(rnd),
            "round_dir": str(self.round_dir(rnd)),
            "loop_dir": str(self.dir),
            "model": "",
            "prev_model": self.model_path(rnd - 1),
            "results": "",
            "data": str(self.round_dir(rnd) / "run" / "exports" / "round.jsonl"),
            "exports": str(self.round_dir(rnd) / "run" / "exports"),
            "eval_dir": str(self.round_dir(rnd) / "eval"),
            **values,
        }
        argv: list[str] = []
        try:
            for word in shlex.split(command):
                if word == "{all_data}":
                    argv += self.all_data(rnd if name == "train" else rnd - 1)
                else:
                    argv.append(render(word, fill))
        except (ValueError, TemplateError) as e:
            raise VisinstructError(f"hooks.{name}: {e}") from None
        self.write_files(name, rnd, fill)
        log = self.round_dir(rnd) / f"{name}.log"
        with log.open("w", encoding="utf-8") as f:
            try:
                proc = subprocess.run(
                    argv, stdout=f, stderr=subprocess.STDOUT, cwd=self.base, timeout=self.spec.hooks.timeout
                )
            except FileNotFoundError:
                raise VisinstructError(f"hooks.{name}: command not found: {argv[0]}") from None
            except subprocess.TimeoutExpired:
                raise VisinstructError(f"hooks.{name}: no result after {self.spec.hooks.timeout} s") from None
        if proc.returncode != 0:
            tail = log.read_text("utf-8", errors="replace").strip().splitlines()[-5:]
            raise VisinstructError(
                f"hooks.{name} exited with {proc.returncode} in round {rnd} (log: {log}): " + " | ".join(tail)
            )

    def write_files(self, hook: str, rnd: int, fill: dict[str, str]) -> None:
        """Fill the hook's `hooks.files` templates with its placeholders, into the round's folder."""
        for name, template in self.spec.hooks.files.get(hook, {}).items():
            out = inside(self.round_dir(rnd), name)
            if out is None or out.parent != self.round_dir(rnd).resolve():
                raise VisinstructError(f"hooks.files.{hook}: {name!r} must be a plain file name")
            src = self._at(template)
            try:
                text = src.read_text("utf-8")
            except OSError as e:
                raise VisinstructError(f"hooks.files.{hook}.{name}: cannot read {src} ({e})") from None
            try:
                filled = render(text, fill)
            except TemplateError as e:
                raise VisinstructError(f"hooks.files.{hook}.{name} ({src}): {e}") from None
            tmp = out.with_name(f".{out.name}.tmp")
            tmp.write_text(filled, "utf-8")
            tmp.replace(out)

    # -- report --------------------------------------------------------------------------------
    def write_report(self, ledger: Ledger) -> Path:
        """`report.html` in the loop directory: accuracy per category per round, data made, cost."""
        from visinstruct.loop.report import render_loop_report

        page = render_loop_report(self.spec.name, ledger.rows())
        out = self.dir / "report.html"
        tmp = out.with_name(".report.html.tmp")
        tmp.write_text(page, "utf-8")
        tmp.replace(out)
        return out
