"""Visible text (lexbor's HTML5 parser, via selectolax) and keyword matching for the HTTP phase (no I/O)."""
from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import re2
from selectolax.lexbor import LexborHTMLParser, LexborNode

RULE_KINDS = ("string", "regex")
ADHOC_SET = "adhoc"
ADHOC_CONTEXT_CHARS = 40
MAX_CONTEXTS = 3
_UNANCHORED = re2._Anchor.UNANCHORED  # what finditer searches with
TITLE_MAX_CHARS = 500
_SLICE = 16_384  # long texts are whitespace-collapsed in slices of this many characters

# Elements whose content is never rendered as page text (raw-text and RCDATA elements, <template>
# contents, and the <title>, which is shown in the tab, not the page). Parsing with scripting on,
# as browsers do, makes <noscript> content raw text too.
_DROPPED = ("script", "style", "noscript", "template", "title", "iframe", "noembed", "noframes")
# Elements that break words: a space is put at their start and end, so "<p>a</p><p>b</p>" is
# "a b", while inline elements ("w<b>or</b>d") leave words whole. Both lists are matched during one
# walk of the tree, by tag number (_tag_ids): a CSS selector list is compiled by lexbor on every
# call, which cost more than parsing a small page.
_BLOCKS = frozenset(
    """address article aside blockquote body br caption dd details dialog div dl dt fieldset
    figcaption figure footer form h1 h2 h3 h4 h5 h6 header hgroup hr legend li main
    menu nav ol optgroup option p pre section select summary table tbody td textarea tfoot th
    thead tr ul img input button label video audio canvas svg math object embed""".split()
)


@functools.cache
def _tag_ids(names: Iterable[str]) -> frozenset[int]:
    # lexbor numbers every element name of the HTML standard the same in every document, so the walk
    # compares numbers: reading a node's name builds a string each time. Read on first use, not at
    # import, which would parse a document in every process that imports this module.
    document = LexborHTMLParser("")
    return frozenset(document.create_node(name).tag_id for name in names)


class InvalidKeywordRule(ValueError):
    """The keyword rule cannot be used."""


@dataclass(frozen=True)
class KeywordRuleSpec:
    keyword_set: str
    pattern: str
    kind: str  # "string" | "regex"
    case_sensitive: bool = False
    context_chars: int = 40


@dataclass(frozen=True)
class CompiledRule:
    spec: KeywordRuleSpec
    needle: str  # for "string" rules: the pattern, lower-cased unless case-sensitive
    regex: object | None  # for "regex" rules: the compiled RE2 expression


class KeywordHit(NamedTuple):
    """A rule's (or an ad-hoc keyword's) hits on one page. A named tuple, as http.HttpOutcome: one is
    made per page and rule found, and a frozen dataclass of these fields cost three times as much."""

    keyword_set: str
    keyword: str
    kind: str
    count: int
    contexts: tuple[str, ...]


def _collapse(text: str) -> str:
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


def _parse(html: str) -> LexborHTMLParser:
    return LexborHTMLParser(html, scripting=True)


def _title(tree: LexborHTMLParser) -> str:
    nodes = tree.tags("title")  # in document order
    return _collapse(nodes[0].text(deep=True))[:TITLE_MAX_CHARS] if nodes else ""


def _text(tree: LexborHTMLParser) -> str:
    root = tree.root
    if root is None:
        return ""
    # One walk spaces the blocks and finds the dropped elements; they are unlinked after it (an
    # unlinked element keeps its content, so one inside another is unlinked just as well).
    blocks, removed = _tag_ids(_BLOCKS), _tag_ids(_DROPPED)
    dropped: list[LexborNode] = []
    for node in root.traverse():  # elements (and comments); the spaces inserted here are text nodes
        tag = node.tag_id
        if tag in blocks:
            node.insert_child(" ")
            node.insert_before(" ")
        elif tag in removed:
            dropped.append(node)
    for node in dropped:
        node.decompose(recursive=False)
    return _collapse(root.text(deep=True))


def visible_text(html: str) -> str:
    """The text a browser would render: markup, comments, scripts, styles and title removed."""
    return _text(_parse(html))


def page_text(html: str) -> tuple[str, str]:
    """(extract_title(html), visible_text(html)) from one parse of the markup."""
    tree = _parse(html)
    title = _title(tree)
    return title, _text(tree)


def extract_title(html: str) -> str:
    """The whitespace-collapsed text of the first <title>, at most 500 characters."""
    return _title(_parse(html))


