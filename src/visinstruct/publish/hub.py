"""Push a run's dataset card and the data files its `configs` name to a Hugging Face Hub dataset
repository, so that `datasets.load_dataset("OWNER/NAME")` reads the same rows as the local export.

What is uploaded comes from the card itself (`exports/README.md`, written by `report.card`): every
file its YAML `configs` → `data_files` name, exact paths or globs (`parquet/*.parquet`,
`shards/**/*.tar`), relative to the card's folder, which becomes the repository's root; for a JSON
config, the `images/` folder beside its file too (its rows refer to images there). The card goes
last, in a commit of its own, so a repository never shows a card whose data files are not all
there yet.

Resuming: before uploading, the Hub is asked which of these paths it already holds with the same
content (`get_paths_info`: the sha256 of an LFS file, the git blob id of another, and the size),
and those are skipped; the rest is committed in batches. A push cut off mid-way, run again, sends
only what no commit has carried yet, and an LFS object uploaded for a batch whose commit failed is
not uploaded again (the LFS batch API answers that the Hub has it). Hashes are cached in
`<run-dir>/push/<owner>--<name>.json` by size and modification time, with the commit that carried
each file, so a second push of gigabytes does not read them all again.

When a data file pattern is a glob, the repository's files that match it but are no longer local
(shards of an earlier, larger export) are deleted in the card's commit, or `load_dataset` would
read them too.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import yaml

from visinstruct.errors import VisinstructError

CARD = "README.md"
FILES_PER_COMMIT = 50  # the Hub handles a few hundred operations a commit; smaller batches resume finer
PATHS_PER_ASK = 500  # paths per paths-info request (huggingface_hub's own batch size)
STATE_DIR = "push"
JSON_SUFFIXES = (".json", ".jsonl")
_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?"
REPO_ID = re.compile(rf"(?P<owner>{_NAME})/(?P<name>{_NAME})")
_GLOB_CHARS = re.compile(r"[*?\[]")


class PushError(VisinstructError):
    """The push cannot start: a bad repository name, no token, no card, a card naming no file."""


class PushFailed(VisinstructError):
    """The Hub refused or the connection broke mid-way; what was committed stays, rerun resumes."""


@dataclass(frozen=True)
class Upload:
    """One local file and where it goes in the repository."""

    path: str  # in the repository, POSIX
    local: Path
    size: int


@dataclass
class PushSummary:
    repo_id: str
    url: str
    uploaded: list[Upload] = field(default_factory=list)
    skipped: list[Upload] = field(default_factory=list)  # already on the Hub with the same content
    deleted: list[str] = field(default_factory=list)
    commits: list[str] = field(default_factory=list)


# -- what to upload -----------------------------------------------------------------------------
def parse_repo_id(text: str) -> str:
    """`OWNER/NAME` as the Hub allows it (letters, digits, `-`, `_`, `.`; no `--` or `..`)."""
    m = REPO_ID.fullmatch(text or "")
    if not m or "--" in text or ".." in text or text.endswith(".git"):
        raise PushError(
            f"--repo {text!r}: expected OWNER/NAME, e.g. alice/my-dataset (letters, digits, '-', '_', '.'; "
            "at most 96 characters each, no '--' or '..')"
        )
    return text


def card_front_matter(card: Path) -> dict:
    """The YAML front matter of a README, `{}` when it has none."""
    text = card.read_text("utf-8")
    if not text.startswith("---\n"):
        return {}
    head = text[4:].split("\n---\n", 1)[0]
    try:
        front = yaml.safe_load(head)
    except yaml.YAMLError as e:
        raise PushError(f"{card}: its front matter is not YAML ({str(e).splitlines()[0]})") from None
    return front if isinstance(front, dict) else {}


def data_file_patterns(front: dict) -> list[tuple[str, str]]:
    """(config, pattern) for every data file the card's `configs` name, in every shape `datasets`
    reads: a path, a list of paths, a list of `{split, path}` (path a string or a list), a mapping
    of split to paths."""
    out: list[tuple[str, str]] = []

    def add(config: str, value: Any) -> None:
        if isinstance(value, str):
            out.append((config, value))
        elif isinstance(value, list):
            for v in value:
                add(config, v.get("path") if isinstance(v, dict) else v)
        elif isinstance(value, dict):
            for v in value.values():
                add(config, v)

    for c in front.get("configs") or []:
        if isinstance(c, dict):
            add(str(c.get("config_name") or "default"), c.get("data_files"))
    return out


def _visible(rel: PurePosixPath) -> bool:
    """`datasets` leaves out files under names starting with `.` or `__` (temporary files too)."""
    return not any(part.startswith((".", "__")) for part in rel.parts)


def _matching(root: Path, pattern: str, config: str) -> list[Path]:
    where = f"config {config!r}: data file {pattern!r}"
    pure = PurePosixPath(pattern)
    if "\\" in pattern or pure.is_absolute() or ".." in pure.parts or "://" in pattern or not pattern:
        raise PushError(f"{root / CARD}: {where} is not a path inside {root}")
    found = sorted(root.glob(pattern)) if _GLOB_CHARS.search(pattern) else [root / pattern]
    top = root.resolve()
    files = []
    for f in found:
        if not f.is_file():
            continue
        if not f.resolve().is_relative_to(top):
            raise PushError(f"{root / CARD}: {where} leads outside {root} ({f})")
        if _visible(PurePosixPath(f.relative_to(root).as_posix())):
            files.append(f)
    if not files:
        raise PushError(
            f"{root / CARD}: {where} matches no file under {root}; write the card again "
            "(visinstruct card RUN) after the exports"
        )
    return files


def plan_upload(run_dir: Path) -> list[Upload]:
    """The files a push of `run_dir` sends, the card last."""
    run_dir = Path(run_dir)
    root = run_dir / "exports"
    card = root / CARD
    if not run_dir.is_dir():
        raise PushError(f"{run_dir}: no such run directory")
    if not card.is_file():
        raise PushError(f"{card}: no dataset card; write it with `visinstruct card {run_dir}`")
    patterns = data_file_patterns(card_front_matter(card))
    if not patterns:
        raise PushError(
            f"{card}: the card's configs name no data file; export the run, then write the card again"
        )
    seen: dict[str, Path] = {}
    for config, pattern in patterns:
        for f in _matching(root, pattern, config):
            seen.setdefault(f.relative_to(root).as_posix(), f)
            images = f.parent / "images"
            if f.suffix in JSON_SUFFIXES and images.is_dir():
                for img in sorted(images.rglob("*")):
                    rel = img.relative_to(root).as_posix()
                    if img.is_file() and _visible(PurePosixPath(rel)):
                        seen.setdefault(rel, img)
    seen.pop(CARD, None)
    uploads = [Upload(p, f, f.stat().st_size) for p, f in seen.items()]
    return uploads + [Upload(CARD, card, card.stat().st_size)]


def glob_regex(pattern: str) -> re.Pattern:
    """A data file glob as `datasets` (fsspec) reads it: `*` and `?` stay within a folder, `**`
    spans folders."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out))


