from __future__ import annotations

import hashlib
import itertools
import pickle
import re

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from campaigns.generation import (
    GeneratedBatch,
    GenerationSpec,
    InvalidGenerationParams,
    config_hash,
    domain_at,
    generate,
    normalise,
    space_size,
    validate_count,
)

# No example database: the tree is shared and .hypothesis/ is not ignored.
fast = settings(database=None, deadline=None, max_examples=60)

HOSTNAME = re.compile(
    r"(?=.{1,253}\Z)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+"
)
BASE = dict(pattern="prefix", prefix_length=2, suffix_length=0, charset="abc", constant="shop", tlds=["com"])


def params(**overrides):
    return {**BASE, **overrides}


def reference_candidate(spec: GenerationSpec, offset: int) -> str:
    """The offset layout read literally (docs/ARCHITECTURE.md): plain div/mod, no validity check."""
    prefix = spec.prefix_length if spec.pattern in ("prefix", "both") else 0
    suffix = spec.suffix_length if spec.pattern in ("suffix", "both") else 0
    n = len(spec.charset)
    tld = spec.tlds[offset % len(spec.tlds)]
    q = offset // len(spec.tlds)
    chars = []
    for _ in range(prefix + suffix):
        chars.append(spec.charset[q % n])
        q //= n
    variable = "".join(reversed(chars))
    if spec.pattern == "prefix":
        label = variable + spec.constant
    elif spec.pattern == "suffix":
        label = spec.constant + variable
    else:
        label = variable[:prefix] + spec.constant + variable[prefix:]
    return label + tld


def reference_domain(spec: GenerationSpec, offset: int) -> str | None:
    candidate = reference_candidate(spec, offset)
    return candidate if HOSTNAME.fullmatch(candidate) else None


def build(*, charset, pattern, variable, split, constant, tlds):
    """normalise() for drawn values, rejecting the few combinations it refuses."""
    if pattern == "both":
        prefix_length, suffix_length = split, variable - split
    else:
        prefix_length, suffix_length = (variable, 0) if pattern == "prefix" else (0, variable)
    try:
        return normalise(
            pattern=pattern,
            prefix_length=prefix_length,
            suffix_length=suffix_length,
            charset=charset,
            constant=constant,
            tlds=tlds,
        )
    except InvalidGenerationParams:
        assume(False)


@st.composite
def specs(draw, *, charset_chars="ab-0z", min_charset=1, max_charset=4, min_space=1, max_variable=4):
    """Normalised specs; '-' is in the alphabet so invalid positions occur."""
    charset = "".join(
        draw(st.lists(st.sampled_from(charset_chars), min_size=min_charset, max_size=max_charset, unique=True))
    )
    pattern = draw(st.sampled_from(["prefix", "suffix", "both"]))
    tlds = draw(st.lists(st.sampled_from(["com", "net", ".io", "co.uk"]), min_size=1, max_size=3, unique=True))
    # The smallest variable length reaching min_space, so big spaces stay just big enough.
    least = 2 if pattern == "both" else 1
    while len(charset) ** least * len(tlds) < min_space:
        least += 1
    variable = draw(st.integers(least, max(least, max_variable)))
    return build(
        charset=charset,
        pattern=pattern,
        variable=variable,
        split=draw(st.integers(1, variable - 1)) if pattern == "both" else 0,
        constant=draw(st.sampled_from(["", "x", "a-b", "-", "-x", "x-", "shop"])),
        tlds=tlds,
    )


def valid_sequence(spec: GenerationSpec) -> list[tuple[int, str]]:
    return [(o, name) for o in range(space_size(spec)) if (name := domain_at(spec, o)) is not None]


# --- enumeration -----------------------------------------------------------


def test_worked_example_from_the_design_maps_offsets_to_names():
    spec = normalise(**BASE)
    assert space_size(spec) == 9
    assert [domain_at(spec, o) for o in (0, 1, 3, 8)] == ["aashop.com", "abshop.com", "bashop.com", "ccshop.com"]


