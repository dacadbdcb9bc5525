"""Domain generation: the config hash, normalisation of params and the count check."""
from __future__ import annotations

import hashlib
import pickle

import pytest
from hypothesis import given

from campaigns.generation import (
    GenerationSpec,
    InvalidGenerationParams,
    config_hash,
    domain_at,
    normalise,
    validate_count,
)
from tests.campaigns.generation_specs import BASE, fast, params, specs


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