# -- hashes and progress ------------------------------------------------------------------------
def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def git_blob_id(path: Path) -> str:
    """The git id of a file stored as a plain blob (the Hub's `oid` of a file not in LFS)."""
    data = path.read_bytes()
    return hashlib.sha1(b"blob %d\x00" % len(data) + data).hexdigest()


class State:
    """`<run-dir>/push/<owner>--<name>.json`: per file its size, mtime, sha256 and the commit that
    carried it. A cache and a record, not the truth: what the Hub holds decides what is sent."""

    def __init__(self, run_dir: Path, repo_id: str, endpoint: str) -> None:
        self.path = run_dir / STATE_DIR / f"{repo_id.replace('/', '--')}.json"
        self.data: dict = {"repo": repo_id, "endpoint": endpoint, "files": {}}
        try:
            loaded = json.loads(self.path.read_text("utf-8"))
            if loaded.get("repo") == repo_id and loaded.get("endpoint") == endpoint:
                self.data["files"] = dict(loaded.get("files") or {})
        except (OSError, ValueError, AttributeError):
            pass

    def sha256(self, u: Upload) -> str:
        st = u.local.stat()
        rec = self.data["files"].get(u.path) or {}
        if rec.get("size") == st.st_size and rec.get("mtime_ns") == st.st_mtime_ns and rec.get("sha256"):
            return rec["sha256"]
        sha = sha256_file(u.local)
        self.data["files"][u.path] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": sha}
        return sha

    def committed(self, paths: Iterable[str], commit: str) -> None:
        for p in paths:
            self.data["files"].setdefault(p, {})["commit"] = commit

    def save(self) -> None:
        from visinstruct.store import temp_name

        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = temp_name(self.path)
        try:
            tmp.write_text(json.dumps(self.data, indent=1, sort_keys=True), "utf-8")
            os.replace(tmp, self.path)
        finally:
            tmp.unlink(missing_ok=True)


