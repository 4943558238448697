"""Where a model is weak: accuracy per category with a confidence interval, sampling weights
that favour the weak categories, integer quotas, a terminal table and an inline SVG plot.

A benchmark category often has only a few dozen questions, so its accuracy is noisy; the
Wilson interval shows how much, and the table and plot carry it next to every accuracy so a
one-round "improvement" inside the interval is not read as progress.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from rich.markup import escape as markup_escape
from rich.table import Table

from visinstruct.loop.results import EvalRecord
from visinstruct.report.charts import (
    CHAR_W,
    PALETTE,
    Fmt,
    _legend,
    _short,
    _x_grid,
    _x_title,
    esc,
    fmt_pct,
    nice_max,
)

Z95 = 1.959963984540054  # the normal quantile for a two-sided 95% interval
STRATEGIES = ("targeted", "uniform")

# The report page styles `svg.chart`; this copy of its rules lets the plot stand alone too
# (written to a file or embedded elsewhere). Scoped to `svg.weakness`, so it changes nothing else.
_STYLE = (
    "<style>"
    "svg.weakness text{font:12px system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif;fill:#475569}"
    "svg.weakness .ax{font-weight:600;fill:#334155}"
    "svg.weakness .val{font-size:11px;fill:#0f172a}"
    "svg.weakness .lg{fill:#334155}"
    "svg.weakness .grid{stroke:#eef2f7}"
    "svg.weakness .axis{stroke:#94a3b8}"
    "svg.weakness .ci{stroke:#0f172a;stroke-width:1.2}"
    "</style>"
)


@dataclass
class CategoryStat:
    """Accuracy of one category: `correct` of `n` answers, with a 95% Wilson interval [low, high].

    `unscored` answers (the prediction could not be scored) are among the `n` and count as
    wrong, as the benchmarks count them. With n = 0 nothing is known: accuracy 0, interval [0, 1].
    A `summary` statistic comes from a category-level summary: its accuracy is given, n is
    unknown (0), so there is no interval (low = high = accuracy) and no bad case to learn from.
    """

    category: str
    n: int
    correct: int
    accuracy: float
    low: float
    high: float
    unscored: int = 0
    summary: bool = False

    @property
    def error(self) -> float:
        return min(1.0, max(0.0, 1.0 - self.accuracy))


def wilson(correct: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval for `correct` successes in `n` trials.

    Unlike the normal approximation it stays inside [0, 1] and is not zero-width at 0/n or
    n/n, which matters for the small categories benchmarks have.
    """
    if n <= 0:
        return 0.0, 1.0
    p = correct / n
    z2 = z * z
    denom = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def category_stat(category: str, n: int, correct: int, unscored: int = 0) -> CategoryStat:
    low, high = wilson(correct, n)
    return CategoryStat(category, n, correct, correct / n if n else 0.0, low, high, unscored)


def summary_stats(accuracies: Mapping[str, float]) -> list[CategoryStat]:
    """Statistics from a category-level summary (accuracy per category, no answers), weakest first."""
    stats = [CategoryStat(c, 0, 0, a, a, a, summary=True) for c, a in accuracies.items()]
    return sorted(stats, key=lambda s: (s.accuracy, s.category))


def accuracy_by_category(records: Iterable[EvalRecord]) -> list[CategoryStat]:
    """Accuracy per category, weakest first (ties by name, so the order is reproducible)."""
    counts: dict[str, list[int]] = {}
    for r in records:
        c = counts.setdefault(r.category, [0, 0, 0])
        c[0] += 1
        c[1] += bool(r.correct)
        c[2] += r.error is not None
    stats = [category_stat(cat, n, k, u) for cat, (n, k, u) in counts.items()]
    return sorted(stats, key=lambda s: (s.accuracy, s.category))


