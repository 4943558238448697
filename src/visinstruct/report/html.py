"""The run report: one self-contained HTML file (inline CSS and SVG, images as data: URIs).

Nothing in the page is fetched: no scripts, no remote fonts, no remote images, and a Content
Security Policy that forbids them. Every text that came from a model, a person or a
recipe is escaped before it is written. A report that shows Chinese embeds the bundled CJK
font (about 1.1 MB as base64, only then), so no hanzi shows as a box on a machine without one.
"""

from __future__ import annotations

import base64
import io
import os
import re
from datetime import datetime, timezone
from functools import cache
from importlib import resources
from pathlib import Path

from PIL import Image

from visinstruct.models.ledger import ledger_rows
from visinstruct.records import LETTERS, STATUSES, Sample
from visinstruct.report.charts import PALETTE, esc, fmt_num, grouped_bars, hbars, histogram, stacked_hbars
from visinstruct.report.stats import Stats, collect
from visinstruct.store import RunStore, temp_name

THUMB = 320  # longest side of a gallery thumbnail, pixels
STATUS_ORDER = ("accepted", "edited", "needs_review", "rejected")
STATUS_COLORS = {
    "accepted": "#16a34a",
    "edited": "#2563eb",
    "needs_review": "#f59e0b",
    "rejected": "#dc2626",
}
SEVERITY_COLORS = {"reject": "#dc2626", "review": "#f59e0b"}
LANG_NAMES = {"en": "English", "zh": "Chinese"}
TOP_REASONS = 12

CSP = (
    "default-src 'none'; img-src data:; font-src data:; style-src 'unsafe-inline'; "
    "base-uri 'none'; form-action 'none'"
)
CJK_FONT = "NotoSansSC-Regular.otf"  # bundled with the synthetic domains (visinstruct/fonts)
CJK_FAMILY = "visinstruct CJK"
CJK_TEXT = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")

CSS = """
:root { --bg:#f5f6f8; --card:#fff; --ink:#0f172a; --muted:#64748b; --line:#e2e8f0; --accent:#2563eb; }
* { box-sizing: border-box; }
html { scroll-behavior: smooth; scroll-padding-top: 64px; }
body { margin:0; background:var(--bg); color:var(--ink);
  font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,"Noto Sans",
  "PingFang SC","Microsoft YaHei","visinstruct CJK",sans-serif; }
header.top { position:sticky; top:0; z-index:10; background:#0f172a; color:#fff;
  display:flex; flex-wrap:wrap; align-items:center; gap:6px 22px; padding:10px 24px; }
header.top .brand { font-weight:700; font-size:15px; }
header.top .brand span { color:#94a3b8; font-weight:400; }
header.top nav { display:flex; flex-wrap:wrap; gap:4px; }
header.top nav a { color:#cbd5e1; text-decoration:none; padding:3px 10px; border-radius:999px;
  font-size:13px; }
header.top nav a:hover { background:#1e293b; color:#fff; }
main { max-width:1240px; margin:0 auto; padding:20px 24px 60px; }
section { margin:0 0 34px; }
h2 { font-size:20px; margin:0 0 4px; }
h3 { font-size:14px; margin:0 0 8px; color:#334155; }
p.lead { margin:0 0 14px; color:var(--muted); }
.card { background:var(--card); border:1px solid var(--line); border-radius:10px; padding:16px 18px;
  box-shadow:0 1px 2px rgba(15,23,42,.04); }
.grid { display:grid; gap:16px; grid-template-columns:repeat(auto-fit,minmax(min(440px,100%),1fr)); }
.grid.small { grid-template-columns:repeat(auto-fit,minmax(min(300px,100%),1fr)); }
.kpis { display:grid; gap:12px; grid-template-columns:repeat(auto-fit,minmax(150px,1fr));
  margin-bottom:16px; }
.kpi { background:var(--card); border:1px solid var(--line); border-radius:10px; padding:12px 14px; }
.kpi .v { font-size:22px; font-weight:700; font-variant-numeric:tabular-nums; }
.kpi .v .sub { font-size:13px; font-weight:500; color:var(--muted); }
.kpi .k { color:var(--muted); font-size:12px; text-transform:uppercase; letter-spacing:.04em; }
.kpi.accepted { border-top:3px solid #16a34a; } .kpi.edited { border-top:3px solid #2563eb; }
.kpi.needs_review { border-top:3px solid #f59e0b; } .kpi.rejected { border-top:3px solid #dc2626; }
.empty { color:var(--muted); font-style:italic; padding:8px 0; margin:0; }
table { border-collapse:collapse; width:100%; font-variant-numeric:tabular-nums; }
th, td { padding:6px 10px; border-bottom:1px solid var(--line); text-align:right; }
th:first-child, td:first-child, th.l, td.l { text-align:left; }
thead th { font-size:12px; color:var(--muted); font-weight:600; text-transform:uppercase;
  letter-spacing:.03em; }
tr.total td, td.total { font-weight:700; }
td.heat { border:2px solid #fff; border-radius:4px; }
.tablewrap { overflow-x:auto; }
svg.chart { width:100%; height:auto; display:block; }
svg.chart text { font:12px system-ui,-apple-system,"Segoe UI",Roboto,Arial,"visinstruct CJK",sans-serif;
  fill:#475569; }
svg.chart .ax { font-weight:600; fill:#334155; }
svg.chart .val { font-size:11px; fill:#0f172a; }
svg.chart .inbar { font-size:11px; fill:#fff; font-weight:600; }
svg.chart .lg { fill:#334155; }
svg.chart .grid { stroke:#eef2f7; }
svg.chart .axis { stroke:#94a3b8; }
svg.chart .ref { stroke:#dc2626; stroke-width:1.5; stroke-dasharray:6 4; }
svg.chart .reflbl { fill:#dc2626; font-size:11px; font-weight:600; }
.gallery { display:grid; gap:16px; grid-template-columns:repeat(auto-fill,minmax(min(360px,100%),1fr));
  align-items:start; }
.sample { display:flex; flex-direction:column; gap:10px; }
.imgs { display:flex; gap:8px; flex-wrap:wrap; background:#f8fafc; border-radius:8px; padding:8px;
  justify-content:center; }
.imgs img { max-width:100%; max-height:240px; border-radius:4px; border:1px solid var(--line);
  background:#fff; }
.imgs.multi img { max-width:calc(50% - 4px); }
.noimg { color:var(--muted); font-size:12px; padding:20px; }
.badges { display:flex; flex-wrap:wrap; gap:6px; }
.badge { font-size:11.5px; padding:1px 8px; border-radius:999px; background:#eef2ff; color:#3730a3; }
.badge.st { color:#fff; }
.badge.muted { background:#f1f5f9; color:#475569; }
.turn { border-left:3px solid var(--line); padding:2px 0 2px 10px; margin:0 0 6px; }
.turn .q, .turn .a { white-space:pre-wrap; overflow-wrap:anywhere; margin:0; }
.turn .q::before { content:"Q "; font-weight:700; color:var(--accent); }
.turn .a::before { content:"A "; font-weight:700; color:#16a34a; }
.turn .a { color:#334155; }
ol.options { margin:0; padding:0; list-style:none; }
ol.options li { padding:3px 8px; border-radius:6px; margin:2px 0; overflow-wrap:anywhere; }
ol.options li b { display:inline-block; width:1.6em; }
ol.options li.correct { background:#dcfce7; color:#14532d; font-weight:600; }
ol.options li.correct::after { content:" ✓ correct"; font-size:11px; font-weight:700; }
ul.fails { margin:0; padding:0; list-style:none; }
ul.fails li { font-size:12.5px; padding:4px 8px; border-radius:6px; margin:2px 0; overflow-wrap:anywhere; }
ul.fails li.reject { background:#fee2e2; color:#7f1d1d; }
ul.fails li.review { background:#fef3c7; color:#78350f; }
.credit { color:var(--muted); font-size:12px; overflow-wrap:anywhere; }
.meta { color:var(--muted); font-size:11.5px; font-family:ui-monospace,SFMono-Regular,Menlo,monospace; }
footer { color:var(--muted); font-size:12px; text-align:center; padding:20px; }
"""