@functools.lru_cache(maxsize=256)
def compile_rule(spec: KeywordRuleSpec) -> CompiledRule:
    """Validate and compile one rule; raise InvalidKeywordRule with a one-line reason.

    Compiled once per process for each distinct rule: every HTTP batch reads its campaign's rules
    again (an edit applies from the next batch on) and would otherwise recompile each regex.
    """
    if spec.kind not in RULE_KINDS:
        raise InvalidKeywordRule(f"unknown keyword rule kind {spec.kind!r} (expected 'string' or 'regex')")
    if not spec.pattern:
        raise InvalidKeywordRule("keyword rule pattern is empty")
    if spec.context_chars < 0:
        raise InvalidKeywordRule(f"context_chars must be >= 0, got {spec.context_chars}")
    if spec.kind == "string":
        needle = spec.pattern if spec.case_sensitive else spec.pattern.lower()
        return CompiledRule(spec=spec, needle=needle, regex=None)
    options = re2.Options()
    options.case_sensitive = spec.case_sensitive
    options.never_capture = True
    try:
        regex = re2.compile(spec.pattern, options)
    except re2.error as exc:
        reason = " ".join(str(exc).split()) or "syntax error"
        raise InvalidKeywordRule(f"invalid regex {spec.pattern!r}: {reason}") from None
    if regex.fullmatch("") is not None:
        raise InvalidKeywordRule(f"regex {spec.pattern!r} matches the empty string, so it would match every page")
    return CompiledRule(spec=spec, needle="", regex=regex)


def _snippets(text: str, spans: Iterable[tuple[int, int]], width: int) -> tuple[str, ...]:
    return tuple([text[max(0, start - width) : end + width] for start, end in spans])


def _find_all(haystack: str, needle: str) -> tuple[int, list[tuple[int, int]]]:
    # The spans are found first; the rest are only counted, and only when there are more than
    # MAX_CONTEXTS: most pages hold a keyword once or not at all, and pay for a single scan.
    spans: list[tuple[int, int]] = []
    start = haystack.find(needle)
    while start >= 0:
        if len(spans) == MAX_CONTEXTS:
            return MAX_CONTEXTS + haystack.count(needle, start), spans
        end = start + len(needle)
        spans.append((start, end))
        start = haystack.find(needle, end)
    return len(spans), spans


def _match_regex(text: str, encoded: bytes, regex: object) -> tuple[int, list[tuple[int, int]]]:
    # RE2 works on UTF-8: matching the encoded bytes once is ~3x faster than handing it str
    # (which re-encodes and maps every offset back); only the few context spans are mapped back.
    # The compiled expression's search is called as google-re2's finditer calls it on bytes (the
    # version pinned in pyproject.toml), without the match object finditer wraps around each
    # result: that wrapping was half the cost of a rule on a page (docs/BENCHMARKS.md).
    search = regex._regexp.Match  # type: ignore[attr-defined]
    count = 0
    spans: list[tuple[int, int]] = []
    pos, end = 0, len(encoded)
    while True:
        start, stop = search(_UNANCHORED, encoded, pos, end)[0]
        if start < 0:
            break
        if start != stop:  # zero-width matches (e.g. r"\b") carry no keyword
            count += 1
            if len(spans) < MAX_CONTEXTS:
                spans.append((start, stop))
        if pos == end:
            break
        pos = pos + 1 if stop == pos else stop  # past an empty match, as finditer steps
    if len(encoded) != len(text):  # non-ASCII: byte offsets differ from str offsets
        spans = [(len(encoded[:s].decode()), len(encoded[:e].decode())) for s, e in spans]
    return count, spans


def _match_casefold(text: str, pattern: str) -> tuple[int, list[tuple[int, int]]]:
    """Case-insensitive substring search for the rare text whose lower() changes length."""
    spans = [match.span() for match in re.finditer(re.escape(pattern), text, re.IGNORECASE)]
    return len(spans), spans[:MAX_CONTEXTS]


def match_keywords(text: str, *, rules: Sequence[CompiledRule], adhoc: Sequence[str]) -> list[KeywordHit]:
    """Hits of the rules, then of the ad-hoc keywords, on `text`; only those found, in order."""
    lowered = text.lower()
    # lower() almost always keeps every index in place, so spans found in it map back to `text`;
    # where it does not (e.g. "İ" becomes two characters) a case-insensitive regex is used instead.
    folded = len(lowered) == len(text)
    encoded: bytes | None = None
    hits: list[KeywordHit] = []
    for rule in rules:
        spec = rule.spec
        if rule.regex is not None:
            if encoded is None:
                encoded = text.encode()
            count, spans = _match_regex(text, encoded, rule.regex)
        elif spec.case_sensitive:
            count, spans = _find_all(text, rule.needle)
        elif folded:
            count, spans = _find_all(lowered, rule.needle)
        else:
            count, spans = _match_casefold(text, spec.pattern)
        if count:
            hits.append(KeywordHit(spec.keyword_set, spec.pattern, spec.kind, count,
                                   _snippets(text, spans, spec.context_chars)))
    seen: set[str] = set()
    for keyword in adhoc:
        keyword = keyword.strip()
        needle = keyword.lower()
        if not keyword or needle in seen:
            continue
        seen.add(needle)
        if folded:
            count, spans = _find_all(lowered, needle)
        else:
            count, spans = _match_casefold(text, keyword)
        if count:
            hits.append(KeywordHit(ADHOC_SET, keyword, "string", count, _snippets(text, spans, ADHOC_CONTEXT_CHARS)))
    return hits
