"""Drawing validated specs in a sandbox, and measuring what the image shows.

- SVG and HTML: headless Chromium (Debian's /usr/bin/chromium, driven by Playwright) with
  JavaScript off, the network emulated offline, every request a page makes aborted (and
  counted), a Content-Security-Policy that allows nothing to load, a viewport of the
  declared canvas and a time limit per render. One browser per process, in a thread of its
  own, reused for every render; each render gets a fresh browser context.
- Vega-Lite: vl-convert with no base URL allowed (it fetches nothing).
- Our table JSON: Pillow.

A Chinese spec is drawn with the bundled Noto CJK SC cut in every renderer: Chromium gets it
as an `@font-face` with a `data:` URL in the engine's own stylesheet (a spec's `@font-face`
stays refused), first in every font list (`validate.cjk_first`); vl-convert has it
registered and the spec's config names it; Pillow draws the table with it. Chinese pages are
drawn on a page of their own that keeps the font: its document is loaded once and each
drawing replaces the spec's stylesheet and body in it, so the font is decoded once per page,
not once per drawing.

Where Chromium draws, the engine then measures (with its own script, in a page that has
none) every element the spec's facts name: its box, computed colour and whether it can be
seen — inside the canvas, not hidden, not covered, with ink in its box. Questions are asked
only about what can be seen.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import os
import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

from visinstruct.coded.validate import CJK_FAMILY, MAX_SIDE, Spec, SpecError

CHROMIUM = os.environ.get("VISINSTRUCT_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--mute-audio",
]
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:"
HEAD = (
    '<!DOCTYPE html><html><head><meta charset="utf-8">'
    f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
)


class RenderError(Exception):
    """The renderer failed for a reason of its own (missing, timed out): a retry may help."""


@dataclass
class Drawn:
    """A rendered image and what was measured in it: element id → box, colour, visible."""

    image: Image.Image
    seen: dict[str, dict[str, Any]] = field(default_factory=dict)
    blocked: list[str] = field(default_factory=list)  # requests the page tried, all aborted


def render(spec: Spec, timeout: float = 20.0) -> Drawn:
    """Draw a validated spec; SpecError when what it draws cannot be used (blank, too large)."""
    cjk = spec.lang == "zh"
    if spec.kind == "vega-lite":
        drawn = Drawn(vega_lite(spec.source, cjk))
    elif spec.kind == "table":
        drawn = Drawn(draw_table(spec.source, spec.lang))
    elif spec.kind == "svg":
        page: str | tuple[str, str] = (SVG_RESET, spec.source) if cjk else svg_page(spec.source)
        drawn = chromium().render(page, spec.width, spec.height, timeout)
    elif spec.kind == "html":
        page = (
            (HTML_RESET + spec.source.get("css", ""), spec.source["body"]) if cjk else html_page(spec.source)
        )
        drawn = chromium().render(page, spec.width, spec.height, timeout)
    else:
        raise SpecError(f"unknown spec kind {spec.kind!r}")
    img = drawn.image
    if img.width > MAX_SIDE * 2 or img.height > MAX_SIDE * 2:
        raise SpecError(f"the drawing is {img.width}x{img.height} > {2 * MAX_SIDE}x{2 * MAX_SIDE}")
    lo, hi = zip(*img.convert("RGB").getextrema(), strict=True)
    if max(h - lo_ for lo_, h in zip(lo, hi, strict=True)) < 16:
        raise SpecError("the rendered image is blank")
    for m in drawn.seen.values():
        if m.get("visible") and not _ink(img, m["box"]):
            m["visible"] = False
            m["why"] = "no ink"
    return drawn


SVG_RESET = "html,body{margin:0;padding:0;overflow:hidden;background:#fff}svg{display:block}"
HTML_RESET = "html,body{overflow:hidden;background:#fff}"


def svg_page(svg: str) -> str:
    """The page an SVG is drawn on: nothing but the drawing, at the canvas's top-left."""
    return f"{HEAD}<style>{SVG_RESET}</style></head><body>{svg}</body></html>"


def html_page(source: dict[str, str]) -> str:
    """The page an HTML spec is drawn on: its CSS and body inside the engine's own head."""
    reset = f"<style>{HTML_RESET}</style>"
    css = f"<style>{source['css']}</style>" if source.get("css") else ""
    return f"{HEAD}{reset}{css}</head><body>{source['body']}</body></html>"


CJK_FACES = (("NotoSansSC-Regular.otf", "100 599"), ("NotoSansSC-Bold.otf", "600 900"))