SECTIONS = (
    ("overview", "Overview"),
    ("sources", "Sources"),
    ("samples", "Samples"),
    ("datasets", "Datasets"),
    ("balance", "Balance"),
    ("lengths", "Lengths"),
    ("checks", "Checks"),
    ("verification", "Verification"),
    ("cost", "Cost"),
    ("gallery", "Gallery"),
)


def write_report(store: RunStore, out: Path, gallery: int = 24, seed: int = 0) -> Path:
    """Write the run's report to `out` (one HTML file) and return its path.

    One pass over the samples: counts are aggregated as they stream by and the gallery
    keeps `gallery` samples picked at random with `seed` (the same run and seed always
    show the same samples).
    """
    out = Path(out)
    stats, picks = collect(store.iter_samples(), gallery=gallery, seed=seed)
    page = render(store, stats, picks)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_name(out)
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, out)
    return out


def render(store: RunStore, stats: Stats, picks: list[Sample]) -> str:
    recipe = store.get_meta("recipe", {}) or {}
    name = str(recipe.get("name") or store.dir.name)
    n_images = store.db.execute("SELECT COUNT(*) FROM images").fetchone()[0]
    ledger = ledger_rows(store.db)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    nav = "".join(f'<a href="#{key}">{esc(title)}</a>' for key, title in SECTIONS)
    body = [
        _overview(stats, n_images, ledger, len(store.failed_units())),
        _sources(store),
        _samples(stats),
        _datasets(store),
        _balance(stats),
        _lengths(stats, recipe),
        _checks(stats),
        _caption_facts(stats),
        _verification(stats),
        _cost(stats, ledger),
        _gallery(store, picks, stats.total),
    ]
    main = "".join(body)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{esc(CSP)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{esc(name)} · visinstruct report</title>"
        f"<style>{cjk_font_face() if CJK_TEXT.search(main + name) else ''}{CSS}</style></head><body>"
        f'<header class="top"><div class="brand">{esc(name)} <span>· visinstruct report</span></div>'
        f"<nav>{nav}</nav></header>"
        "<main>" + main + "</main>"
        f"<footer>Run directory {esc(store.dir)} · written {esc(stamp)}</footer>"
        "</body></html>\n"
    )