def test_prefix_pattern_puts_the_variable_part_before_the_constant():
    spec = normalise(**params(charset="ab", constant="x"))
    assert [domain_at(spec, o) for o in range(4)] == ["aax.com", "abx.com", "bax.com", "bbx.com"]


def test_suffix_pattern_puts_the_variable_part_after_the_constant():
    spec = normalise(**params(pattern="suffix", prefix_length=0, suffix_length=2, charset="ab", constant="x"))
    assert [domain_at(spec, o) for o in range(4)] == ["xaa.com", "xab.com", "xba.com", "xbb.com"]


def test_both_pattern_splits_the_digits_around_the_constant():
    spec = normalise(**params(pattern="both", prefix_length=1, suffix_length=2, charset="ab", constant="x"))
    assert space_size(spec) == 8
    # q = 3 is 011 in base 2: first digit before the constant, last two after it.
    assert domain_at(spec, 3) == "axbb.com"
    assert domain_at(spec, 4) == "bxaa.com"


def test_tld_varies_fastest():
    spec = normalise(**params(prefix_length=1, charset="ab", constant="x", tlds=["com", "net"]))
    assert [domain_at(spec, o) for o in range(4)] == ["ax.com", "ax.net", "bx.com", "bx.net"]


def test_charset_order_is_the_digit_order():
    spec = normalise(**params(prefix_length=1, charset="cab", constant="x"))
    assert [domain_at(spec, o) for o in range(3)] == ["cx.com", "ax.com", "bx.com"]


def test_positions_whose_label_would_start_or_end_with_a_hyphen_are_skipped():
    spec = normalise(**params(prefix_length=1, charset="a-", constant="x"))
    assert [domain_at(spec, o) for o in range(2)] == ["ax.com", None]
    batch = generate(spec, start_offset=0, want=5)
    assert batch == GeneratedBatch(offsets=[0], names=["ax.com"], next_offset=2, exhausted=True)


@fast
@given(specs())
def test_enumeration_is_a_bijection_in_the_specified_order(spec):
    space = space_size(spec)
    candidates = [reference_candidate(spec, o) for o in range(space)]
    assert len(set(candidates)) == space
    produced = [domain_at(spec, o) for o in range(space)]
    assert produced == [c if HOSTNAME.fullmatch(c) else None for c in candidates]
    valid = [name for name in produced if name is not None]
    assert len(set(valid)) == len(valid)
    assert len(valid) + produced.count(None) == space


@pytest.mark.parametrize("offset", [-1, 9, 10**30])
def test_domain_at_rejects_offsets_outside_the_space(offset):
    with pytest.raises(ValueError, match=r"outside the space \[0, 9\)"):
        domain_at(normalise(**BASE), offset)


def test_a_huge_space_is_computed_not_enumerated():
    spec = normalise(**params(charset="abcdefghijklmnopqrstuvwxyz0123456789-", prefix_length=40, constant=""))
    space = space_size(spec)
    assert space == 37**40
    last = space - 1
    assert domain_at(spec, last) is None  # all '-': not a hostname
    assert reference_candidate(spec, last - 1) == "-" * 39 + "9.com"
    assert domain_at(spec, last - 1) is None  # starts with '-'
    assert domain_at(spec, 0) == "a" * 40 + ".com"


# --- generate ---------------------------------------------------------------


@fast
@given(specs(), st.data())
def test_generate_equals_the_filtered_domain_at_sequence(spec, data):
    space = space_size(spec)
    start = data.draw(st.integers(0, space - 1), label="start")
    want = data.draw(st.integers(1, space + 2), label="want")
    expected = [(o, reference_domain(spec, o)) for o in range(start, space)]
    expected = [(o, name) for o, name in expected if name is not None][:want]
    batch = generate(spec, start_offset=start, want=want)
    assert list(zip(batch.offsets, batch.names)) == expected
    next_offset = expected[-1][0] + 1 if len(expected) == want else space
    assert batch.next_offset == next_offset
    assert batch.exhausted is (next_offset == space)
    assert all(HOSTNAME.fullmatch(name) for name in batch.names)


