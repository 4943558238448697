"""Code-guided synthesis: a text LLM writes a declarative spec of an image, the engine draws it.

The model writes one spec per unit, for a topic taken from the domain catalog, in one of
four declarative forms:

    vega-lite  a Vega-Lite chart with inline data (no URLs, transforms, expressions, params)
    svg        an SVG drawing (an allow-list of shapes and text; no scripts, no links)
    html       an HTML+CSS page (an allow-list of elements; no scripts, no external resources)
    table      our own table JSON: a title, column headers and rows of cells

Nothing the model writes is executed. `validate` parses the reply with data parsers only
(json, defusedxml, html.parser), checks it against an allow-list and limits (size, element
count, canvas, text), and re-serialises what passed: what is drawn is our serialisation of
the validated spec, never the reply itself. `render` draws it in a sandbox (Chromium with
JavaScript and every request off, vl-convert with no URL allowed, or Pillow), and measures
what is visible. `questions` turns the spec's facts into the four instruction types, every
answer computed from the spec.

    validate.py   reply → Spec (or SpecError naming the reason)
    render.py     Spec → image and what is visible
    questions.py  facts → draft questions (answers computed, distractors plausible)
    phrasings.yaml  the questions' wording, en and zh
"""

from __future__ import annotations

KINDS = ("vega-lite", "svg", "html", "table")

__all__ = ["KINDS"]