@cache
def cjk_font_face() -> str:
    """An @font-face carrying the bundled CJK font inline, for CJK characters only (unicode-range):
    Latin text keeps the system font, hanzi never fall back to boxes."""
    data = resources.files("visinstruct").joinpath("fonts").joinpath(CJK_FONT).read_bytes()
    b64 = base64.b64encode(data).decode("ascii")
    return (
        f'@font-face {{ font-family:"{CJK_FAMILY}"; src:url(data:font/otf;base64,{b64}) format("opentype"); '
        "unicode-range:U+3000-303F,U+3400-9FFF,U+FF00-FFEF; font-display:block; }\n"
    )


# -- sections ---------------------------------------------------------------------------
def _section(key: str, title: str, lead: str, *parts: str) -> str:
    lead_html = f'<p class="lead">{lead}</p>' if lead else ""
    return f'<section id="{key}"><h2>{esc(title)}</h2>{lead_html}' + "".join(parts) + "</section>"


def _card(title: str, content: str) -> str:
    head = f"<h3>{esc(title)}</h3>" if title else ""
    return f'<div class="card">{head}{content}</div>'


def _empty(text: str) -> str:
    return f'<p class="empty">{esc(text)}</p>'


def _kpi(label: str, value: str, cls: str = "", sub: str = "") -> str:
    sub_html = f' <span class="sub">{esc(sub)}</span>' if sub else ""
    return (
        f'<div class="kpi {esc(cls)}"><div class="v">{esc(value)}{sub_html}</div>'
        f'<div class="k">{esc(label)}</div></div>'
    )


def _pct(n: float, d: float) -> str:
    return f"{100 * n / d:.1f}%" if d else "–"


def _money(v: float) -> str:
    return f"${v:,.2f}" if v >= 1 or v == 0 else f"${v:,.4f}"


def _overview(stats: Stats, n_images: int, ledger: list[tuple], failed_units: int) -> str:
    spend = sum(r[9] for r in ledger)
    kpis = [
        _kpi("samples", fmt_num(stats.total)),
        _kpi("images", fmt_num(n_images)),
        *(
            _kpi(
                st.replace("_", " "), fmt_num(stats.by_status[st]), st, _pct(stats.by_status[st], stats.total)
            )
            for st in STATUS_ORDER
        ),
        _kpi("languages", ", ".join(stats.languages()) or "–"),
        _kpi("model spend", _money(spend)),
    ]
    if failed_units:
        kpis.append(_kpi("failed units", fmt_num(failed_units), "rejected"))
    lead = (
        f"{fmt_num(stats.total)} samples over {fmt_num(n_images)} images in "
        f"{len(stats.domains())} domains; {fmt_num(stats.usable)} usable (accepted or edited)."
    )
    return _section("overview", "Overview", esc(lead), f'<div class="kpis">{"".join(kpis)}</div>')


SHOWN_CREDITS = 200  # licensed images listed with their credit
SHOWN_REJECTED = 100


def _link(url: object, text: object) -> str:
    """A link to an http(s) page (anything else is shown as text); never fetched by the page."""
    label = esc(text if text not in (None, "") else url)
    if isinstance(url, str) and url.lower().startswith(("https://", "http://")):
        return f'<a href="{esc(url)}" rel="noopener noreferrer nofollow">{label}</a>'
    return label