def weights(
    stats: Iterable[CategoryStat],
    floor: float = 0.05,
    temperature: float = 1.0,
    strategy: str = "targeted",
) -> dict[str, float]:
    """Share of the next round's data per category; the shares sum to 1, each is at least `floor`.

    Targeted: w_c = floor + (1 − K·floor) · e_c^(1/T) / Σ e^(1/T), with e_c the error rate.
    T = 1 is proportional to the error rate; a small T puts nearly everything on the weakest
    category, a large T spreads evenly over every category with any error. `uniform` gives
    1/K each, the baseline a targeted run is compared against.

    Why the floor: accuracy is measured on a few dozen questions, so a category at 0% error
    may just have been lucky, and a category given no data at all can regress unseen while
    the others are trained. The floor keeps every category in every round; a category with
    0% error gets exactly its floor share, and when no category has any error the shares
    are uniform. A category with no answers (n = 0) counts as all wrong: nothing shows it is learnt.
    """
    stats = list(stats)
    k = len(stats)
    if k == 0:
        raise ValueError("weights: no categories (stats is empty)")
    names = [s.category for s in stats]
    if len(set(names)) != k:
        dup = sorted({c for c in names if names.count(c) > 1})
        raise ValueError(f"weights: duplicate categories {dup}")
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}, got {strategy!r}")
    if not floor >= 0:
        raise ValueError(f"floor must be >= 0, got {floor}")
    if floor * k > 1 + 1e-12:
        raise ValueError(
            f"floor={floor} with {k} categories: floor × categories = {floor * k:g} must be <= 1"
        )
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    errors = {s.category: s.error for s in stats}
    if strategy == "uniform" or not any(errors.values()):
        return {c: 1.0 / k for c in names}
    # e^(1/T) in log space, scaled by the largest: a small T cannot underflow every term to 0.
    logs = {c: math.log(e) / temperature for c, e in errors.items() if e > 0}
    top = max(logs.values())
    raw = {c: math.exp(logs[c] - top) if c in logs else 0.0 for c in names}
    total = math.fsum(raw.values())
    spread = max(0.0, 1.0 - k * floor)
    return {c: floor + spread * raw[c] / total for c in names}


def quotas(weights: Mapping[str, float], total: int, minimum: int = 0) -> dict[str, int]:
    """Whole item counts per category that sum exactly to `total`, in proportion to `weights`.

    Largest remainder: each category gets the whole part of its share, the seats left go to
    the largest fractions, ties to the earlier name, so the result never depends on dict
    order. Every category then gets at least `minimum`, and at least 1 when its weight is
    positive and `total` covers one per category; the seats for that come from the
    categories furthest above their exact share.
    """
    if not weights:
        raise ValueError("quotas: no categories (weights is empty)")
    if total < 0:
        raise ValueError(f"total must be >= 0, got {total}")
    if minimum < 0:
        raise ValueError(f"minimum must be >= 0, got {minimum}")
    bad = sorted(c for c, w in weights.items() if not (w >= 0 and math.isfinite(w)))
    if bad:
        raise ValueError(f"weights must be finite and >= 0: {', '.join(bad)}")
    k = len(weights)
    if minimum * k > total:
        raise ValueError(f"minimum={minimum} with {k} categories needs total >= {minimum * k}, got {total}")
    names = sorted(weights)
    wsum = math.fsum(weights.values())
    if wsum <= 0:
        raise ValueError("quotas: every weight is 0")
    # Rounded so that shares that are whole in exact arithmetic (0.25 × 4) stay whole.
    ideal = {c: round(weights[c] / wsum * total, 9) for c in names}
    counts = {c: math.floor(ideal[c]) for c in names}
    left = total - sum(counts.values())
    for c in sorted(names, key=lambda c: (-(ideal[c] - counts[c]), c))[:left]:
        counts[c] += 1
    lower = {c: max(minimum, 1 if weights[c] > 0 and total >= k else 0) for c in names}
    for c in names:
        while counts[c] < lower[c]:
            donors = [d for d in names if counts[d] > lower[d]]
            donor = min(donors, key=lambda d: (-(counts[d] - ideal[d]), d))
            counts[donor] -= 1
            counts[c] += 1
    return counts


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _acc_ci(s: CategoryStat) -> str:
    if s.summary:
        return f"{_pct(s.accuracy)} (summary)"
    if s.n == 0:
        return "— (no answers)"
    return f"{_pct(s.accuracy)} [{100 * s.low:.1f}–{100 * s.high:.1f}]"


def _change(s: CategoryStat, before: CategoryStat | None) -> str:
    if before is None or before.n == 0:
        return "[dim]new[/]"
    d = 100 * (s.accuracy - before.accuracy)
    if abs(d) < 0.05:
        return "±0.0"
    return f"[green]+{d:.1f}[/]" if d > 0 else f"[red]−{-d:.1f}[/]"


