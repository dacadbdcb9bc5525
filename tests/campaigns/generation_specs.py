"""Shared helpers for the domain generation tests: the base params and a Hypothesis strategy of specs."""
from __future__ import annotations

from hypothesis import assume, settings
from hypothesis import strategies as st

from campaigns.generation import InvalidGenerationParams, normalise

# No example database: the tree is shared and .hypothesis/ is not ignored.
fast = settings(database=None, deadline=None, max_examples=60)

BASE = dict(pattern="prefix", prefix_length=2, suffix_length=0, charset="abc", constant="shop", tlds=["com"])


def params(**overrides):
    return {**BASE, **overrides}


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