def _sources(store: RunStore) -> str:
    """Where the source images came from: searches, licenses and credits, and what was refused."""
    from visinstruct.sources.search.cache import search_counts, search_failures

    n_inputs, n_rejected = store.input_counts()
    if not n_inputs:
        return _section("sources", "Sources", "", _card("", _empty("no source images (only drawn items)")))
    again = store.duplicate_inputs()
    kpis = [
        _kpi("inputs", fmt_num(n_inputs)),
        _kpi("stored", fmt_num(n_inputs - n_rejected)),
        _kpi("found again", fmt_num(again), "", "stored once"),
        _kpi("rejected", fmt_num(n_rejected), "rejected" if n_rejected else ""),
    ]
    parts = [f'<div class="kpis">{"".join(kpis)}</div>']
    counts = search_counts(store.db)
    if counts:
        rows = "".join(
            f"<tr><td>{esc(c.provider)}</td><td>{fmt_num(c.pages)}</td><td>{fmt_num(c.requests)}</td>"
            f"<td>{fmt_num(c.retries)}</td><td>{fmt_num(c.failed)}</td></tr>"
            for c in counts
        )
        table = (
            "<table><thead><tr><th>provider</th><th>result pages</th><th>requests</th>"
            f"<th>retried (429, passing errors)</th><th>failed</th></tr></thead><tbody>{rows}</tbody></table>"
        )
        fails = search_failures(store.db, limit=SHOWN_REJECTED)
        if fails:
            items = "".join(
                f'<li class="reject">{esc(p)} {esc(repr(q))} page {n}: {esc(why)}</li>'
                for p, q, n, why in fails
            )
            table += f'<ul class="fails">{items}</ul>'
        parts.append(_card("Image search", table))
    licenses = store.license_counts()
    if licenses:
        labels = [str(code) for code, _ in licenses]
        parts.append(
            _card(
                "Images per license",
                hbars(labels, [n for _, n in licenses], x_label="images", title="Images per license"),
            )
        )
        rows = []
        shown = store.licensed_images(limit=SHOWN_CREDITS)
        for image_id, prov in shown:
            rows.append(
                f'<tr><td class="l meta">{esc(image_id[:12])}</td>'
                f'<td class="l">{_link(prov.get("source_page"), prov.get("title") or "page")}</td>'
                f'<td class="l">{_link(prov.get("creator_url"), prov.get("creator") or "unknown")}</td>'
                f'<td class="l">{_link(prov.get("license_url"), _license_label(prov))}</td>'
                f'<td class="l">{esc(prov.get("provider") or prov.get("source") or "")}</td>'
                f'<td class="l">{esc(prov.get("query") or "")}</td></tr>'
            )
        more = sum(n for _, n in licenses) - len(shown)
        tail = (
            _empty_note(f"and {fmt_num(more)} more images (all in every export's `attribution`)")
            if more
            else ""
        )
        parts.append(
            _card(
                "Credits (every export row carries its images' attribution)",
                '<div class="tablewrap"><table><thead><tr><th class="l">image</th><th class="l">work</th>'
                '<th class="l">creator</th><th class="l">license</th><th class="l">provider</th>'
                f'<th class="l">query</th></tr></thead><tbody>{"".join(rows)}</tbody></table></div>{tail}',
            )
        )
    rejected = store.rejected_inputs(limit=SHOWN_REJECTED)
    if rejected:
        items = "".join(
            f'<li class="reject">{esc(err if err.startswith(ref) else f"{ref}: {err}")}</li>'
            for ref, err in rejected
        )
        tail = (
            _empty_note(f"and {fmt_num(n_rejected - len(rejected))} more")
            if n_rejected > len(rejected)
            else ""
        )
        parts.append(
            _card(
                "Rejected inputs (dead links, not images, unreadable)",
                f'<ul class="fails">{items}</ul>{tail}',
            )
        )
    lead = (
        f"{fmt_num(n_inputs)} inputs: {fmt_num(n_inputs - n_rejected)} stored "
        f"({fmt_num(again)} of them images an earlier input brought), {fmt_num(n_rejected)} rejected."
    )
    return _section("sources", "Sources", esc(lead), *parts)


def _license_label(prov: dict) -> str:
    from visinstruct.sources.search.licenses import license_name

    return license_name(prov.get("license"), prov.get("license_version"))