@fast
@given(specs(), st.lists(st.integers(1, 50), min_size=1, max_size=30))
def test_batches_chained_by_next_offset_cover_the_valid_sequence_once(spec, wants):
    got: list[tuple[int, str]] = []
    offset = 0
    for want in itertools.cycle(wants):
        batch = generate(spec, start_offset=offset, want=want)
        got.extend(zip(batch.offsets, batch.names))
        if batch.exhausted:
            break
        assert len(batch.names) == want
        offset = batch.next_offset
    assert got == valid_sequence(spec)


@settings(database=None, deadline=None, max_examples=40)
@given(
    specs(charset_chars="abc-d", min_charset=3, min_space=20_000, max_variable=0),
    st.data(),
)
def test_generate_matches_domain_at_across_block_boundaries(spec, data):
    # Spaces much larger than one block, so windows cross blocks and skip hyphen-led groups.
    space = space_size(spec)
    start = data.draw(st.integers(0, space - 1), label="start")
    want = data.draw(st.integers(1, 3000), label="want")
    batch = generate(spec, start_offset=start, want=want)
    expected = []
    offset = start
    while len(expected) < want and offset < space:
        if (name := domain_at(spec, offset)) is not None:
            expected.append((offset, name))
        offset += 1
    assert list(zip(batch.offsets, batch.names)) == expected
    assert batch.next_offset == offset
    assert all(reference_candidate(spec, o) == name for o, name in expected[:: max(1, len(expected) // 50)])


def test_generate_handles_more_tlds_than_fit_one_block():
    # N * T exceeds the block size, so every variable digit (the last one too) is per block.
    tlds = [f"t{i}" for i in range(400)]
    spec = normalise(
        **params(pattern="suffix", prefix_length=0, suffix_length=3, charset="a-b", constant="x", tlds=tlds)
    )
    got: list[tuple[int, str]] = []
    offset = 0
    while True:
        batch = generate(spec, start_offset=offset, want=700)
        got.extend(zip(batch.offsets, batch.names))
        if batch.exhausted:
            break
        offset = batch.next_offset
    assert got == valid_sequence(spec)
    assert len(got) == 3 * 3 * 2 * 400  # only the last digit must not be "-"


def test_generate_continues_from_a_start_offset_deep_in_a_huge_space():
    spec = normalise(**params(charset="abcdefghijklmnopqrstuvwxyz0123456789", prefix_length=20, tlds=["com", "net"]))
    start = space_size(spec) // 3 + 12345
    batch = generate(spec, start_offset=start, want=5000)
    assert batch.offsets == list(range(start, start + 5000))
    assert batch.names == [reference_candidate(spec, o) for o in batch.offsets]
    assert batch.next_offset == start + 5000 and not batch.exhausted


def test_generate_stops_at_the_end_of_the_space_and_says_so():
    spec = normalise(**BASE)
    batch = generate(spec, start_offset=7, want=10)
    assert batch == GeneratedBatch(offsets=[7, 8], names=["cbshop.com", "ccshop.com"], next_offset=9, exhausted=True)


def test_generate_marks_exhausted_when_the_last_wanted_name_ends_the_space():
    batch = generate(normalise(**BASE), start_offset=7, want=2)
    assert batch.next_offset == 9 and batch.exhausted


@pytest.mark.parametrize("start", [-1, 9])
def test_generate_rejects_start_offsets_outside_the_space(start):
    with pytest.raises(ValueError, match="outside the space"):
        generate(normalise(**BASE), start_offset=start, want=1)


def test_generate_rejects_a_negative_want():
    with pytest.raises(ValueError, match="want must be a non-negative integer; got -1"):
        generate(normalise(**BASE), start_offset=0, want=-1)


def test_generate_skips_names_longer_than_253_characters_for_a_hand_built_spec():
    long_tld = "." + ".".join(["a" * 63] * 3)  # 192 characters
    spec = GenerationSpec(
        pattern="prefix", prefix_length=1, suffix_length=0, charset="ab", constant="x" * 62, tlds=(".com", long_tld)
    )
    assert domain_at(spec, 1) is None  # 63 + 192 = 255 characters
    batch = generate(spec, start_offset=0, want=10)
    assert batch.offsets == [0, 2] and batch.names == ["a" + "x" * 62 + ".com", "b" + "x" * 62 + ".com"]
    assert batch.exhausted


def test_generate_scans_nothing_when_no_candidate_can_be_valid():
    spec = GenerationSpec(
        pattern="suffix", prefix_length=0, suffix_length=3, charset="ab", constant="-x", tlds=(".com",)
    )
    assert all(domain_at(spec, o) is None for o in range(space_size(spec)))
    assert generate(spec, start_offset=3, want=5) == GeneratedBatch([], [], next_offset=8, exhausted=True)


# --- config hash ------------------------------------------------------------


def test_config_hash_is_sha256_of_the_canonical_json_of_the_normalised_spec():
    canonical = (
        '{"charset":"abc","constant":"shop","pattern":"prefix","prefix_length":2,"suffix_length":0,"tlds":[".com"]}'
    )
    assert config_hash(normalise(**BASE)) == hashlib.sha256(canonical.encode()).hexdigest()


@pytest.mark.parametrize(
    "raw",
    [
        params(charset="AaBbCc"),
        params(charset="abcabc"),
        params(tlds=["COM", ".com"]),
        params(tlds=[".Com"]),
        params(constant="SHOP"),
    ],
)
def test_params_that_normalise_equal_hash_equal(raw):
    assert normalise(**raw) == normalise(**BASE)
    assert config_hash(normalise(**raw)) == config_hash(normalise(**BASE))


@pytest.mark.parametrize(
    "raw",
    [
        params(charset="bac"),
        params(constant="shops"),
        params(constant=""),
        params(tlds=["com", "net"]),
        params(tlds=["net", "com"]),
        params(prefix_length=3),
        params(pattern="suffix", prefix_length=0, suffix_length=2),
        params(pattern="both", prefix_length=1, suffix_length=1),
    ],
)
def test_params_whose_sequence_differs_hash_differently(raw):
    assert config_hash(normalise(**raw)) != config_hash(normalise(**BASE))


def test_tld_order_changes_the_hash():
    a = normalise(**params(tlds=["com", "net"]))
    b = normalise(**params(tlds=["net", "com"]))
    assert domain_at(a, 0) != domain_at(b, 0)
    assert config_hash(a) != config_hash(b)


def test_charset_order_changes_the_sequence_and_the_hash():
    ab = normalise(**params(charset="ab"))
    ba = normalise(**params(charset="ba"))
    assert domain_at(ab, 0) == "aashop.com" and domain_at(ba, 0) == "bbshop.com"
    assert config_hash(ab) != config_hash(ba)


@fast
@given(specs(), specs())
def test_hashes_are_equal_exactly_when_specs_are_equal(a, b):
    assert (config_hash(a) == config_hash(b)) is (a == b)


# --- normalisation ----------------------------------------------------------


def test_normalise_lower_cases_dedupes_and_dots():
    spec = normalise(**params(charset="BaAb-", constant="Shop", tlds=["COM", ".com", "Co.UK", ".net", "net"]))
    assert spec == GenerationSpec(
        pattern="prefix",
        prefix_length=2,
        suffix_length=0,
        charset="ba-",
        constant="shop",
        tlds=(".com", ".co.uk", ".net"),
    )


def test_a_hyphen_is_allowed_where_it_cannot_reach_a_label_end():
    both = normalise(**params(pattern="both", prefix_length=1, suffix_length=1, constant="-"))
    suffix = normalise(**params(pattern="suffix", prefix_length=0, suffix_length=1, constant="x-"))
    assert domain_at(both, 0) == "a-a.com"
    assert domain_at(suffix, 0) == "x-a.com"
    assert domain_at(normalise(**params(constant="-x")), 0) == "aa-x.com"


def test_an_empty_constant_is_allowed():
    assert domain_at(normalise(**params(constant="")), 0) == "aa.com"


LONG_TLD = "." + ".".join(["a" * 63] * 3)
TLD_RULE = "labels must be 1-63 characters of a-z, 0-9 and '-' and must not start or end with '-'"


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"pattern": "middle"}, "pattern", "must be one of prefix, suffix, both; got 'middle'"),
        ({"pattern": "Prefix"}, "pattern", "must be one of prefix, suffix, both; got 'Prefix'"),
        ({"pattern": None}, "pattern", "must be one of prefix, suffix, both; got None"),
        ({"prefix_length": 0}, "prefix_length", "must be at least 1 for the prefix pattern"),
        ({"prefix_length": -1}, "prefix_length", "must not be negative; got -1"),
        ({"prefix_length": "2"}, "prefix_length", "must be an integer; got '2'"),
        ({"prefix_length": 2.0}, "prefix_length", "must be an integer; got 2.0"),
        ({"prefix_length": True}, "prefix_length", "must be an integer; got True"),
        ({"suffix_length": 1}, "suffix_length", "must be 0 for the prefix pattern"),
        ({"suffix_length": -3}, "suffix_length", "must not be negative; got -3"),
        ({"pattern": "suffix"}, "prefix_length", "must be 0 for the suffix pattern"),
        ({"pattern": "suffix", "prefix_length": 0}, "suffix_length", "must be at least 1 for the suffix pattern"),
        ({"pattern": "both"}, "suffix_length", "must be at least 1 for the both pattern"),
        (
            {"pattern": "both", "prefix_length": 0, "suffix_length": 2},
            "prefix_length",
            "must be at least 1 for the both pattern",
        ),
        (
            {"prefix_length": 60},
            "prefix_length",
            "is too large: the label would be 64 characters (60 variable + 4 constant); the maximum is 63",
        ),
        (
            {"prefix_length": 10**9, "constant": ""},
            "prefix_length",
            f"is too large: the label would be {10**9} characters ({10**9} variable + 0 constant); the maximum is 63",
        ),
        (
            {"pattern": "suffix", "prefix_length": 0, "suffix_length": 64, "constant": ""},
            "suffix_length",
            "is too large: the label would be 64 characters (64 variable + 0 constant); the maximum is 63",
        ),
        (
            {"pattern": "both", "prefix_length": 30, "suffix_length": 30},
            "prefix_length",
            "is too large: the label would be 64 characters (60 variable + 4 constant); the maximum is 63",
        ),
        ({"charset": ""}, "charset", "must not be empty"),
        ({"charset": None}, "charset", "must be a string; got NoneType"),
        ({"charset": "ab_"}, "charset", "contains '_'; only a-z, 0-9 and '-' are allowed"),
        ({"charset": "a b"}, "charset", "contains ' '; only a-z, 0-9 and '-' are allowed"),
        ({"charset": "abé"}, "charset", "contains 'é'; only a-z, 0-9 and '-' are allowed"),
        ({"charset": "\u212a"}, "charset", "contains '\u212a'; only a-z, 0-9 and '-' are allowed"),
        (
            {"charset": "--"},
            "charset",
            "must contain a character other than '-' (a label cannot start or end with '-')",
        ),
        ({"constant": "sh.op"}, "constant", "contains '.'; only a-z, 0-9 and '-' are allowed"),
        ({"constant": 5}, "constant", "must be a string; got int"),
        ({"constant": "shop-"}, "constant", "must not end with '-' for the prefix pattern"),
        (
            {"pattern": "suffix", "prefix_length": 0, "suffix_length": 2, "constant": "-shop"},
            "constant",
            "must not start with '-' for the suffix pattern",
        ),
        ({"tlds": []}, "tlds", "must contain at least one TLD"),
        ({"tlds": "com"}, "tlds", "must be a list of TLDs; got str"),
        ({"tlds": None}, "tlds", "must be a list of TLDs; got NoneType"),
        ({"tlds": ["com", 3]}, "tlds", "must contain only strings; got 3"),
        ({"tlds": ["..com"]}, "tlds", f"'..com' is not a valid TLD: {TLD_RULE}"),
        ({"tlds": ["-com"]}, "tlds", f"'-com' is not a valid TLD: {TLD_RULE}"),
        ({"tlds": [".-com"]}, "tlds", f"'.-com' is not a valid TLD: {TLD_RULE}"),
        ({"tlds": ["com-"]}, "tlds", f"'com-' is not a valid TLD: {TLD_RULE}"),
        ({"tlds": [""]}, "tlds", f"'' is not a valid TLD: {TLD_RULE}"),
        ({"tlds": ["."]}, "tlds", f"'.' is not a valid TLD: {TLD_RULE}"),
        ({"tlds": ["com."]}, "tlds", f"'com.' is not a valid TLD: {TLD_RULE}"),
        ({"tlds": ["co..uk"]}, "tlds", f"'co..uk' is not a valid TLD: {TLD_RULE}"),
        ({"tlds": ["c_m"]}, "tlds", f"'c_m' is not a valid TLD: {TLD_RULE}"),
        ({"tlds": ["cöm"]}, "tlds", f"'cöm' is not a valid TLD: {TLD_RULE}"),
        ({"tlds": ["a" * 64]}, "tlds", f"'{'a' * 64}' is not a valid TLD: {TLD_RULE}"),
        (
            {"prefix_length": 59, "tlds": ["com", LONG_TLD]},
            "tlds",
            f"'{LONG_TLD}' is too long: every name would be 255 characters; the maximum is 253",
        ),
    ],
)
def test_normalise_rejects_invalid_params_naming_the_field(overrides, field, message):
    with pytest.raises(InvalidGenerationParams) as caught:
        normalise(**params(**overrides))
    assert (caught.value.field, caught.value.message) == (field, message)
    assert str(caught.value) == f"{field}: {message}"


