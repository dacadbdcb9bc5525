"""Checks the add forms run before the service: every field's error at once, and what the input becomes.

The service (through generation.normalise) stops at the first bad field. Here
each field is checked on its own, beside known-good values for the others, so
one submit names every bad field; the whole set is checked together only when
each field passed. The messages are generation.py's own.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from campaigns import generation, vocabulary as words

# Known-good companions for checking one field alone, per pattern: (prefix_length, suffix_length).
GOOD_LENGTHS = {"prefix": (1, 0), "suffix": (0, 1), "both": (1, 1)}
GOOD = {"charset": "a", "constant": "", "tlds": [".com"]}


@dataclass
class GenerationCheck:
    errors: dict[str, str] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)  # field → how the input was read, when it changed
    space: int | None = None

    def as_dict(self) -> dict[str, Any]:
        summary = ""
        if self.space is not None:
            summary = f"These settings can produce {words.number(self.space)} names."
        return {"errors": self.errors, "notes": self.notes, "space": self.space, "summary": summary}


def tld_list(text: str | None) -> list[str]:
    return [tld for tld in (text or "").replace(",", " ").split() if tld]


def _try(check: GenerationCheck, name: str, **params: Any) -> generation.GenerationSpec | None:
    try:
        return generation.normalise(**params)
    except generation.InvalidGenerationParams as exc:
        check.errors.setdefault(exc.field if name == "lengths" else name, exc.message)
        return None


def check_generation(data: dict[str, Any]) -> GenerationCheck:
    """Every field's error, how charset, constant and TLDs will be read, and the size of the name space."""
    check = GenerationCheck()
    pattern = data.get("pattern")
    if pattern not in GOOD_LENGTHS:
        check.errors["pattern"] = "choose prefix, suffix or both"
        return check
    prefix, suffix = GOOD_LENGTHS[pattern]
    base = {"pattern": pattern, "prefix_length": prefix, "suffix_length": suffix, **GOOD}
    charset, constant, tlds = data.get("charset"), data.get("constant") or "", tld_list(data.get("tlds"))
    checks = {"charset": {"charset": charset}, "constant": {"constant": constant}, "tlds": {"tlds": tlds}}
    if isinstance(data.get("prefix_length"), int) and isinstance(data.get("suffix_length"), int):
        checks["lengths"] = {"prefix_length": data["prefix_length"], "suffix_length": data["suffix_length"]}
    for name, posted in checks.items():
        if None in posted.values():
            continue
        spec = _try(check, name, **{**base, **posted})
        if spec is not None and name == "charset" and spec.charset != charset:
            check.notes["charset"] = f"read as “{spec.charset}” (lower case, each character once)"
        if spec is not None and name == "constant" and spec.constant != constant:
            check.notes["constant"] = f"read as “{spec.constant}”"
        if spec is not None and name == "tlds" and [t.lstrip(".") for t in spec.tlds] != tlds:
            check.notes["tlds"] = "read as " + ", ".join(spec.tlds)
    if check.errors or "lengths" not in checks or charset is None:
        return check
    spec = _try(check, "lengths", **{**base, **checks["lengths"], "charset": charset, "constant": constant, "tlds": tlds})
    if spec is None:
        return check
    check.space = generation.space_size(spec)
    count = data.get("count")
    if isinstance(count, int):
        try:
            generation.validate_count(spec, count)
        except generation.InvalidGenerationParams as exc:
            check.errors["count"] = f"must be at most {words.number(check.space)}, what these settings can produce" if count > check.space else exc.message
    return check


def int_or_none(value: object) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def preview_generation(query) -> dict[str, Any]:
    """check_generation of a query string as the add form types it (for the as-you-type preview)."""
    data = {key: query.get(key) for key in ("pattern", "charset", "constant", "tlds")}
    data.update({key: int_or_none(query.get(key)) for key in ("prefix_length", "suffix_length", "count")})
    return check_generation(data).as_dict()