def cjk_page() -> str:
    """The page Chinese specs are drawn on: the engine's head with the bundled CJK font as
    `@font-face` rules of `data:` URLs (for what is not Latin-1: Latin text keeps the spec's
    font), an empty stylesheet for the spec's CSS and an empty body."""
    import base64
    from importlib import resources

    fonts = resources.files("visinstruct").joinpath("fonts")
    faces = "".join(
        f"@font-face{{font-family:'{CJK_FAMILY}';font-weight:{weight};font-display:block;"
        "unicode-range:U+0100-10FFFF;"
        f"src:url(data:font/otf;base64,{base64.b64encode(fonts.joinpath(name).read_bytes()).decode()})}}"
        for name, weight in CJK_FACES
    )
    root = f"html,body{{font-family:'{CJK_FAMILY}',serif}}"
    return f'{HEAD}<style>{faces}{root}</style><style id="vi-spec"></style></head><body></body></html>'


# replaces the spec's stylesheet and body of the Chinese page, then waits for its fonts
SWAP = """
([css, body]) => {
  document.getElementById('vi-spec').textContent = css;
  document.body.innerHTML = body;
  return document.fonts.ready.then(() => true);
}
"""


def _ink(img: Image.Image, box: list[float]) -> bool:
    """Whether a box of the image holds more than one flat colour (text or a shape that shows)."""
    x, y, w, h = box
    x0, y0 = max(0, int(x)), max(0, int(y))
    x1, y1 = min(img.width, int(x + w + 1)), min(img.height, int(y + h + 1))
    if x1 - x0 < 1 or y1 - y0 < 1:
        return False
    # a little of the surroundings too: a filled shape on another colour shows at its edge
    crop = img.convert("RGB").crop(
        (max(0, x0 - 2), max(0, y0 - 2), min(img.width, x1 + 2), min(img.height, y1 + 2))
    )
    return any(hi - lo >= 40 for lo, hi in crop.getextrema())


# ---------------------------------------------------------------------------------------------
# Vega-Lite


def vega_lite(source: dict[str, Any], cjk: bool = False) -> Image.Image:
    """A Vega-Lite chart drawn by vl-convert, which may fetch nothing (no base URL allowed)."""
    try:
        import vl_convert as vlc
    except ImportError:
        raise RenderError("vega-lite specs need vl-convert: pip install 'visinstruct[coded]'") from None
    if cjk:
        _register_cjk(vlc)
    try:
        png = vlc.vegalite_to_png(source, scale=1, allowed_base_urls=[])
    except Exception as e:  # vl-convert reports a bad spec as a plain ValueError
        why = " ".join(line.strip() for line in str(e).splitlines() if line.strip() and " at " not in line)
        raise SpecError(f"vega-lite: not drawable ({why[:300]})") from None
    img = Image.open(io.BytesIO(png))
    img.load()
    return _flat(img)


_REGISTERED: set[int] = set()
_FONT_LOCK = threading.Lock()


def _register_cjk(vlc: Any) -> None:
    """Give vl-convert the bundled CJK fonts (once a process): a folder holding only them (one
    for the user, shared by its workers), so English charts, which never name them, draw as
    before."""
    import tempfile
    from importlib import resources

    from visinstruct.synth.style import CJK_BOLD

    if os.getpid() in _REGISTERED:
        return
    with _FONT_LOCK:
        if os.getpid() in _REGISTERED:
            return
        folder = Path(tempfile.gettempdir()) / f"visinstruct-cjk-fonts-{os.getuid()}"
        folder.mkdir(mode=0o700, exist_ok=True)
        if folder.is_symlink() or folder.stat().st_uid != os.getuid():  # not ours: one of our own
            folder = Path(tempfile.mkdtemp(prefix="visinstruct-cjk-fonts-"))
        fonts = resources.files("visinstruct").joinpath("fonts")
        for name in ("NotoSansSC-Regular.otf", CJK_BOLD):
            data = fonts.joinpath(name).read_bytes()
            target = folder / name
            if not target.is_file() or target.stat().st_size != len(data):
                part = folder.parent / f".{folder.name}-{name}.{os.getpid()}"
                part.write_bytes(data)
                os.replace(part, target)  # whole, for another worker registering at once
        vlc.register_font_directory(str(folder))
        _REGISTERED.add(os.getpid())


def _flat(img: Image.Image) -> Image.Image:
    if img.mode in ("RGBA", "LA", "P"):
        rgba = img.convert("RGBA")
        bg = Image.new("RGB", rgba.size, (255, 255, 255))
        bg.paste(rgba, mask=rgba.getchannel("A"))
        return bg
    return img.convert("RGB")


# ---------------------------------------------------------------------------------------------
# our table JSON


