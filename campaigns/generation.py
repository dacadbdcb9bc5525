"""Deterministic domain generation: normalised params, offset to name, config hash."""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from bisect import bisect_left
from dataclasses import asdict, dataclass
from functools import lru_cache

PATTERNS = ("prefix", "suffix", "both")
MAX_LABEL_LENGTH = 63
MAX_NAME_LENGTH = 253

_ALLOWED_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")
_LDH_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_TLD_RULE = "labels must be 1-63 characters of a-z, 0-9 and '-' and must not start or end with '-'"
# A block is one value of the high digits times every low-digit/TLD tail.
# Small blocks waste the per-block work, large ones waste the table build
# when few names are wanted, so the size follows `want` within these bounds.
_MIN_BLOCK = 1024
_MAX_BLOCK = 65536


class InvalidGenerationParams(ValueError):
    """Generation parameters are invalid."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message

    def __reduce__(self):
        # The default reduce would call __init__ with the joined text only.
        return (type(self), (self.field, self.message))


@dataclass(frozen=True)
class GenerationSpec:
    """Normalised generation parameters (everything but count)."""

    pattern: str
    prefix_length: int
    suffix_length: int
    charset: str
    constant: str
    tlds: tuple[str, ...]


@dataclass(frozen=True)
class GeneratedBatch:
    """Valid names found from one start offset, and where the next scan starts."""

    offsets: list[int]
    names: list[str]
    next_offset: int
    exhausted: bool


def normalise(
    *,
    pattern: str,
    prefix_length: int,
    suffix_length: int,
    charset: str,
    constant: str,
    tlds: list[str] | tuple[str, ...],
) -> GenerationSpec:
    """Validate raw params and return their canonical form."""
    if not isinstance(pattern, str) or pattern not in PATTERNS:
        raise InvalidGenerationParams("pattern", f"must be one of prefix, suffix, both; got {pattern!r}")
    uses_prefix = pattern in ("prefix", "both")
    uses_suffix = pattern in ("suffix", "both")
    _check_length("prefix_length", prefix_length, used=uses_prefix, pattern=pattern)
    _check_length("suffix_length", suffix_length, used=uses_suffix, pattern=pattern)

    charset = "".join(dict.fromkeys(_lower_ldh_text("charset", charset)))
    if not charset:
        raise InvalidGenerationParams("charset", "must not be empty")
    # Every pattern puts a variable character at one end of the label.
    if charset == "-":
        raise InvalidGenerationParams(
            "charset", "must contain a character other than '-' (a label cannot start or end with '-')"
        )
    constant = _lower_ldh_text("constant", constant)
    tld_tuple = _normalise_tlds(tlds)

    label_length = prefix_length + suffix_length + len(constant)
    if label_length > MAX_LABEL_LENGTH:
        field = "suffix_length" if pattern == "suffix" else "prefix_length"
        raise InvalidGenerationParams(
            field,
            f"is too large: the label would be {label_length} characters "
            f"({prefix_length + suffix_length} variable + {len(constant)} constant); the maximum is 63",
        )
    # A constant that starts or ends every label would make the whole space invalid.
    if pattern == "suffix" and constant.startswith("-"):
        raise InvalidGenerationParams("constant", "must not start with '-' for the suffix pattern")
    if pattern == "prefix" and constant.endswith("-"):
        raise InvalidGenerationParams("constant", "must not end with '-' for the prefix pattern")
    for tld in tld_tuple:
        if label_length + len(tld) > MAX_NAME_LENGTH:
            raise InvalidGenerationParams(
                "tlds",
                f"{tld!r} is too long: every name would be {label_length + len(tld)} characters; "
                "the maximum is 253",
            )
    return GenerationSpec(
        pattern=pattern,
        prefix_length=prefix_length,
        suffix_length=suffix_length,
        charset=charset,
        constant=constant,
        tlds=tld_tuple,
    )


def _check_length(field: str, value: object, *, used: bool, pattern: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidGenerationParams(field, f"must be an integer; got {value!r}")
    if value < 0:
        raise InvalidGenerationParams(field, f"must not be negative; got {value}")
    if used and value == 0:
        raise InvalidGenerationParams(field, f"must be at least 1 for the {pattern} pattern")
    if not used and value != 0:
        raise InvalidGenerationParams(field, f"must be 0 for the {pattern} pattern")


def _lower_ldh_text(field: str, value: object) -> str:
    if not isinstance(value, str):
        raise InvalidGenerationParams(field, f"must be a string; got {type(value).__name__}")
    for char in value:
        # str.lower() maps some non-ASCII letters (the Kelvin sign) onto ASCII ones.
        if not char.isascii() or char.lower() not in _ALLOWED_CHARS:
            raise InvalidGenerationParams(field, f"contains {char!r}; only a-z, 0-9 and '-' are allowed")
    return value.lower()


def _normalise_tlds(tlds: object) -> tuple[str, ...]:
    # A bare string is iterable too; refusing it avoids TLDs of one letter each.
    if not isinstance(tlds, (list, tuple)):
        raise InvalidGenerationParams("tlds", f"must be a list of TLDs; got {type(tlds).__name__}")
    if not tlds:
        raise InvalidGenerationParams("tlds", "must contain at least one TLD")
    seen: dict[str, None] = {}
    for item in tlds:
        if not isinstance(item, str):
            raise InvalidGenerationParams("tlds", f"must contain only strings; got {item!r}")
        bare = item.lower()[1:] if item.startswith(".") else item.lower()
        if not item.isascii() or not all(_LDH_LABEL.fullmatch(label) for label in bare.split(".")):
            raise InvalidGenerationParams("tlds", f"{item!r} is not a valid TLD: {_TLD_RULE}")
        seen.setdefault("." + bare)
    return tuple(seen)


# The most names one campaign may ask for (docs/DECISIONS.md): a billion rows is far past any
# real sweep, and every counter stays well inside PostgreSQL's bigint.
MAX_COUNT = 1_000_000_000
# The most names one batch may hold: one batch is one transaction, which must stay short.
MAX_BATCH_SIZE = 100_000


def validate_count(spec: GenerationSpec, count: int) -> int:
    """Return count if it is a positive integer no larger than MAX_COUNT and the space."""
    if not isinstance(count, int) or isinstance(count, bool):
        raise InvalidGenerationParams("count", f"must be an integer; got {count!r}")
    if count < 1:
        raise InvalidGenerationParams("count", f"must be at least 1; got {count}")
    if count > MAX_COUNT:
        raise InvalidGenerationParams("count", f"must be at most {MAX_COUNT:,} (the largest campaign); got {count:,}")
    space = space_size(spec)
    if count > space:
        raise InvalidGenerationParams(
            "count", f"must be at most {space}, the size of the domain space; got {count}"
        )
    return count


def config_hash(spec: GenerationSpec) -> str:
    """SHA-256 hex of the canonical JSON of the normalised spec."""
    payload = json.dumps(asdict(spec), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(payload.encode("ascii")).hexdigest()


def space_size(spec: GenerationSpec) -> int:
    """Number of offsets (valid or not): N ** V * T."""
    prefix, suffix = _variable_lengths(spec)
    return len(spec.charset) ** (prefix + suffix) * len(spec.tlds)


def domain_at(spec: GenerationSpec, offset: int) -> str | None:
    """The name at offset, or None when it is not a valid hostname."""
    prefix, suffix = _variable_lengths(spec)
    _check_offset(offset, space_size(spec))
    q, tld_index = divmod(offset, len(spec.tlds))
    variable = "".join(spec.charset[d] for d in _digits(q, base=len(spec.charset), width=prefix + suffix))
    label = variable[:prefix] + spec.constant + variable[prefix:]
    name = label + spec.tlds[tld_index]
    if (
        not label
        or len(label) > MAX_LABEL_LENGTH
        or len(name) > MAX_NAME_LENGTH
        or label[0] == "-"
        or label[-1] == "-"
    ):
        return None
    return name


def generate(spec: GenerationSpec, *, start_offset: int, want: int) -> GeneratedBatch:
    """Scan from start_offset until want valid names are found or the space ends."""
    space = space_size(spec)
    _check_offset(start_offset, space)
    if not isinstance(want, int) or isinstance(want, bool) or want < 0:
        raise ValueError(f"want must be a non-negative integer; got {want!r}")
    if want == 0:
        return GeneratedBatch(offsets=[], names=[], next_offset=start_offset, exhausted=False)
    layout = _layout(spec, min(max(want, _MIN_BLOCK), _MAX_BLOCK))
    if not layout.rel:
        return GeneratedBatch(offsets=[], names=[], next_offset=space, exhausted=True)

    charset, constant, cut = spec.charset, spec.constant, layout.cut
    base_n, high_width, block_size = len(charset), layout.high_width, layout.block_size
    rel, tails, dense = layout.rel, layout.tails, layout.dense
    high_count = base_n**high_width
    # Blocks sharing the leading high digit form one group: skipped at once when that digit is '-'.
    group = base_n ** (high_width - 1) if high_width else 1
    high, rel_start = divmod(start_offset, block_size)
    offsets: list[int] = []
    names: list[str] = []
    remaining = want
    next_offset = space
    while high < high_count:
        high_part = "".join(charset[d] for d in _digits(high, base=base_n, width=high_width))
        if layout.first_in_high and high_part[0] == "-":
            high, rel_start = (high // group + 1) * group, 0
            continue
        if layout.last_in_high and high_part[-1] == "-":
            high, rel_start = high + 1, 0
            continue
        head = high_part[:cut] + constant + high_part[cut:] if cut is not None else high_part
        base = high * block_size
        i = rel_start if dense else bisect_left(rel, rel_start)
        j = min(len(rel), i + remaining)
        if i < j:
            names.extend(map(head.__add__, tails[i:j]))
            offsets.extend(range(base + i, base + j) if dense else map(base.__add__, rel[i:j]))
            remaining -= j - i
            if not remaining:
                next_offset = base + rel[j - 1] + 1
                break
        high, rel_start = high + 1, 0
    return GeneratedBatch(
        offsets=offsets, names=names, next_offset=next_offset, exhausted=next_offset == space
    )


@dataclass(frozen=True)
class _Layout:
    """Precomputed tails of one block and which label ends the high digits decide."""

    high_width: int
    block_size: int
    cut: int | None  # where the constant goes in the high part; None when it is in the tails
    first_in_high: bool
    last_in_high: bool
    rel: list[int]  # offsets within a block whose tail can be valid, ascending
    tails: list[str]  # low digits (with the constant when it falls there) + TLD, for rel
    dense: bool  # rel == range(block_size): no per-name check needed at all


@lru_cache(maxsize=4)
def _layout(spec: GenerationSpec, block_limit: int) -> _Layout:
    """Split the digits into high (per block) and low (tabled) parts and pre-filter the tails."""
    prefix, suffix = _variable_lengths(spec)
    width, base_n, constant = prefix + suffix, len(spec.charset), spec.constant
    low_width = 0
    while low_width < width and base_n ** (low_width + 1) * len(spec.tlds) <= block_limit:
        low_width += 1
    high_width = width - low_width
    label_length = width + len(constant)
    # The label ends in a variable digit unless the constant sits at that end.
    first_is_digit = prefix > 0 or not constant
    last_is_digit = suffix > 0 or not constant
    possible = (
        1 <= label_length <= MAX_LABEL_LENGTH
        and (first_is_digit or constant[0] != "-")
        and (last_is_digit or constant[-1] != "-")
    )
    first_in_low = first_is_digit and high_width == 0
    last_in_low = last_is_digit and low_width > 0
    low_cut = prefix - high_width if prefix > high_width else None
    rel: list[int] = []
    tails: list[str] = []
    index = 0
    for chars in itertools.product(spec.charset, repeat=low_width):
        low = "".join(chars)
        low_ok = possible and not (first_in_low and low[0] == "-") and not (last_in_low and low[-1] == "-")
        if low_cut is not None:
            low = low[:low_cut] + constant + low[low_cut:]
        for tld in spec.tlds:
            if low_ok and label_length + len(tld) <= MAX_NAME_LENGTH:
                rel.append(index)
                tails.append(low + tld)
            index += 1
    return _Layout(
        high_width=high_width,
        block_size=index,
        cut=prefix if low_cut is None else None,
        first_in_high=first_is_digit and high_width > 0,
        last_in_high=last_is_digit and low_width == 0,
        rel=rel,
        tails=tails,
        dense=len(rel) == index,
    )


def _variable_lengths(spec: GenerationSpec) -> tuple[int, int]:
    if spec.pattern == "prefix":
        return spec.prefix_length, 0
    if spec.pattern == "suffix":
        return 0, spec.suffix_length
    if spec.pattern == "both":
        return spec.prefix_length, spec.suffix_length
    raise ValueError(f"unknown pattern {spec.pattern!r}")


def _check_offset(offset: int, space: int) -> None:
    if not isinstance(offset, int) or isinstance(offset, bool):
        raise TypeError(f"offset must be an integer; got {offset!r}")
    if not 0 <= offset < space:
        raise ValueError(f"offset {offset} is outside the space [0, {space})")


def _digits(value: int, *, base: int, width: int) -> list[int]:
    """value in base `base` as exactly `width` digits, most significant first."""
    digits = [0] * width
    for position in range(width - 1, -1, -1):
        value, digits[position] = divmod(value, base)
    return digits
