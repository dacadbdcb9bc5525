"""Keep the top of the C heap between page analyses (glibc only; elsewhere nothing changes).

Analysing a page creates a lexbor document and frees it again: some hundred kilobytes of C
allocations. At glibc's defaults the freed top of the heap goes back to the kernel after each
document and is asked for again by the next, three brk() calls and fresh page faults per page,
which made a small page's parse cost about three times its parsing proper (docs/DECISIONS.md).
A pad of PAD_BYTES kept at the top of each heap lets a document's memory come from the process's
own free heap instead. What a process holds grows by at most the pad per heap beyond what its
documents need at once, whatever it fetches.

Blocks up to MMAP_THRESHOLD_BYTES come from the heap too. Even an empty document takes two blocks of
324 KiB; glibc maps blocks above its threshold (128 KiB at first) with mmap() and unmaps them on
free, and it raises the threshold by itself only until an option such as the pad is set. Without a
threshold of our own, whether each document cost two fresh mappings depended on what the process
had freed before the pad was set.
"""
from __future__ import annotations

import ctypes
import ctypes.util

M_TOP_PAD = -2  # mallopt() parameters of glibc's malloc.h
M_MMAP_THRESHOLD = -3
PAD_BYTES = 16 * 1024 * 1024
MMAP_THRESHOLD_BYTES = 4 * 1024 * 1024


def keep_heap_top() -> bool:
    """Ask the C allocator to keep PAD_BYTES at the top of its heaps and to serve blocks up to
    MMAP_THRESHOLD_BYTES from them; False where it cannot be asked."""
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_TOP_PAD, PAD_BYTES)) and bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))
