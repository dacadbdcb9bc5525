"""The event loop the network phases run on (uvloop's when it is installed, else asyncio's), and the
garbage collection and open-files limit of a process that runs them for long."""
from __future__ import annotations

import asyncio
import gc
import resource

try:
    import uvloop
except ImportError:  # uvloop is optional (and does not build everywhere); asyncio's loop works the same
    uvloop = None

# Allocations (less deallocations) of container objects between two collections of the youngest
# generation; Python's default is 700. A fetched page or a resolved name allocates dozens of
# short-lived objects (futures, tasks, dataclasses, dicts) that reference counting frees at once;
# at the default the collector ran every few names and its passes cost a third of a page's CPU
# (docs/DECISIONS.md).
YOUNG_COLLECTION_EVERY = 20_000


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A new event loop, uvloop's when it imports."""
    return uvloop.new_event_loop() if uvloop is not None else asyncio.new_event_loop()


def run(coro):  # type: ignore[no-untyped-def]
    """asyncio.run(coro) on a loop from new_event_loop()."""
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        return runner.run(coro)


def collect_less() -> None:
    """Set up the collector for a process that will run batches for long (a worker, a benchmark's process).

    Everything alive now (modules, Django, settings) lives as long as the process: frozen, the
    collector never walks it again. The youngest generation is collected every
    YOUNG_COLLECTION_EVERY allocations instead of 700. Call it once, after start-up.
    """
    gc.collect()
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_EVERY, middle, oldest)


def open_files_to_hard_limit() -> None:
    """Raise the process's soft limit on open files to its hard limit.

    Every fetch in flight holds a socket and a worker keeps an idle connection for each fetcher
    besides (campaigns/http/connections.py): 8 lanes of 100 fetchers need some 1,600 files, above
    the soft limit of 1,024 that systemd and most shells start a process with, and each connect past
    it failed as "Too many open files", that site's error. The hard limit is the operator's
    (systemd's default is 524,288; docs/DEPLOYMENT.md); Go's runtime raises the soft one the same way.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == hard:
        return
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError):  # a platform that caps it below the hard limit (an unlimited one): as it was
        pass