def draw_table(source: dict[str, Any], lang: str = "en") -> Image.Image:
    """A plain, legible table: a title, a bold header row, ruled rows, numbers right-aligned
    (in the CJK font for a Chinese table)."""
    from visinstruct.synth.base import fmt_num
    from visinstruct.synth.style import CJK_BOLD, font

    regular, heavy = (
        ("NotoSansSC-Regular.otf", CJK_BOLD) if lang == "zh" else ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf")
    )
    body, bold, big = font(regular, 16), font(heavy, 16), font(heavy, 20)
    cols = source["columns"]
    rows = [[c if isinstance(c, str) else fmt_num(c) for c in r] for r in source["rows"]]
    pad, row_h, margin = 12, 32, 20
    widths = [
        max(int(bold.getlength(cols[j])), *(int(body.getlength(r[j])) for r in rows)) + 2 * pad
        for j in range(len(cols))
    ]
    title = source.get("title")
    title_h = 40 if title else 0
    w = max(sum(widths), int(big.getlength(title)) if title else 0) + 2 * margin
    h = title_h + row_h * (len(rows) + 1) + 2 * margin
    if w > MAX_SIDE or h > MAX_SIDE:
        raise SpecError(f"table: the drawing would be {w}x{h} > {MAX_SIDE}x{MAX_SIDE}")
    img = Image.new("RGB", (w, h), (255, 255, 255))
    d = ImageDraw.Draw(img)
    if title:
        d.text((margin, margin), title, font=big, fill=(20, 20, 20))
    top = margin + title_h
    d.rectangle([margin, top, margin + sum(widths), top + row_h], fill=(225, 232, 242))
    numeric = [all(not isinstance(r[j], str) for r in source["rows"]) for j in range(len(cols))]
    for i, line in enumerate([cols, *rows]):
        y = top + i * row_h
        x = margin
        for j, text in enumerate(line):
            f = bold if i == 0 else body
            tx = x + widths[j] - pad - f.getlength(text) if numeric[j] and i else x + pad
            d.text((tx, y + row_h / 2), text, font=f, fill=(25, 25, 25), anchor="lm")
            x += widths[j]
        d.line([margin, y + row_h, margin + sum(widths), y + row_h], fill=(150, 150, 150), width=1)
    d.rectangle([margin, top, margin + sum(widths), top + row_h * (len(rows) + 1)], outline=(90, 90, 90))
    return img


# ---------------------------------------------------------------------------------------------
# Chromium


MEASURE = """
(vp) => {
  const out = {};
  const points = [[0.5, 0.5], [0.3, 0.5], [0.7, 0.5], [0.5, 0.3], [0.5, 0.7]];
  for (const el of document.querySelectorAll('[data-vi]')) {
    const r = el.getBoundingClientRect();
    const cs = getComputedStyle(el);
    let opacity = 1, hidden = cs.visibility !== 'visible';
    for (let e = el; e && e.nodeType === 1; e = e.parentElement) {
      const s = getComputedStyle(e);
      opacity *= parseFloat(s.opacity);
      if (s.display === 'none') hidden = true;
    }
    const inside = r.width > 0 && r.height > 0 && r.left >= -0.5 && r.top >= -0.5
      && r.right <= vp.w + 0.5 && r.bottom <= vp.h + 0.5;
    let hit = false;
    if (inside && !hidden) {
      for (const [fx, fy] of points) {
        const t = document.elementFromPoint(r.left + r.width * fx, r.top + r.height * fy);
        if (t && (t === el || el.contains(t))) { hit = true; break; }
      }
    }
    const big = r.width >= 3 && r.height >= 3;
    out[el.dataset.vi] = {
      box: [r.left, r.top, r.width, r.height], fill: cs.fill, stroke: cs.stroke, color: cs.color,
      font: parseFloat(cs.fontSize), opacity: opacity,
      visible: inside && !hidden && hit && big && opacity >= 0.5,
      why: !inside ? 'outside the canvas' : hidden ? 'hidden' : !big ? 'too small'
        : opacity < 0.5 ? 'faint' : !hit ? 'covered' : null,
    };
  }
  return out;
}
"""


