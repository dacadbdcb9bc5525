"""From a fetched page (or a failure) to an HttpOutcome: text, title, keywords, storable fields.

`analyse` is CPU work on one page and runs in the analysis pool (see batch.py), never on the event
loop. Every text an outcome carries passes through `storable`: a server controls its bytes, and a
NUL (or a lone surrogate) in any of them would make PostgreSQL refuse the whole batch's write.
"""
from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from campaigns.http.charsets import content_kind, decode_page
from campaigns.http.config import HttpOutcome, HttpPersonaConfig
from campaigns.http.errors import FetchError
from campaigns.keywords import CompiledRule, KeywordHit, match_keywords, page_text

SNIPPET_CHARS = 300
SERVER_MAX_CHARS = 200
ERROR_MAX_CHARS = 1000
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(text: str) -> str:
    """`text` with NUL and lone surrogates (which PostgreSQL text and jsonb refuse) replaced by U+FFFD."""
    if "\x00" not in text:
        if text.isascii():
            return text
        try:
            # Encoding refuses a lone surrogate and nothing else, at a seventh of the cost of a
            # regex pass over the text, which most pages (not ASCII, and clean) would each pay.
            text.encode()
        except UnicodeEncodeError:
            pass
        else:
            return text
    return _UNSTORABLE.sub("\ufffd", text)


@dataclass
class Page:
    """A response that answered the fetch (after redirects), waiting to be analysed."""

    status: int
    headers: dict[str, str]
    body: bytes
    final_url: str
    redirects: int
    domain: str = ""
    attempts: int = 0
    proxy: str = ""
    response_time_ms: int = 0


@dataclass(frozen=True)
class Analysis:
    """What analysing a page needs besides the page, the same for every page of a batch."""

    persona: HttpPersonaConfig
    rules: tuple[CompiledRule, ...]
    adhoc: tuple[str, ...]

    @classmethod
    def of(cls, persona: HttpPersonaConfig, rules: Sequence[CompiledRule], adhoc: Sequence[str]) -> Analysis:
        return cls(persona, tuple(rules), tuple(adhoc))


def analyse_group(pages: Sequence[Page], analysis: Analysis) -> list[HttpOutcome]:
    """analyse() for several pages: a group handed to the analysis pool, or a loop turn's small pages."""
    return [analyse(page, analysis) for page in pages]


def analyse(page: Page, analysis: Analysis) -> HttpOutcome:
    """The outcome of a fetched page: its text, title and keyword hits; an error outcome if that fails."""
    try:
        return _success(page, analysis)
    except Exception as exc:  # one odd page must not fail the batch: it becomes that domain's error
        error = FetchError(f"unexpected {type(exc).__name__} reading the page: {exc}")
        outcome = failure(page.domain, error, attempts=page.attempts, proxy=page.proxy, elapsed_ms=0,
                          persona=analysis.persona.name)
        return outcome._replace(status_code=page.status, final_url=storable(page.final_url),
                                response_time_ms=page.response_time_ms)


def _success(page: Page, analysis: Analysis) -> HttpOutcome:
    persona = analysis.persona
    kind, charset = content_kind(page.headers.get("content-type", ""))
    body = page.body
    title = text = ""
    if kind == "html":
        title, text = page_text(decode_page(body, charset, html=True))
    elif kind == "text":
        text = " ".join(decode_page(body, charset, html=False).split())
    # Cleaned before matching, so keyword contexts (sliced from the text) are storable too.
    text = storable(text)
    allowed = persona.status_allowed(page.status)
    hits: tuple[KeywordHit, ...] = ()
    if allowed:
        hits = tuple(_storable_hit(hit) for hit in match_keywords(text, rules=analysis.rules, adhoc=analysis.adhoc))
        business = "lead_valid" if hits else "http_valid_no_keywords"
    else:
        business = "invalid_http_code"
    return HttpOutcome(
        domain=storable(page.domain),
        status="success" if allowed else "failed",
        business_status=business,
        status_code=page.status,
        final_url=storable(page.final_url),
        redirect_count=page.redirects,
        title=storable(title),
        server=storable(page.headers.get("server", "")[:SERVER_MAX_CHARS]),
        content_length=len(body),
        body_sha256=hashlib.sha256(body).hexdigest(),
        snippet=text[:SNIPPET_CHARS],
        keyword_hits=hits,
        persona=storable(persona.name),
        proxy=storable(page.proxy),
        attempts=page.attempts,
        response_time_ms=page.response_time_ms,
        error="" if allowed else f"HTTP status {page.status} is not allowed",
    )


def _storable_hit(hit: KeywordHit) -> KeywordHit:
    keyword_set, keyword = storable(hit.keyword_set), storable(hit.keyword)
    if keyword_set is hit.keyword_set and keyword is hit.keyword:
        return hit
    return hit._replace(keyword_set=keyword_set, keyword=keyword)


def failure(domain: str, error: FetchError, *, attempts: int, proxy: str, elapsed_ms: int,
            persona: str) -> HttpOutcome:
    """The outcome of a domain that gave no page (its error message may quote server bytes)."""
    return HttpOutcome(
        domain=storable(domain), status="timeout" if error.timeout else "error",
        business_status="invalid_http_response_error", status_code=None, final_url="", redirect_count=0,
        title="", server="", content_length=0, body_sha256="", snippet="", keyword_hits=(),
        persona=storable(persona), proxy=storable(proxy), attempts=attempts,
        response_time_ms=elapsed_ms, error=storable(str(error)[:ERROR_MAX_CHARS]),
    )
