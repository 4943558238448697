"""License codes and names of openly licensed images, and reading them from what providers give.

Codes are those Openverse uses (WordPress/openverse `api/api/constants/licenses.py`): `cc0` and
`pdm` (public domain), `by`, `by-sa`, `by-nd`, `by-nc`, `by-nc-sa`, `by-nc-nd`; deeds as its
`api/api/utils/licenses.py` names them. `normalise_license` reads a code from a license URL or a
name such as "CC BY-SA 4.0" or "cc-by-sa-4.0" (the forms Wikimedia Commons gives).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

#: Every license code a filter may name.
LICENSES = ("cc0", "pdm", "by", "by-sa", "by-nd", "by-nc", "by-nc-sa", "by-nc-nd")
#: Groups a filter may name instead of codes (as Openverse's `license_type`).
LICENSE_GROUPS = {
    "public-domain": ("cc0", "pdm"),
    "commercial": tuple(c for c in LICENSES if "nc" not in c),
    "modification": tuple(c for c in LICENSES if "nd" not in c),
    "all": LICENSES,
}
#: The filter when a recipe names none: public domain and the licenses that allow commercial use
#: and changes (attribution required for by and by-sa, share-alike for by-sa).
DEFAULT_LICENSES = ("cc0", "pdm", "by", "by-sa")

_CC_URL = re.compile(r"creativecommons\.org/(licenses|publicdomain)/([a-z+-]+)/(\d+(?:\.\d+)?)", re.I)
_CC_NAME = re.compile(r"^cc[ -]?((?:by|zero|0)(?:[ -](?:sa|nd|nc))*)(?:[ -](\d+(?:\.\d+)?))?", re.I)


def expand_licenses(names: Iterable[str]) -> list[str]:
    """License codes of a filter, groups expanded, in the order given, each once; ValueError for
    a name that is neither a code nor a group."""
    out: list[str] = []
    for name in names:
        key = str(name).strip().lower()
        codes = LICENSE_GROUPS.get(key, (key,) if key in LICENSES else None)
        if codes is None:
            known = ", ".join((*LICENSES, *LICENSE_GROUPS))
            raise ValueError(f"unknown license {name!r} (known: {known})")
        out += [c for c in codes if c not in out]
    return out


def normalise_license(*texts: str | None) -> tuple[str | None, str | None]:
    """(code, version) from the first text that names a license: a creativecommons.org URL, an
    Openverse code, or a name such as "CC BY-SA 4.0", "cc-by-sa-4.0", "CC0" or "Public domain".
    (None, None) when none does."""
    for text in texts:
        if not text:
            continue
        t = str(text).strip()
        m = _CC_URL.search(t)
        if m:
            kind, code, version = m.group(1).lower(), m.group(2).lower(), m.group(3)
            if kind == "publicdomain":
                return ("cc0" if code == "zero" else "pdm"), version
            return code, version
        low = t.lower()
        if low in LICENSES:
            return low, None
        if low in ("pd", "public domain", "publicdomain", "pdm", "public domain mark") or low.startswith(
            ("pd-", "public domain ")
        ):
            return "pdm", None
        m = _CC_NAME.match(low)
        if m:
            code = m.group(1).replace(" ", "-")
            if code in ("zero", "0"):
                return "cc0", m.group(2) or "1.0"
            if code in LICENSES:
                return code, m.group(2)
    return None, None


def license_name(code: str | None, version: str | None) -> str:
    """ "CC BY-SA 4.0", "CC0 1.0", "Public Domain Mark 1.0": how a credit line names a license."""
    if not code:
        return "an unknown license"
    if code == "pdm":
        return f"Public Domain Mark {version or '1.0'}"
    if code == "cc0":
        return f"CC0 {version or '1.0'}"
    if code in LICENSES:
        return f"CC {code.upper()}{' ' + version if version else ''}"
    return f"{code}{' ' + version if version else ''}"


def license_url(code: str | None, version: str | None) -> str | None:
    """The deed of a Creative Commons license or mark (as Openverse's `get_license_url`)."""
    if code == "cc0":
        return "https://creativecommons.org/publicdomain/zero/1.0/"
    if code == "pdm":
        return "https://creativecommons.org/publicdomain/mark/1.0/"
    if code in LICENSES:
        return f"https://creativecommons.org/licenses/{code}/{version or '4.0'}/"
    return None