class Chromium:
    """One headless Chromium for this process, driven from a thread of its own (Playwright's
    sync API belongs to the thread that started it); `render` may be called from any thread."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.jobs: queue.Queue = queue.Queue()
        self.thread = threading.Thread(target=self._serve, name="visinstruct-chromium", daemon=True)
        self.thread.start()

    def render(self, page: str | tuple[str, str], width: int, height: int, timeout: float) -> Drawn:
        """Draw a page (a whole document) or, for a Chinese spec, its (CSS, body) on the page
        that holds the CJK font."""
        fut: Future = Future()
        self.jobs.put((page, width, height, timeout, fut))
        return fut.result(timeout=timeout * 3 + 60)

    def close(self) -> None:
        if self.thread.is_alive():
            self.jobs.put(None)
            self.thread.join(timeout=10)

    def _serve(self) -> None:
        pw = browser = None
        tabs: dict[bool, _Tab] = {}  # the plain page and the page with the CJK font
        try:
            while True:
                job = self.jobs.get()
                if job is None:
                    return
                page, width, height, timeout, fut = job
                cjk = not isinstance(page, str)
                try:
                    if browser is None or not browser.is_connected():
                        tabs = {}
                        pw, browser = self._launch(pw)
                    tab = tabs.get(cjk)
                    if tab is None or tab.used >= PAGE_USES:
                        if tab is not None:
                            tab.close()
                        tab = tabs[cjk] = _Tab(browser, cjk, timeout)
                    fut.set_result(tab.render(page, width, height, timeout))
                except BaseException as e:  # handed to the caller; the thread serves on
                    failed = tabs.pop(cjk, None)
                    if failed is not None:  # a page that failed is not drawn on again
                        failed.close()
                    if browser is not None and "Timeout" in type(e).__name__:
                        browser = self._drop(browser)  # a page that hangs may hang its browser
                        tabs = {}
                    err = (
                        e
                        if isinstance(e, SpecError | RenderError)
                        else RenderError(f"{type(e).__name__}: {e}")
                    )
                    fut.set_exception(err)
        finally:
            if browser is not None:
                self._drop(browser)
            if pw is not None:
                with contextlib.suppress(Exception):
                    pw.stop()

    @staticmethod
    def _launch(pw: Any) -> tuple[Any, Any]:
        if not os.path.exists(CHROMIUM):
            raise RenderError(f"svg and html specs need Chromium at {CHROMIUM} (apt-get install chromium)")
        try:
            from playwright.sync_api import sync_playwright
        except ImportError:
            raise RenderError(
                "svg and html specs need Playwright: pip install 'visinstruct[coded]'"
            ) from None
        if pw is None:
            pw = sync_playwright().start()
        return pw, pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, timeout=60_000)

    @staticmethod
    def _drop(browser: Any) -> None:
        with contextlib.suppress(Exception):
            browser.close()


PAGE_USES = 500  # drawings on one page before it is replaced by a fresh one


class _Tab:
    """A browser context and its one page, drawn on again and again: a new context costs a
    renderer process (a quarter of a second); the page runs no script and loads nothing, so a
    drawing leaves nothing behind for the next one. The CJK page keeps its document (and the
    decoded font): a drawing replaces the spec's stylesheet and body, and empties them after."""

    def __init__(self, browser: Any, cjk: bool = False, timeout: float = 20.0) -> None:
        self.blocked: list[str] = []
        self.used = 0
        self.cjk = cjk
        self.ctx = browser.new_context(
            viewport={"width": 800, "height": 600},
            device_scale_factor=1,
            java_script_enabled=False,
            offline=True,
            accept_downloads=False,
            service_workers="block",
        )
        self.ctx.route("**/*", self._refuse)
        self.page = self.ctx.new_page()
        if cjk:
            self.page.set_content(cjk_page(), wait_until="load", timeout=timeout * 1000)

    def _refuse(self, route: Any) -> None:
        self.blocked.append(route.request.url)
        route.abort()

    def render(self, page: str | tuple[str, str], width: int, height: int, timeout: float) -> Drawn:
        self.used += 1
        self.blocked = []
        ms = timeout * 1000
        self.page.set_viewport_size({"width": width, "height": height})
        if isinstance(page, str):
            self.page.set_content(page, wait_until="load", timeout=ms)
        else:
            self.page.evaluate(SWAP, list(page))
        seen = self.page.evaluate(MEASURE, {"w": width, "h": height})
        png = self.page.screenshot(clip={"x": 0, "y": 0, "width": width, "height": height}, timeout=ms)
        blocked = list(self.blocked)
        if isinstance(page, str):
            self.page.set_content("<!DOCTYPE html><html><body></body></html>", timeout=ms)
        else:
            self.page.evaluate(SWAP, ["", ""])
        img = Image.open(io.BytesIO(png))
        img.load()
        return Drawn(_flat(img), seen, blocked)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.ctx.close()


_CHROMIUM: Chromium | None = None
_LOCK = threading.Lock()


def chromium() -> Chromium:
    """This process's browser (a forked worker starts its own)."""
    global _CHROMIUM
    with _LOCK:
        if _CHROMIUM is None or _CHROMIUM.pid != os.getpid() or not _CHROMIUM.thread.is_alive():
            _CHROMIUM = Chromium()
        return _CHROMIUM


@atexit.register
def _close() -> None:
    if _CHROMIUM is not None and _CHROMIUM.pid == os.getpid():
        _CHROMIUM.close()