def weakness_table(
    stats: Sequence[CategoryStat],
    weights: Mapping[str, float],
    quotas: Mapping[str, int],
    previous: list[CategoryStat] | None = None,
    notes: Mapping[str, str] | None = None,
) -> Table:
    """One row per category in the order of `stats` (weakest first from `accuracy_by_category`),
    with the 95% interval beside each accuracy and, given the previous round, the change in
    percentage points; a total row at the end. `notes`: a short text per category (why it
    gets no data, the closest domain to map it to), in a last column when there is any."""
    from_summary = bool(stats) and all(s.summary for s in stats)
    what = "accuracy" if from_summary else "accuracy (95% Wilson interval)"
    table = Table(title=f"weak categories: {what} → share of the next round")
    if from_summary:
        table.caption = (
            "from a category-level summary: accuracy per category only — n unknown, no interval, "
            "no bad cases (targeted questions need per-question results)"
        )
    table.add_column("category")
    table.add_column("n", justify="right")
    if any(s.unscored for s in stats):
        table.add_column("unscored", justify="right")
    table.add_column("accuracy" if from_summary else "accuracy [95% CI]", justify="right")
    if previous is not None:
        table.add_column("change (pts)", justify="right")
    table.add_column("error", justify="right")
    table.add_column("weight", justify="right")
    table.add_column("quota", justify="right")
    notes = {c: n for c, n in (notes or {}).items() if n}
    if notes:
        table.add_column("note")  # why a category gets no data, and the closest domain to map it to
    before = {s.category: s for s in previous or []}
    show_unscored = any(s.unscored for s in stats)

    def row(
        s: CategoryStat, change: str, weight: str, quota: str, style: str | None = None, note: str = ""
    ) -> None:
        n = "—" if s.summary or (from_summary and s.n == 0) else str(s.n)
        cells = [markup_escape(s.category), n]  # a name like "[b]" is text, not style
        if show_unscored:
            cells.append(str(s.unscored))
        cells.append(_acc_ci(s))
        if previous is not None:
            cells.append(change)
        cells += [_pct(s.error) if s.n or s.summary else "—", weight, quota]
        if notes:
            cells.append(markup_escape(note))
        table.add_row(*cells, style=style)

    for s in stats:
        w = weights.get(s.category)
        q = quotas.get(s.category)
        row(
            s,
            _change(s, before.get(s.category)),
            _pct(w) if w is not None else "—",
            str(q) if q is not None else "—",
            note=notes.get(s.category, ""),
        )
    all_n = sum(s.n for s in stats)
    total = category_stat("total", all_n, sum(s.correct for s in stats), sum(s.unscored for s in stats))
    if from_summary:  # a summary's categories have no counts to add up
        total = CategoryStat("total", 0, 0, 0.0, 0.0, 1.0)
    change = ""
    if previous:
        was = category_stat("total", sum(s.n for s in previous), sum(s.correct for s in previous))
        change = _change(total, was)
    table.add_section()
    w_total = _pct(math.fsum(weights.values())) if weights else "—"  # the last round shares nothing
    row(total, change, w_total, str(sum(quotas.values())) if quotas else "—", style="bold")
    return table


def _grouped_hbars(
    rows: Sequence[str],
    series: Sequence[str],
    values: Mapping[tuple[str, str], float],
    intervals: Mapping[tuple[str, str], tuple[float, float]],
    tips: Mapping[tuple[str, str], str],
    *,
    top: float,
    step: float,
    x_label: str,
    title: str,
    fmt: Fmt = fmt_pct,
    width: int = 640,
    label_chars: int = 32,
) -> str:
    """Horizontal bars, one group per row (category) and one bar per series (round), with an
    optional interval whisker per bar: names stay readable however long they are."""
    legend = len(series) > 1
    bar_h = 14.0
    row_h = bar_h * len(series) + 10
    longest = max([len(_short(str(r), label_chars)) for r in rows] + [6])
    x0, x1 = min(width * 0.45, 16 + CHAR_W * longest), width - 52.0
    y1 = 30.0 if legend else 8.0
    y0 = y1 + row_h * len(rows)
    height = int(y0 + 42)
    body = _legend(series, PALETTE, x0, 16) if legend else []
    body += _x_grid(top, step, x0, x1, y0, y1, fmt)

    def x_of(v: float) -> float:
        return x0 + (x1 - x0) * min(v, top) / top

    for i, r in enumerate(rows):
        for j, s in enumerate(series):
            if (r, s) not in values:
                continue
            v = values[r, s]
            y = y1 + row_h * i + 5 + bar_h * j
            mid = y + (bar_h - 2) / 2
            color = PALETTE[j % len(PALETTE)]
            body.append(
                f'<rect class="bar" x="{x0:.1f}" y="{y:.1f}" width="{max(x_of(v) - x0, 0.5):.1f}" '
                f'height="{bar_h - 2:.1f}" fill="{color}">'
                f"<title>{esc(tips.get((r, s), fmt(v)))}</title></rect>"
            )
            end = x_of(v)
            if (r, s) in intervals:
                lo, hi = (x_of(b) for b in intervals[r, s])
                body.append(
                    f'<path class="ci" d="M{lo:.1f} {mid:.1f}H{hi:.1f}M{lo:.1f} {mid - 3:.1f}V{mid + 3:.1f}'
                    f'M{hi:.1f} {mid - 3:.1f}V{mid + 3:.1f}" stroke="#0f172a" fill="none"/>'
                )
                end = max(end, hi)
            body.append(f'<text class="val" x="{end + 4:.1f}" y="{mid + 4:.1f}">{esc(fmt(v))}</text>')
        cy = y1 + row_h * (i + 0.5) + 4
        body.append(
            f'<text class="tick" x="{x0 - 8:.1f}" y="{cy:.1f}" text-anchor="end">'
            f"<title>{esc(r)}</title>{esc(_short(str(r), label_chars))}</text>"
        )
    body.append(f'<line class="axis" x1="{x0:.1f}" x2="{x0:.1f}" y1="{y1:.1f}" y2="{y0:.1f}"/>')
    body.append(_x_title(x_label, x0, x1, height))
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart weakness" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{esc(title)}" preserveAspectRatio="xMidYMid meet">'
        f"<title>{esc(title)}</title>{_STYLE}" + "".join(body) + "</svg>"
    )


