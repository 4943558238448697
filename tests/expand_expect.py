"""What a dataset fixture holds, so one end-to-end test can import every dataset's fixture.

Each dataset's tests define `build_<dataset>(root: Path) -> Expected`: it writes a small
fixture in the dataset's published layout under `root` (images drawn by the test) and returns
what importing it must give.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Expected:
    dataset: str  # the reader's name in visinstruct.expand.READERS
    path: str  # the folder or file a recipe's `path:` names, relative to `root`
    split: str  # the split a recipe's `split:` names
    answers: dict[str, str]  # every usable question: the dataset's question id -> normalised answer
    bad: set[str] = field(default_factory=set)  # ids of the records that must be refused
    images: int = 0  # distinct images the usable questions are about
    options: dict[str, str] = field(default_factory=dict)  # source options (generic importers' columns)
