"""Domain generation: the offset-to-name enumeration and batched generate()."""
from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campaigns.generation import GeneratedBatch, GenerationSpec, domain_at, generate, normalise, space_size
from tests.campaigns.generation_specs import BASE, fast, params, specs

HOSTNAME = re.compile(
    r"(?=.{1,253}\Z)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+"
)


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
