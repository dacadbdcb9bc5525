"""keep_heap_top: freed lexbor documents stay in the process's heap instead of going back to the kernel.

Each measurement runs in a fresh interpreter: the allocator setting is process-wide and lasts for
the life of the process, so the test process (whose analysis pool sets it) cannot measure both.
"""
from __future__ import annotations

import json
import platform
import subprocess
import sys

import pytest
from django.conf import settings

pytestmark = pytest.mark.skipif(
    platform.libc_ver()[0] != "glibc",
    reason=f"keep_heap_top sets a glibc malloc option; this C library is {platform.libc_ver()[0] or 'unknown'}",
)

DOCUMENTS = 500

# Parses and frees DOCUMENTS small pages (about 2 to 30 kB, sizes mixed so that no single size
# happens to fit the heap's free top) and prints the minor page faults the loop took.
MEASURE = f"""
import json, resource, sys
from selectolax.lexbor import LexborHTMLParser
from campaigns.http.heap import keep_heap_top

kept = keep_heap_top() if sys.argv[1] == "keep" else None

def page(items):
    rows = "".join(f"<div class=c{{i}}><p>Widget {{i}} <a href='/p{{i}}'>more</a></p></div>" for i in range(items))
    return f"<html><head><title>Shop</title></head><body>{{rows}}</body></html>"

pages = [page(items) for items in (20, 80, 150, 300)]

def parse_and_free(markup):
    tree = LexborHTMLParser(markup)
    tree.body.text()
    del tree

for markup in pages:  # the interpreter's own first-use allocations are not counted
    parse_and_free(markup)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for n in range({DOCUMENTS}):
    parse_and_free(pages[n % len(pages)])
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
print(json.dumps({{"kept": kept, "faults": faults}}))
"""


def measure(mode: str) -> dict:
    """Run the parse loop in a new interpreter; mode "keep" calls keep_heap_top() first."""
    done = subprocess.run([sys.executable, "-c", MEASURE, mode], cwd=settings.BASE_DIR, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_keep_heap_top_is_accepted_by_glibc():
    assert measure("keep")["kept"] is True


def test_freed_documents_are_reused_from_the_heap_instead_of_faulted_in_again():
    without = measure("default")["faults"]
    kept = measure("keep")["faults"]

    # At glibc's defaults every document's memory is returned on free and faulted in again by the
    # next one: several faults per document. With the top kept, the loop reuses the same pages.
    assert without > 4 * DOCUMENTS, f"only {without} page faults without keep_heap_top: nothing to compare"
    assert kept < without / 4, f"{kept} page faults with keep_heap_top, {without} without"


# An empty document, parsed as the analysis parses (scripting on), right after keep_heap_top():
# its two 324 KiB blocks are above glibc's first mmap threshold, which the pad alone froze there.
EMPTY_DOCUMENTS = """
import resource, sys
from selectolax.lexbor import LexborHTMLParser
from campaigns.http.heap import keep_heap_top

keep_heap_top()
for _ in range(10):
    LexborHTMLParser("", scripting=True)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(1000):
    LexborHTMLParser("", scripting=True)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def test_a_documents_large_blocks_come_from_the_heap_not_from_fresh_mappings():
    done = subprocess.run([sys.executable, "-c", EMPTY_DOCUMENTS], cwd=settings.BASE_DIR, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr

    # Mapped afresh, each document's blocks fault in again: two or more faults per document.
    assert int(done.stdout) < 100, f"{done.stdout.strip()} page faults for 1,000 empty documents"
