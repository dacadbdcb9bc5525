"""Template filters for the one vocabulary (campaigns.vocabulary): `{% load df_words %}`."""
from __future__ import annotations

from django import template

from campaigns import vocabulary as words

register = template.Library()

register.filter("type_label", words.type_label)
register.filter("status_label", words.status_label)
register.filter("result_label", words.result_label)
register.filter("transition_label", words.transition_label)
register.filter("number", words.number)
register.filter("duration", words.duration)
register.filter("moment", words.moment)
register.filter("rate", words.rate)
