"""The regex tokenizer DomainFlow used before lexbor, kept only as the reference the equivalence
test and bench/text_extraction.py compare the HTML5 parser's text with. Not used by the product."""
from __future__ import annotations

import html as html_lib
import re

TITLE_MAX_CHARS = 500
_SLICE = 16_384  # long texts are whitespace-collapsed in slices of this many characters
_SUB_LIMIT = 65_536  # longer markup is stripped incrementally (bounded memory), shorter with one re.sub

# Elements whose content is never rendered as page text (HTML5 raw-text/RCDATA elements and
# the <title>, which is shown in the tab, not the page). <head> needs no rule of its own: in
# HTML5 it can only hold these and void elements; stray text there is rendered in the body.
_DROPPED = "script|style|noscript|template|title|iframe|noembed|noframes"
# Elements that break words: their tags become a space so "<p>a</p><p>b</p>" is "a b", while
# inline tags ("w<b>or</b>d") leave words whole.
_BLOCK_TAGS = frozenset(
    """address article aside blockquote body br caption dd details dialog div dl dt fieldset
    figcaption figure footer form h1 h2 h3 h4 h5 h6 head header hgroup hr html legend li main
    menu nav ol optgroup option p pre section select summary table tbody td textarea tfoot th
    thead tr ul img input button label video audio canvas svg math object embed""".split()
)

# Attributes of a tag: possessive everywhere and every branch ends at ">" or the end of input, so
# the scan is linear even on hostile markup (an unclosed quote runs to the end, as in HTML5).
_ATTRS = r"""(?:[^>"'=]++|=\s*+(?:"[^"]*+(?:"|\Z)|'[^']*+(?:'|\Z))?+|["'])*+"""
# (The lookahead on the first letter of the dropped names lets ordinary tags skip that
# case-insensitive alternation: about a fifth of the tokenizer's time.)
_TOKEN = re.compile(
    r"<!--(?:-?>|.*?--!?>|.*\Z)"  # comment
    rf"|<(?=[sStTnNiI])(?P<drop>(?i:{_DROPPED}))(?=[\s/>]|\Z){_ATTRS}(?:>|\Z)"  # element whose content is dropped
    r"(?P<body>.*?)(?:</(?i:(?P=drop))(?=[\s/>]|\Z)[^>]*+(?:>|\Z)|\Z)"
    rf"|</?(?P<tag>[a-zA-Z][^\s/>]*+){_ATTRS}(?:>|\Z)"  # start or end tag
    r"|<[!?/][^>]*+(?:>|\Z)",  # doctype, processing instruction, bogus comment
    re.DOTALL,
)
_TITLE_START = re.compile(r"<title(?=[\s/>])", re.IGNORECASE)


def _collapse(text: str) -> str:
    if "&" in text:
        text = html_lib.unescape(text)
    if len(text) <= _SLICE:
        return " ".join(text.split())
    # Long text in slices: split() on a whole 1 MiB page of short words would hold ~100k
    # word objects (~5 MB) at once.
    out: list[str] = []
    space_before = False
    for start in range(0, len(text), _SLICE):
        piece = text[start : start + _SLICE]
        words = " ".join(piece.split())
        if words:
            if out and (space_before or piece[0].isspace()):
                out.append(" ")
            out.append(words)
        space_before = piece[-1].isspace() or (space_before and not words)
    return "".join(out)


def _strip_markup(html: str, titles: list[str]) -> str:
    """The markup's text with tags, comments and dropped elements removed; the first title's raw
    text is appended to `titles`."""

    def token_sub(match: re.Match[str]) -> str:
        tag = match["tag"]
        if tag is not None:
            return " " if tag in _BLOCK_TAGS or tag.lower() in _BLOCK_TAGS else ""
        drop = match["drop"]
        if drop is None:
            return ""
        if not titles and drop.lower() == "title":
            titles.append(match["body"])
        return " "

    if len(html) <= _SUB_LIMIT:
        return _TOKEN.sub(token_sub, html)
    # Large pages: re.sub would hold one piece per token and per text run (~8x the page for a
    # megabyte of short tags); joining every few thousand pieces keeps that near 1x.
    chunks: list[str] = []
    pieces: list[str] = []
    pos = 0
    for match in _TOKEN.finditer(html):
        pieces.append(html[pos : match.start()])
        pieces.append(token_sub(match))
        pos = match.end()
        if len(pieces) >= 4096:
            chunks.append("".join(pieces))
            pieces.clear()
    pieces.append(html[pos:])
    chunks.append("".join(pieces))
    return "".join(chunks)


def visible_text(html: str) -> str:
    """The text a browser would render: markup, comments, scripts, styles and title removed."""
    return _collapse(_strip_markup(html, []))


def page_text(html: str) -> tuple[str, str]:
    """(extract_title(html), visible_text(html)) in one pass over the markup."""
    titles: list[str] = []
    text = _collapse(_strip_markup(html, titles))
    return (_collapse(titles[0])[:TITLE_MAX_CHARS] if titles else ""), text


def extract_title(html: str) -> str:
    """The unescaped, whitespace-collapsed text of the first <title>, at most 500 characters."""
    if _TITLE_START.search(html) is None:
        return ""
    for match in _TOKEN.finditer(html):
        drop = match.group("drop")
        if drop is not None and drop.lower() == "title":
            return _collapse(match.group("body"))[:TITLE_MAX_CHARS]
    return ""
