"""One vocabulary: the same words and formats everywhere."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from django.utils import timezone as dj_timezone

from campaigns import vocabulary as words


@pytest.mark.parametrize(
    ("value", "text"),
    [("dns_validation", "DNS validation"), ("http_keyword_validation", "HTTP keyword validation"), ("odd_thing", "Odd thing")],
)
def test_types_read_as_words(value, text):
    assert words.type_label(value) == text


def test_statuses_and_derived_states_read_as_words():
    assert words.status_label("completed_with_errors") == "Completed with errors"
    assert words.status_label("cancelled") == "Cancelled"
    assert words.result_label("unresolved") == "Unresolved (no such name or no address)"
    assert words.result_label("invalid_http_code") == "Answered with an error status"
    assert words.transition_label("begin") == "Began running"


@pytest.mark.parametrize(("value", "text"), [(20000, "20,000"), (0, "0"), (1234.56, "1,234.6"), (None, "—")])
def test_numbers_have_thousands_separators(value, text):
    assert words.number(value) == text


@pytest.mark.parametrize(("seconds", "text"), [(1835, "0:30:35"), (1877, "0:31:17"), (90000, "25:00:00"), (None, "—")])
def test_durations_read_h_mm_ss(seconds, text):
    assert words.duration(seconds) == text


def test_moments_carry_their_time_zone():
    moment = datetime(2026, 12, 2, 8, 57, 29, tzinfo=timezone.utc)
    assert words.moment(moment) == "2026-12-02 08:57:29 UTC"
    with dj_timezone.override("Europe/Paris"):
        assert words.moment(moment) == "2026-12-02 09:57:29 CET"


def test_rates_percentages_and_headers():
    assert words.rate(1234.5) == "1,234.5/s" and words.rate(None) == "—"
    assert words.percent(42.26) == "42.3%" and words.percent(None) == "—"
    assert words.header_label("business_status") == "Business status"
    assert words.header_label("final_url") == "Final URL"