def _samples(stats: Stats) -> str:
    if not stats.total:
        return _section("samples", "Samples", "", _card("", _empty("the run has no samples yet")))
    domains, types = stats.domains(), stats.types()
    peak = max(stats.by_domain_type.values())
    head = "".join(f"<th>{esc(t)}</th>" for t in types)
    rows = []
    for d in domains:
        cells = []
        for t in types:
            n = stats.by_domain_type.get((d, t), 0)
            alpha = 0.06 + 0.8 * n / peak if n else 0
            ink = "#fff" if alpha > 0.5 else "#0f172a"
            style = f"background:rgba(37,99,235,{alpha:.2f});color:{ink}" if n else "color:#cbd5e1"
            cells.append(f'<td class="heat" style="{style}">{fmt_num(n)}</td>')
        total = sum(stats.by_domain_type.get((d, t), 0) for t in types)
        rows.append(f"<tr><td>{esc(d)}</td>{''.join(cells)}<td class='total'>{fmt_num(total)}</td></tr>")
    col_totals = "".join(
        f"<td>{fmt_num(sum(stats.by_domain_type.get((d, t), 0) for d in domains))}</td>" for t in types
    )
    rows.append(f'<tr class="total"><td>total</td>{col_totals}<td>{fmt_num(stats.total)}</td></tr>')
    table = (
        f'<div class="tablewrap"><table><thead><tr><th>domain</th>{head}<th>total</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )
    statuses = [s for s in STATUS_ORDER if s in stats.by_status] + sorted(
        set(stats.by_status) - set(STATUSES)
    )
    colors = {s: STATUS_COLORS.get(s, "#64748b") for s in statuses}
    by_domain = stacked_hbars(
        domains,
        statuses,
        stats.by_domain_status,
        colors,
        x_label="samples",
        title="Samples per domain by status",
    )
    langs = stats.languages()
    by_lang = stacked_hbars(
        [f"{lang} ({LANG_NAMES.get(lang, lang)})" for lang in langs],
        statuses,
        {
            (f"{lang} ({LANG_NAMES.get(lang, lang)})", s): n
            for (lang, s), n in stats.by_language_status.items()
        },
        colors,
        x_label="samples",
        title="Samples per language by status",
    )
    return _section(
        "samples",
        "Samples",
        "How the samples spread over domains and instruction types, and where they ended up.",
        _card("Samples per domain × type", table),
        '<div class="grid" style="margin-top:16px">',
        _card("Status per domain", by_domain),
        _card("Status per language", by_lang),
        "</div>",
    )


BAD_SHOWN = 200  # bad records listed one by one; the rest counted


def _datasets(store: RunStore) -> str:
    """Per imported dataset: images and questions read, samples made, records refused; then each
    refused record with its reason (the store's `dataset_records`, as `visinstruct status` shows)."""
    rows = store.dataset_counts()
    if not rows:
        return _section("datasets", "Datasets imported", "", _card("", _empty("no dataset imported")))
    body = "".join(
        f"<tr><td class='l'>{esc(d)}</td><td>{fmt_num(n)}</td><td>{fmt_num(q)}</td>"
        f"<td>{fmt_num(made)}</td><td>{fmt_num(bad)}</td></tr>"
        for d, n, q, bad, made in rows
    )
    table = (
        "<div class=\"tablewrap\"><table><thead><tr><th class='l'>dataset</th><th>images</th>"
        "<th>questions</th><th>samples</th><th>bad records</th></tr></thead>"
        f"<tbody>{body}</tbody></table></div>"
    )
    parts = [_card("Records read and samples made", table)]
    n_bad = sum(r[3] for r in rows)
    if n_bad:
        listed = store.bad_records(limit=BAD_SHOWN)
        lines = "".join(
            f"<tr><td class='l'>{esc(d)}</td><td class='l'>{esc(r)}</td><td class='l'>{esc(why)}</td></tr>"
            for d, r, why in listed
        )
        more = f"<p class='lead'>… and {fmt_num(n_bad - len(listed))} more</p>" if n_bad > len(listed) else ""
        bad_table = (
            "<div class=\"tablewrap\"><table><thead><tr><th class='l'>dataset</th><th class='l'>record</th>"
            f"<th class='l'>reason</th></tr></thead><tbody>{lines}</tbody></table></div>{more}"
        )
        parts += ['<div style="margin-top:16px">', _card("Bad records, one by one", bad_table), "</div>"]
    lead = "Each image is stored once with every question about it; a refused record is listed with why."
    return _section("datasets", "Datasets imported", esc(lead), *parts)


def _balance(stats: Stats) -> str:
    langs = [lang for lang in stats.languages() if any(k[0] == lang for k in stats.letters)]
    if langs:
        letters = sorted({letter for _, letter in stats.letters} | set(LETTERS))
        totals = {lang: sum(stats.letters.get((lang, x), 0) for x in letters) for lang in langs}
        vals = {
            (x, lang): 100 * stats.letters.get((lang, x), 0) / totals[lang] for x in letters for lang in langs
        }
        notes = {
            (x, lang): f"{stats.letters.get((lang, x), 0)} of {totals[lang]}"
            for x in letters
            for lang in langs
        }
        mc = grouped_bars(
            letters,
            langs,
            vals,
            notes=notes,
            x_label="correct answer letter",
            y_label="share of multiple-choice samples",
            title="Answer-letter balance of multiple choice",
            ref=25,
            ref_label="25% (balanced)",
            percent=True,
        )
        mc += _empty_note(", ".join(f"{lang}: {fmt_num(n)} samples" for lang, n in totals.items()))
    else:
        mc = _empty("no multiple-choice samples")
    langs = [lang for lang in stats.languages() if any(k[0] == lang for k in stats.yes_no)]
    if langs:
        answers = ["yes", "no"] + (["other"] if any(k[1] == "other" for k in stats.yes_no) else [])
        totals = {lang: sum(stats.yes_no.get((lang, a), 0) for a in answers) for lang in langs}
        vals = {
            (a, lang): 100 * stats.yes_no.get((lang, a), 0) / totals[lang] for a in answers for lang in langs
        }
        notes = {
            (a, lang): f"{stats.yes_no.get((lang, a), 0)} of {totals[lang]}"
            for a in answers
            for lang in langs
        }
        yn = grouped_bars(
            answers,
            langs,
            vals,
            notes=notes,
            x_label="judgement answer",
            y_label="share of judgement samples",
            title="Yes/no balance of judgement",
            ref=50,
            ref_label="50% (balanced)",
            percent=True,
        )
        yn += _empty_note(", ".join(f"{lang}: {fmt_num(n)} samples" for lang, n in totals.items()))
    else:
        yn = _empty("no judgement samples")
    return _section(
        "balance",
        "Answer balance",
        "A model should not learn that “C” or “yes” is usually right: per language, each letter "
        "should be near 25% and each of yes and no near 50%.",
        '<div class="grid">',
        _card("Multiple choice: correct letter", mc),
        _card("Judgement: yes / no", yn),
        "</div>",
    )


def _empty_note(text: str) -> str:
    return f'<p class="empty" style="font-style:normal;font-size:12px">{esc(text)}</p>'


def _caption_cards(stats: Stats, recipe: dict) -> list[str]:
    """A histogram of caption lengths per language: words in English, characters in Chinese,
    counted as the caption checks count them, with how many fall short of the minimum."""
    from visinstruct.checks.captions import bounds

    given = ((recipe.get("checks") or {}).get("captions") or {}).get("min_length") or {}
    cards = []
    for i, lang in enumerate(stats.languages()):
        counts = {n: c for (ll, n), c in stats.captions.items() if ll == lang}
        if not counts:
            continue
        unit = "characters" if lang == "zh" else "words"
        low = given.get(lang, bounds(lang)[0])
        total = sum(counts.values())
        mean = sum(n * c for n, c in counts.items()) / total
        short = sum(c for n, c in counts.items() if n < low)
        chart = histogram(
            counts,
            x_label=f"caption length ({unit})",
            y_label="captions",
            title=f"Caption length ({lang})",
            color=PALETTE[(i + 3) % len(PALETTE)],
        )
        note = _empty_note(
            f"{fmt_num(total)} captions · mean {mean:.1f} {unit} · max {max(counts)} · "
            f"{fmt_num(short)} shorter than {low} {unit}"
        )
        cards.append(_card(f"caption · {lang}", chart + note))
    return cards


def _lengths(stats: Stats, recipe: dict | None = None) -> str:
    cards = _caption_cards(stats, recipe or {})
    for t in stats.types():
        for i, lang in enumerate(stats.languages()):
            counts = {n: c for (tt, ll, n), c in stats.lengths.items() if tt == t and ll == lang}
            if not counts:
                continue
            unit = "characters" if lang == "zh" else "words"
            total = sum(counts.values())
            mean = sum(n * c for n, c in counts.items()) / total
            chart = histogram(
                counts,
                x_label=f"answer length ({unit}, all turns)",
                y_label="samples",
                title=f"Answer length of {t} ({lang})",
                color=PALETTE[i % len(PALETTE)],
            )
            note = _empty_note(f"{fmt_num(total)} samples · mean {mean:.1f} {unit} · max {max(counts)}")
            cards.append(_card(f"{t} · {lang}", chart + note))
    if stats.turns:
        chart = histogram(
            dict(stats.turns),
            x_label="turns per sample",
            y_label="samples",
            title="Turns of long_vqa",
            color=PALETTE[2],
        )
        cards.append(_card("long_vqa · number of turns", chart))
    if not cards:
        return _section("lengths", "Lengths", "", _card("", _empty("no samples")))
    return _section(
        "lengths",
        "Lengths",
        "Answer lengths per instruction type, and caption lengths: words for English, characters "
        "for Chinese.",
        f'<div class="grid small">{"".join(cards)}</div>',
    )


def _checks(stats: Stats) -> str:
    if not stats.failed_checks:
        return _section(
            "checks", "Reject and review reasons", "", _card("", _empty("every check passed on every sample"))
        )
    names = sorted(
        {n for n, _ in stats.failed_checks},
        key=lambda n: -sum(stats.failed_checks[n, s] for s in SEVERITY_COLORS),
    )
    severities = [s for s in SEVERITY_COLORS if any(k[1] == s for k in stats.failed_checks)]
    severities += sorted({s for _, s in stats.failed_checks} - set(severities))
    colors = {s: SEVERITY_COLORS.get(s, "#64748b") for s in severities}
    per_check = stacked_hbars(
        names,
        severities,
        stats.failed_checks,
        colors,
        x_label="failed samples",
        title="Failed checks by name",
    )
    top = stats.reasons.most_common(TOP_REASONS)
    reasons_chart = hbars(
        [f"{n}: {r}" for (n, r), _ in top],
        [c for _, c in top],
        x_label="samples",
        title="Most common reasons",
        colors=[PALETTE[3]],
    )
    rows = "".join(
        f"<tr><td>{esc(n)}</td><td class='l'>{esc(r)}</td><td>{fmt_num(c)}</td></tr>" for (n, r), c in top
    )
    table = (
        '<div class="tablewrap"><table><thead><tr><th>check</th>'
        "<th class='l'>reason</th><th>samples</th></tr></thead>"
        f"<tbody>{rows}</tbody></table></div>"
    )
    return _section(
        "checks",
        "Reject and review reasons",
        "A failed “reject” check rejects the sample; a failed “review” check sends it to review.",
        '<div class="grid">',
        _card("Failed checks per check name", per_check),
        _card(f"Most common reasons (top {len(top)})", reasons_chart),
        "</div>",
        '<div style="margin-top:16px">',
        _card("Reasons in full", table),
        "</div>",
    )


def _caption_facts(stats: Stats) -> str:
    """Per domain and language: the share of each synthetic image's facts its captions mention, and how many
    captions name something the image does not hold (nothing when the run has no such caption)."""
    if not stats.caption_facts:
        return ""
    rows = "".join(
        f"<tr><td class='l'>{esc(d)}</td><td class='l'>{esc(lang)}</td><td class='l'>{esc(w)}</td>"
        f"<td>{fmt_num(int(n))}</td><td>{total / n:.0%}</td><td>{low:.0%}</td>"
        f"<td>{fmt_num(int(bad))}</td></tr>"
        for (d, lang, w), (n, total, low, bad) in sorted(stats.caption_facts.items())
    )
    table = (
        '<div class="tablewrap"><table><thead><tr><th class="l">domain</th><th class="l">language</th>'
        '<th class="l">written by</th>'
        "<th>captions</th><th>coverage</th><th>least</th><th>not in the facts</th></tr></thead>"
        f"<tbody>{rows}</tbody></table></div>"
    )
    return _section(
        "captions",
        "Caption facts",
        "Captions of synthetic images are checked against the exact facts: coverage is the share of "
        "an image's facts (values, labels, colours, cells, objects, lines, given lengths) its caption "
        "mentions; a caption naming a number, colour, shape or label the image does not hold goes to review.",
        _card("Facts coverage per domain", table),
    )


def _verification(stats: Stats) -> str:
    if not stats.verified:
        return _section(
            "verification", "Verification agreement", "", _card("", _empty("no verification run"))
        )
    disagree = sum(n for (_, v), n in stats.verify_type.items() if v == "disagree")
    kpis = (
        '<div class="kpis">'
        + _kpi("verified samples", fmt_num(stats.verified))
        + _kpi("agreement", _pct(stats.verified - disagree, stats.verified), "accepted")
        + _kpi("disagreements", fmt_num(disagree), "rejected")
        + "</div>"
    )
    cards = []
    for what, counter, order in (
        ("type", stats.verify_type, stats.types()),
        ("domain", stats.verify_domain, stats.domains()),
    ):
        keys = [k for k in order if (k, "agree") in counter or (k, "disagree") in counter]
        totals = {k: counter.get((k, "agree"), 0) + counter.get((k, "disagree"), 0) for k in keys}
        vals = {(k, ""): 100 * counter.get((k, "agree"), 0) / totals[k] for k in keys}
        notes = {(k, ""): f"{counter.get((k, 'agree'), 0)} of {totals[k]} agree" for k in keys}
        chart = grouped_bars(
            keys,
            [""],
            vals,
            notes=notes,
            x_label=what,
            y_label="agreement rate",
            title=f"Verification agreement per {what}",
            percent=True,
            colors=["#16a34a"],
        )
        rows = "".join(
            f"<tr><td>{esc(k)}</td><td>{fmt_num(totals[k])}</td><td>{fmt_num(agree)}</td>"
            f"<td>{fmt_num(totals[k] - agree)}</td><td>{_pct(agree, totals[k])}</td></tr>"
            for k in keys
            for agree in [counter.get((k, "agree"), 0)]
        )
        table = (
            f'<div class="tablewrap"><table><thead><tr><th>{esc(what)}</th><th>verified</th><th>agree</th>'
            f"<th>disagree</th><th>rate</th></tr></thead><tbody>{rows}</tbody></table></div>"
        )
        cards.append(_card(f"Agreement per {what}", chart + table))
    return _section(
        "verification",
        "Verification agreement",
        "Samples a second model answered independently: it agrees when its answer matches the sample's.",
        kpis,
        f'<div class="grid">{"".join(cards)}</div>',
    )


def _cost(stats: Stats, ledger: list[tuple]) -> str:
    if not ledger or not any(r[3] or r[4] or r[9] for r in ledger):
        return _section("cost", "Cost", "", _card("", _empty("no model calls")))
    spend = sum(r[9] for r in ledger)
    tin, tout = sum(r[7] for r in ledger), sum(r[8] for r in ledger)
    requests, cached = sum(r[3] for r in ledger), sum(r[4] for r in ledger)
    per_k = _money(1000 * spend / stats.usable) if stats.usable else "–"
    kpis = (
        '<div class="kpis">'
        + _kpi("total spend", _money(spend))
        + _kpi("per 1,000 accepted", per_k)
        + _kpi("input tokens", fmt_num(tin))
        + _kpi("output tokens", fmt_num(tout))
        + _kpi("requests", fmt_num(requests))
        + _kpi("from cache", fmt_num(cached))
        + "</div>"
    )
    rows = "".join(
        f"<tr><td>{esc(ep)}</td><td class='l'>{esc(st)}</td><td class='l'>{esc(model)}</td>"
        f"<td>{fmt_num(req)}</td>"
        f"<td>{fmt_num(cch)}</td><td>{fmt_num(fail)}</td><td>{fmt_num(retr)}</td><td>{fmt_num(i)}</td>"
        f"<td>{fmt_num(o)}</td><td>{_money(c)}</td></tr>"
        for ep, st, model, req, cch, fail, retr, i, o, c in ledger
    )
    table = (
        '<div class="tablewrap"><table><thead><tr><th>endpoint</th>'
        '<th class="l">stage</th><th class="l">model</th>'
        "<th>requests</th><th>cached</th><th>failed</th><th>retries</th><th>input tok</th>"
        f"<th>output tok</th><th>cost</th></tr></thead><tbody>{rows}</tbody></table></div>"
    )
    names = [f"{ep} · {st}" for ep, st, *_ in ledger]
    spend_chart = hbars(
        names,
        [r[9] for r in ledger],
        x_label="USD",
        title="Spend per endpoint and stage",
        colors=[PALETTE[4]],
        fmt=lambda v: f"${fmt_num(v)}",
    )
    tokens_chart = stacked_hbars(
        names,
        ["input", "output"],
        {
            (n, k): v
            for n, r in zip(names, ledger, strict=True)
            for k, v in (("input", r[7]), ("output", r[8]))
        },
        {"input": PALETTE[0], "output": PALETTE[1]},
        x_label="tokens",
        title="Tokens per endpoint and stage",
    )
    lead = (
        "Spend recorded in the run's ledger; “per 1,000 accepted” counts accepted and edited "
        f"samples ({fmt_num(stats.usable)})."
    )
    return _section(
        "cost",
        "Cost",
        esc(lead),
        kpis,
        '<div class="grid">',
        _card("Spend per endpoint and stage", spend_chart),
        _card("Tokens per endpoint and stage", tokens_chart),
        "</div>",
        '<div style="margin-top:16px">',
        _card("Ledger", table),
        "</div>",
    )


# -- gallery ----------------------------------------------------------------------------
def thumbnail(path: Path, size: int = THUMB) -> str:
    """A JPEG data: URI of the image, its longest side at most `size` pixels."""
    with Image.open(path) as im:
        im.draft("RGB", (size, size))  # JPEG sources decode at a reduced scale
        im.thumbnail((size, size))
        if im.mode in ("RGBA", "LA", "P"):
            im = im.convert("RGBA")
            flat = Image.new("RGB", im.size, (255, 255, 255))
            flat.paste(im, mask=im.getchannel("A"))
            im = flat
        elif im.mode != "RGB":
            im = im.convert("RGB")
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=82, optimize=True)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _gallery(store: RunStore, picks: list[Sample], total: int) -> str:
    if not picks:
        return _section("gallery", "Gallery", "", _card("", _empty("no samples to show")))
    cache: dict[str, str | None] = {}
    cards = [_sample_card(store, s, cache) for s in picks]
    lead = f"{len(picks)} of {fmt_num(total)} samples picked at random, in run order."
    return _section("gallery", "Gallery", esc(lead), f'<div class="gallery">{"".join(cards)}</div>')