# -- the Hub ------------------------------------------------------------------------------------
def _hub() -> Any:
    try:
        import huggingface_hub
    except ImportError:
        raise PushError("pushing to the Hub needs huggingface_hub: pip install 'visinstruct[hf]'") from None
    return huggingface_hub


def resolve_endpoint(endpoint: str | None) -> str:
    """--endpoint, else HF_ENDPOINT, else huggingface.co."""
    url = (endpoint or os.environ.get("HF_ENDPOINT") or "https://huggingface.co").rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise PushError(f"--endpoint {url!r}: not an http(s) address")
    return url


def _reason(e: BaseException) -> str:
    response = getattr(e, "response", None)
    status = getattr(response, "status_code", None)
    first = next((line.strip() for line in str(e).splitlines() if line.strip()), type(e).__name__)
    cause = e.__cause__
    if first.startswith("Error while uploading") and cause is not None:
        first += f" ({_reason(cause)})"
    if status in (401, 403):
        first += "; check that HF_TOKEN is a write token of an account that may write there"
    return f"HTTP {status}: {first}" if status and str(status) not in first else first


def _files(n: int) -> str:
    return f"{n} file" if n == 1 else f"{n} files"


def _errors() -> tuple[type[BaseException], ...]:
    """What the Hub client raises for a refusal (`HfHubHTTPError` is an `OSError`), a reply it cannot
    use (`ValueError`, an upload's `RuntimeError`) or a broken connection (its HTTP library's)."""
    errors: list[type[BaseException]] = [OSError, ValueError, RuntimeError]
    for mod in ("httpx2", "httpx"):  # huggingface_hub 2.x, 1.x
        with contextlib.suppress(ImportError):
            errors.append(importlib.import_module(mod).HTTPError)
    return tuple(errors)


def _on_hub(api: Any, repo_id: str, uploads: list[Upload], state: State) -> set[str]:
    """The paths the Hub already holds with the same size and content."""
    hf = _hub()
    local = {u.path: u for u in uploads}
    same: set[str] = set()
    for i in range(0, len(uploads), PATHS_PER_ASK):
        paths = [u.path for u in uploads[i : i + PATHS_PER_ASK]]
        for info in api.get_paths_info(repo_id, paths, repo_type="dataset"):
            u = local.get(info.path)
            if u is None or not isinstance(info, hf.hf_api.RepoFile) or info.size != u.size:
                continue
            if info.lfs is not None:
                if info.lfs.sha256 == state.sha256(u):
                    same.add(u.path)
            elif info.blob_id == git_blob_id(u.local):
                same.add(u.path)
    return same