def _fmt_pct1(v: float) -> str:
    return f"{v:.1f}%" if v % 1 else f"{v:.0f}%"


def weakness_svg(history: Sequence[tuple[int, Sequence[CategoryStat]]], width: int = 640) -> str:
    """Accuracy per category and round as one inline SVG: a bar per round, a whisker for its
    95% interval, the weakest category of the latest round on top.

    Styled like `report/charts.py` (same classes and palette), no scripts, every text escaped.
    """
    if not history:
        raise ValueError("weakness_svg: history is empty (no rounds to plot)")
    history = sorted(history, key=lambda h: h[0])
    latest = sorted(history[-1][1], key=lambda s: (s.accuracy, s.category))
    rows = [s.category for s in latest]
    rows += sorted({s.category for _, stats in history for s in stats} - set(rows))
    series = [f"round {r}" for r, _ in history]
    values, intervals, tips = {}, {}, {}
    for label, (_, stats) in zip(series, history, strict=True):
        for s in stats:
            key = (s.category, label)
            values[key] = 100 * s.accuracy
            intervals[key] = (100 * s.low, 100 * s.high)
            tips[key] = f"{s.category} · {label}: {_acc_ci(s)}, {s.correct}/{s.n} correct"
    return _grouped_hbars(
        rows,
        series,
        values,
        intervals,
        tips,
        top=100.0,
        step=20.0,
        x_label="accuracy (%); whiskers: 95% Wilson interval",
        title="Accuracy per category and round",
        fmt=_fmt_pct1,
        width=width,
    )


def weights_svg(weights_by_round: Sequence[tuple[int, Mapping[str, float]]], width: int = 640) -> str:
    """Each round's sampling weight per category as one inline SVG (bars per round)."""
    if not weights_by_round:
        raise ValueError("weights_svg: weights_by_round is empty (no rounds to plot)")
    history = sorted(weights_by_round, key=lambda h: h[0])
    latest = history[-1][1]
    rows = sorted(latest, key=lambda c: (-latest[c], c))
    rows += sorted({c for _, w in history for c in w} - set(rows))
    series = [f"round {r}" for r, _ in history]
    values = {
        (c, label): 100 * w for label, (_, ws) in zip(series, history, strict=True) for c, w in ws.items()
    }
    tips = {(c, s): f"{c} · {s}: {v:.1f}%" for (c, s), v in values.items()}
    top, step = nice_max(min(100.0, max(list(values.values()) + [1.0]) * 1.1))
    return _grouped_hbars(
        rows,
        series,
        values,
        {},
        tips,
        top=top,
        step=step,
        x_label="share of the round's generated data (%)",
        title="Sampling weight per category and round",
        fmt=_fmt_pct1,
        width=width,
    )


def stats_from(info: dict) -> list[CategoryStat]:
    """The statistics of an analysis step as the loop's ledger recorded them."""
    return [category_stat(c["category"], c["n"], c["correct"], c.get("unscored", 0)) for c in info["stats"]]
