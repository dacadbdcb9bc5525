"""lexbor's visible text against the regex tokenizer it replaced, page by page over a varied corpus.

Every page where the two differ is listed in DIFFERENCES with the HTML5 parser's text and why it is
the right one; every other page must give exactly the old (title, text).
"""
from __future__ import annotations

import pytest

from campaigns.http.charsets import decode_page
from campaigns.keywords import page_text
from tests.campaigns.http import reference_text
from tests.campaigns.http.text_corpus import CORPUS

DIFFERENCES = {
    # In SVG and MathML, CDATA sections are text nodes (HTML5 "CDATA section state"); outside
    # foreign content both read "<![CDATA[" as a bogus comment.
    "cdata": ("", "ab in svg c"),
    # <textarea> is RCDATA and <xmp> raw text: a browser shows their markup literally, where the
    # tokenizer stripped it as tags.
    "raw-text-elements": ("", "<b>not bold</b> <p>literal</p> after"),
}


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_the_html5_parser_gives_the_old_text_except_where_documented(name):
    body, charset = CORPUS[name]
    markup = decode_page(body, charset, html=True)

    new = page_text(markup)

    if name in DIFFERENCES:
        assert new == DIFFERENCES[name]
        assert reference_text.page_text(markup) != new
    else:
        assert new == reference_text.page_text(markup)


def test_every_documented_difference_is_a_corpus_page():
    assert set(DIFFERENCES) <= set(CORPUS)
