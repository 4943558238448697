"""The one data model that flows through every stage: images, their context, and samples."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

INSTRUCTION_TYPES = ("judgement", "multiple_choice", "short_vqa", "long_vqa", "caption")
STATUSES = ("accepted", "needs_review", "rejected", "edited")
LANGUAGES = ("en", "zh")
LETTERS = "ABCD"
REJECT, REVIEW = "reject", "review"  # what a failed check does to its sample


@dataclass
class ImageRecord:
    """An image stored once in the run, addressed by the sha256 of its bytes."""

    id: str  # sha256 hex of the encoded bytes
    path: str  # relative to the run directory
    width: int
    height: int
    format: str
    provenance: dict[str, Any] = field(default_factory=dict)


#: What an image's provenance says about how it may be used and whom to credit: the license, its
#: version and deed, the creator, the title, the page showing the work, a ready credit line, and
#: where it was found (the search provider and query, the file's URL). Exported with every row.
ATTRIBUTION_KEYS = (
    "license",
    "license_version",
    "license_url",
    "creator",
    "creator_url",
    "title",
    "source_page",
    "credit",
    "provider",
    "query",
    "url",
)


def attribution(provenance: dict[str, Any]) -> dict[str, Any] | None:
    """An image's attribution (every key of ATTRIBUTION_KEYS, None when unknown), or None when its
    provenance names no license (an image of one's own folder, a drawn one)."""
    if not provenance.get("license"):
        return None
    return {k: provenance.get(k) for k in ATTRIBUTION_KEYS}


@dataclass
class Turn:
    question: str
    answer: str


@dataclass
class Sample:
    """One instruction sample: an instruction type over one or more images.

    `checks` holds check results by name. In the run directory the automatic results live
    apart from the sample (per check stage, with its version); only a person's decision
    (`checks["review"]`) is part of the stored sample. `status` is derived from both."""

    id: str
    images: list[str]  # image ids (content hashes)
    domain: str
    type: str
    language: str
    turns: list[Turn]
    options: list[str] = field(default_factory=list)
    answer_letter: str | None = None
    short_answer: str | None = None
    category: str | None = None  # finer question kind, e.g. "counting" (the loop targets these)
    status: str = "accepted"
    checks: dict[str, dict[str, Any]] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)  # what was known: exact facts, caption
    round: int = 0

    def to_dict(self) -> dict[str, Any]:
        """A plain dict (JSON-ready). Shallow on purpose: `dataclasses.asdict` deep-copies
        every nested value and was a fifth of the engine's per-sample cost."""
        d = dict(self.__dict__)
        d["turns"] = [{"question": t.question, "answer": t.answer} for t in self.turns]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Sample:
        d = dict(d)
        d["turns"] = [Turn(**t) for t in d["turns"]]
        return cls(**d)

    @property
    def generator(self) -> str:
        return str(self.provenance.get("generator") or "")

    @property
    def drawn(self) -> bool:
        """Made by a synthetic domain from exact facts (not written by a model)."""
        return self.generator.startswith("synth/")


def sample_id(*parts: object) -> str:
    """Deterministic id from content: image hashes, generator, version, language, ordinal."""
    h = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()
    return h[:20]


def review_action(checks: dict[str, Any] | None) -> str | None:
    """The person's decision recorded in a sample's checks: accept, reject, edit, or None."""
    r = (checks or {}).get("review")
    if not isinstance(r, dict):
        return None
    if r.get("action") in ("accept", "reject", "edit"):
        return r["action"]
    return "accept" if r.get("pass") else "reject"


def derive_status(review: str | None, results: list[dict[str, Any]]) -> str:
    """A sample's status: a person's decision outranks every automatic result; otherwise a
    failed `reject` check rejects, a failed `review` check sends to review."""
    if review == "edit":
        return "edited"
    if review == "accept":
        return "accepted"
    if review == "reject":
        return "rejected"
    verdict = "accepted"
    for r in results:
        if isinstance(r, dict) and r.get("pass") is False:
            if r.get("severity", REJECT) == REJECT:
                return "rejected"
            verdict = "needs_review"
    return verdict