def test_invalid_params_error_is_a_value_error_that_survives_pickling():
    error = InvalidGenerationParams("charset", "must not be empty")
    assert isinstance(error, ValueError)
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.field, copy.message, str(copy)) == ("charset", "must not be empty", "charset: must not be empty")


def test_a_tld_that_just_fits_253_characters_is_accepted():
    spec = normalise(**params(prefix_length=57, tlds=[LONG_TLD]))  # 61 + 192 = 253
    assert len(domain_at(spec, 0)) == 253


# --- count ------------------------------------------------------------------


def test_validate_count_accepts_counts_up_to_the_space_size():
    spec = normalise(**BASE)
    assert validate_count(spec, 1) == 1
    assert validate_count(spec, 9) == 9


@pytest.mark.parametrize(
    ("count", "message"),
    [
        (0, "must be at least 1; got 0"),
        (-5, "must be at least 1; got -5"),
        (10, "must be at most 9, the size of the domain space; got 10"),
        ("5", "must be an integer; got '5'"),
        (True, "must be an integer; got True"),
    ],
)
def test_validate_count_rejects_counts_outside_the_space(count, message):
    with pytest.raises(InvalidGenerationParams) as caught:
        validate_count(normalise(**BASE), count)
    assert (caught.value.field, caught.value.message) == ("count", message)