def _stale(api: Any, repo_id: str, front: dict, keep: set[str]) -> list[str]:
    """Repository files a glob of the card's configs matches that are not being pushed."""
    globs = [glob_regex(p) for _, p in data_file_patterns(front) if _GLOB_CHARS.search(p)]
    if not globs:
        return []
    hf = _hub()
    return sorted(
        f.path
        for f in api.list_repo_tree(repo_id, recursive=True, repo_type="dataset")
        if isinstance(f, hf.hf_api.RepoFile)
        and f.path not in keep
        and _visible(PurePosixPath(f.path))
        and any(g.fullmatch(f.path) for g in globs)
    )


def _batches(items: list[Upload], size: int) -> Iterator[list[Upload]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def push(
    run_dir: Path,
    repo_id: str,
    *,
    private: bool = False,
    endpoint: str | None = None,
    token: str | None = None,
    files_per_commit: int = FILES_PER_COMMIT,
    say: Callable[[str], None] = lambda _: None,
) -> PushSummary:
    """Create `repo_id` (a dataset repository) if needed and upload what the run's card names, in
    batches of `files_per_commit`, skipping what the Hub already has. Token: `token`, else
    HF_TOKEN (or a saved `hf auth login`)."""
    run_dir = Path(run_dir)
    repo_id = parse_repo_id(repo_id)
    url = resolve_endpoint(endpoint)
    uploads = plan_upload(run_dir)
    hf = _hub()
    token = token or hf.get_token()
    if not token:
        raise PushError(
            "no Hugging Face token: set HF_TOKEN (a write token from https://huggingface.co/settings/tokens)"
        )
    api = hf.HfApi(endpoint=url, token=token)
    state = State(run_dir, repo_id, url)
    summary = PushSummary(repo_id, f"{url}/datasets/{repo_id}")
    failed = _errors()
    step = "create the repository"
    try:
        api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        if private:
            step = "read the repository's settings"
            if not api.repo_info(repo_id, repo_type="dataset").private:
                raise PushError(
                    f"{repo_id} exists and is public: --private does not change that; make it private on "
                    "the Hub first, or push to another name"
                )
        step = "ask which files the Hub already has"
        same = _on_hub(api, repo_id, uploads, state)
        summary.skipped = [u for u in uploads if u.path in same]
        todo = [u for u in uploads if u.path not in same]
        data, card = [u for u in todo if u.path != CARD], [u for u in todo if u.path == CARD]
        step = "list the repository"
        summary.deleted = _stale(
            api, repo_id, card_front_matter(run_dir / "exports" / CARD), {u.path for u in uploads}
        )
        if summary.skipped:
            say(f"{_files(len(summary.skipped))} already on the Hub with the same content: skipped")
        state.save()
        batches = [(b, False) for b in _batches(data, max(1, files_per_commit))]
        if card or summary.deleted:
            batches.append((card, True))
        for n, (batch, is_card) in enumerate(batches, 1):
            ops: list[Any] = []
            for u in batch:
                op = hf.CommitOperationAdd(path_in_repo=u.path, path_or_fileobj=str(u.local))
                op.upload_info.sha256 = bytes.fromhex(state.sha256(u))  # hashed once, not again
                ops.append(op)
            if is_card:
                ops += [hf.CommitOperationDelete(path_in_repo=p) for p in summary.deleted]
            message = "Upload the dataset card" if is_card else f"Upload data files ({n} of {len(batches)})"
            step = f"commit {n} of {len(batches)} ({_files(len(batch))})"
            info = api.create_commit(repo_id, ops, commit_message=message, repo_type="dataset")
            summary.commits.append(info.oid)
            summary.uploaded += batch
            state.committed((u.path for u in batch), info.oid)
            state.save()
            mb = sum(u.size for u in batch) / 1e6
            say(f"commit {n}/{len(batches)}: {_files(len(batch))}, {mb:.1f} MB → {info.oid[:12]}")
    except PushError:
        raise
    except failed as e:
        state.save()
        done = len(summary.uploaded) + len(summary.skipped)
        raise PushFailed(
            f"push to {repo_id} stopped at {step}: {_reason(e)}; {done} of {_files(len(uploads))} known to "
            "be on the Hub; run the same command again to resume"
        ) from None
    return summary
