"""What a schema looks like, read from its JSON schema: which fields it has, which one is
its list, which are strings. The reply reader uses it to fit common reply shapes onto any
schema (numbers where text was asked, a bare list, the tag format) without knowing the
schema's class, and the instructions use it to name the fields.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import yaml


def resolve(node: Any, root: dict) -> dict:
    """`node` with local `$ref`s (and a single-entry `allOf`) followed."""
    for _ in range(32):
        if not isinstance(node, dict):
            return {}
        if "$ref" in node:
            ref = node["$ref"]
            target: Any = root
            for part in ref.lstrip("#/").split("/") if ref.startswith("#/") else []:
                target = target.get(part, {}) if isinstance(target, dict) else {}
            node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        elif isinstance(node.get("allOf"), list) and len(node["allOf"]) == 1:
            node = {**node["allOf"][0], **{k: v for k, v in node.items() if k != "allOf"}}
        else:
            return node
    return node


def kinds(node: dict, root: dict) -> set[str]:
    """The JSON types a (resolved) schema node admits."""
    node = resolve(node, root)
    out: set[str] = set()
    t = node.get("type")
    if isinstance(t, str):
        out.add(t)
    elif isinstance(t, list):
        out.update(x for x in t if isinstance(x, str))
    for key in ("anyOf", "oneOf"):
        for sub in node.get(key) or []:
            out |= kinds(sub, root)
    if not out and "enum" in node:
        out.update(_json_type(v) for v in node["enum"])
    return out


def _json_type(v: Any) -> str:
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int | float):
        return "number"
    return "string" if isinstance(v, str) else "null"


def list_field(node: dict, root: dict | None = None) -> tuple[str, dict] | None:
    """(name, item schema) when the schema is an object whose one required field is a list."""
    root = node if root is None else root
    node = resolve(node, root)
    required = node.get("required") or []
    props = node.get("properties") or {}
    if len(required) != 1 or required[0] not in props:
        return None
    node = resolve(props[required[0]], root)
    if "array" not in kinds(node, root):
        return None
    return required[0], resolve(node.get("items", {}), root)


def coerce(data: Any, node: dict, root: dict) -> Any:
    """`data` with numbers made text where the schema wants text (`"answer": 42` → "42"),
    and a bare list put into the object it belongs to when the schema is an object with one
    list. Nothing else changes: validation stays the schema's."""
    node = resolve(node, root)
    want = kinds(node, root)
    if isinstance(data, list) and "object" in want and "array" not in want:
        field = list_field(node, root)
        if field is not None:
            data = {field[0]: data}
    if isinstance(data, dict) and "object" in want:
        props = node.get("properties") or {}
        data = renamed(data, props, root)
        return {k: coerce(v, props[k], root) if k in props else v for k, v in data.items()}
    if isinstance(data, list) and "array" in want:
        items = node.get("items")
        return [coerce(v, items, root) for v in data] if isinstance(items, dict) else data
    if isinstance(data, int | float) and not isinstance(data, bool) and want == {"string"}:
        return str(data)
    return data


@cache
def _aliases() -> dict[str, tuple[str, ...]]:
    text = resources.files("visinstruct.models").joinpath("key_aliases.yaml").read_text("utf-8")
    return {_key(k): tuple(v) for k, v in (yaml.safe_load(text) or {}).items()}


def _key(name: str) -> str:
    return name.casefold().replace(" ", "").replace("_", "")


def renamed(data: dict, props: dict, root: dict) -> dict:
    """`data` with keys that are not fields of the object renamed to the field they stand for:
    another case or spacing of a field's name ("Question"), or a name listed in
    key_aliases.yaml ("答案"). A field the reply already holds is never overwritten."""
    if all(k in props for k in data):
        return data
    folded = {_key(p): p for p in props}
    out = {k: v for k, v in data.items() if k in props}
    for k, v in data.items():
        if k in props:
            continue
        key = _key(k) if isinstance(k, str) else k
        names = [folded[key]] if key in folded else [p for p in _aliases().get(key, ()) if p in props]
        target = next((p for p in names if p not in out and _fits(v, props[p], root)), None)
        out[target if target is not None else k] = v
    return out


def _fits(value: Any, node: dict, root: dict) -> bool:
    want = kinds(node, root)
    if not want:
        return True
    if isinstance(value, list | dict):
        return ("array" if isinstance(value, list) else "object") in want
    have = _json_type(value)
    return have in want or (have == "number" and bool(want & {"integer", "string"}))


def field_list(root: dict) -> str:
    """The fields a reply must have, named for a prompt: "questions[].question,
    questions[].options (4 distinct options, without letters), questions[].answer (A, B, C or D)"."""
    return ", ".join(_fields(root, root, "", 0))


def _fields(node: dict, root: dict, prefix: str, depth: int) -> list[str]:
    node = resolve(node, root)
    props = node.get("properties") or {}
    required = set(node.get("required") or [])
    out: list[str] = []
    for name, sub in props.items():
        sub = resolve(sub, root)
        path = f"{prefix}{name}"
        item = resolve(sub.get("items", {}), root) if "array" in kinds(sub, root) else {}
        if item.get("properties") and depth < 4:
            out += _fields(item, root, f"{path}[].", depth + 1)
            continue
        notes = []
        if "enum" in sub:
            values = [str(v) for v in sub["enum"]]
            notes.append(values[0] if len(values) == 1 else f"{', '.join(values[:-1])} or {values[-1]}")
        elif item:
            lo, hi = sub.get("minItems"), sub.get("maxItems")
            count = f"{lo}" if lo is not None and lo == hi else ""
            notes.append(f"list of {count} {_kind_word(item, root)}".replace("  ", " "))
        if sub.get("description"):
            notes.append(sub["description"])
        if name not in required:
            notes.append("optional")
        out.append(path + (f" ({'; '.join(notes)})" if notes else ""))
    return out


def _kind_word(node: dict, root: dict) -> str:
    k = kinds(node, root)
    return "texts" if k == {"string"} else "numbers" if k <= {"number", "integer"} else "values"


def strict(node: Any) -> Any:
    """A copy of a JSON schema in the form strict structured output requires: every object
    closed (`additionalProperties: false`) with all its properties required, no defaults.
    The reply is still validated against the original schema."""
    if isinstance(node, list):
        return [strict(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for k, v in node.items():
        if k in ("properties", "$defs", "definitions") and isinstance(v, dict):
            out[k] = {name: strict(sub) for name, sub in v.items()}  # names, not keywords
        elif k != "default":
            out[k] = strict(v)
    if isinstance(out.get("properties"), dict):
        out["required"] = list(out["properties"])
        out["additionalProperties"] = False
    return out
