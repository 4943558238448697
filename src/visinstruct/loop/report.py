"""The loop's HTML report: accuracy per category per round (with 95% intervals), the
weights each round gave, what each round made and cost, and the categories it gave no data
(with why). One self-contained file."""

from __future__ import annotations

from datetime import datetime, timezone

from visinstruct.loop.weakness import stats_from, weakness_svg, weights_svg
from visinstruct.report.charts import esc
from visinstruct.report.html import CSP, CSS


def render_loop_report(name: str, rows: list[tuple[int, str, dict]]) -> str:
    """The page for a loop's ledger rows (round, step, info)."""
    history = [(r, stats_from(i)) for r, s, i in rows if s == "analyse"]
    weights = [(r, i["weights"]) for r, s, i in rows if s == "analyse" and i["weights"]]
    made = {r: i for r, s, i in rows if s == "generate"}
    parts = [f"<h1>{esc(name)} · closed loop</h1>"]
    if history:
        parts.append("<h2>Accuracy per category, per round</h2>")
        parts.append(f'<div class="card">{weakness_svg(history)}</div>')
    if weights:
        parts.append("<h2>Share of each round's data</h2>")
        parts.append(f'<div class="card">{weights_svg(weights)}</div>')
    if made:
        head = "<tr><th>round</th><th>samples</th><th>per category</th><th>failed</th><th>cost</th></tr>"
        body = "".join(
            f"<tr><td>{r}</td><td>{i['samples']}</td>"
            f"<td>{esc(', '.join(f'{c} {n}' for c, n in sorted(i['by_category'].items())))}</td>"
            f"<td>{i['failed']}</td><td>${i['cost_usd']:.4f}</td></tr>"
            for r, i in sorted(made.items())
        )
        parts.append(f"<h2>Data made</h2><table>{head}{body}</table>")
    dropped = [
        (r, c, why) for r, s, i in rows if s == "analyse" for c, why in sorted(i.get("dropped", {}).items())
    ]
    if dropped:  # unmapped categories and those whose targets cannot be made: quota 0, said so
        head = "<tr><th>round</th><th>category</th><th>why</th></tr>"
        body = "".join(f"<tr><td>{r}</td><td>{esc(c)}</td><td>{esc(why)}</td></tr>" for r, c, why in dropped)
        parts.append(f"<h2>Categories given no data</h2><table>{head}{body}</table>")
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{esc(CSP)}">'
        f"<title>{esc(name)} · visinstruct loop</title><style>{CSS}</style></head><body><main>"
        + "".join(parts)
        + f"</main><footer>written {esc(stamp)}</footer></body></html>\n"
    )