def _image_html(store: RunStore, image_id: str, cache: dict[str, str | None]) -> str:
    if image_id not in cache:
        try:
            cache[image_id] = thumbnail(store.image_path(image_id))
        except Exception:  # a missing or unreadable image must not sink the report
            cache[image_id] = None
    uri = cache[image_id]
    if uri is None:
        return f'<div class="noimg">image {esc(image_id[:12])}… unavailable</div>'
    return f'<img src="{uri}" alt="image {esc(image_id[:12])}" loading="eager">'


def _credit(store: RunStore, image_id: str, cache: dict[str, str | None]) -> str | None:
    """The credit line of a licensed image, linked to its page, or None."""
    key = f"credit:{image_id}"
    if key not in cache:
        try:
            prov = store.image(image_id).provenance
        except KeyError:
            prov = {}
        if prov.get("license"):
            line = prov.get("credit") or f"{prov.get('creator') or 'unknown creator'}, {_license_label(prov)}"
            cache[key] = _link(prov.get("source_page"), line)
        else:
            cache[key] = None
    return cache[key]


def _sample_card(store: RunStore, s: Sample, cache: dict[str, str | None]) -> str:
    imgs = "".join(_image_html(store, i, cache) for i in s.images)
    multi = " multi" if len(s.images) > 1 else ""
    color = STATUS_COLORS.get(s.status, "#64748b")
    badges = [
        f'<span class="badge st" style="background:{color}">{esc(s.status.replace("_", " "))}</span>',
        f'<span class="badge">{esc(s.domain)}</span>',
        f'<span class="badge">{esc(s.type)}</span>',
        f'<span class="badge muted">{esc(s.language)}</span>',
    ]
    if s.category:
        badges.append(f'<span class="badge muted">{esc(s.category)}</span>')
    turns = "".join(
        f'<div class="turn"><p class="q">{esc(t.question)}</p><p class="a">{esc(t.answer)}</p></div>'
        for t in s.turns
    )
    parts = [f'<div class="imgs{multi}">{imgs}</div>'] if imgs else []
    credits = [c for c in (_credit(store, i, cache) for i in s.images) if c]
    if credits:
        parts.append("".join(f'<div class="credit">{c}</div>' for c in credits))
    parts += [
        f'<div class="badges">{"".join(badges)}</div>',
        f"<div>{turns}</div>",
    ]
    if s.options:
        correct = LETTERS.index(s.answer_letter) if s.answer_letter in LETTERS else -1
        items = "".join(
            f'<li class="{"correct" if i == correct else ""}"><b>{esc(letter)}.</b>{esc(opt)}</li>'
            for i, opt in enumerate(s.options)
            for letter in [LETTERS[i] if i < len(LETTERS) else str(i + 1)]
        )
        parts.append(f'<ol class="options">{items}</ol>')
    fails = [(n, r) for n, r in s.checks.items() if isinstance(r, dict) and r.get("pass") is False]
    fails.sort(key=lambda nr: nr[1].get("severity", "reject") != "reject")
    if fails:
        items = "".join(
            f'<li class="{esc(sev)}"><b>{esc(n)}</b> ({esc(sev)}): {esc(r.get("reason", "failed"))}</li>'
            for n, r in fails
            for sev in [str(r.get("severity", "reject"))]
        )
        parts.append(f'<ul class="fails">{items}</ul>')
    parts.append(f'<div class="meta">{esc(s.id)}</div>')
    return f'<div class="card sample">{"".join(parts)}</div>'
