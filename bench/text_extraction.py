"""Benchmark: visible-text extraction, lexbor (campaigns.keywords.page_text) against the regex tokenizer it replaced.

    .venv/bin/python bench/text_extraction.py [--seconds 1.0] [--rounds 3]

Runs both extractors over every page of the equivalence corpus (tests/campaigns/http/text_corpus.py,
decoded with the fetcher's charset rules) and over three larger pages: the HTTP benchmark's ~1.3 KB
page, a 300 KB article page and 1 MB of tiny tags. Each extractor runs each page repeatedly for
--seconds; the best of --rounds rounds gives MB/s of decoded markup (characters counted as bytes).
The C heap is set up as the HTTP phase's analysis pool sets it (campaigns/http/heap.py).
"""
from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.http_fetch import page_html  # noqa: E402
from campaigns.http.charsets import decode_page  # noqa: E402
from campaigns.http.heap import keep_heap_top  # noqa: E402
from campaigns.keywords import page_text  # noqa: E402
from tests.campaigns.http import reference_text  # noqa: E402
from tests.campaigns.http.text_corpus import CORPUS  # noqa: E402

EXTRACTORS: dict[str, Callable[[str], tuple[str, str]]] = {"regex (old)": reference_text.page_text,
                                                           "lexbor (new)": page_text}


def pages() -> dict[str, str]:
    found = {name: decode_page(body, charset, html=True) for name, (body, charset) in CORPUS.items()}
    found["bench page 1.3 KB"] = page_html(3)
    found["articles 300 KB"] = found["articles"] * 5
    found["tiny tags 1 MB"] = "<html><body>" + "<p>bomb</p>" * 95_000
    return found


def rate(extract: Callable[[str], tuple[str, str]], markup: str, seconds: float) -> float:
    """MB/s of `extract` on `markup`, running it for about `seconds`."""
    runs, started = 0, time.perf_counter()
    while True:
        extract(markup)
        runs += 1
        elapsed = time.perf_counter() - started
        if elapsed >= seconds:
            return runs * len(markup) / elapsed / 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    keep_heap_top()  # as the fetcher's analysis pool does before its first page
    corpus = pages()
    names = list(EXTRACTORS)
    print(f"{'page':26} {'KB':>8} " + " ".join(f"{name:>14}" for name in names) + "   new/old")
    totals = dict.fromkeys(names, 0.0)
    for page, markup in corpus.items():
        best = {name: max(rate(extract, markup, args.seconds / args.rounds) for _ in range(args.rounds))
                for name, extract in EXTRACTORS.items()}
        for name in names:
            totals[name] += len(markup) / best[name]  # seconds per MB-weighted pass over the corpus
        print(f"{page:26} {len(markup) / 1000:8.1f} " + " ".join(f"{best[name]:10.1f} MB/s" for name in names)
              + f"   {best[names[1]] / best[names[0]]:6.2f}")
    size = sum(len(markup) for markup in corpus.values())
    print(f"{'whole corpus, one pass':26} {size / 1000:8.1f} "
          + " ".join(f"{size / totals[name]:10.1f} MB/s" for name in names)
          + f"   {totals[names[0]] / totals[names[1]]:6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
