"""The event loop the network phases run on: uvloop's when it is installed, else asyncio's."""
from __future__ import annotations

import asyncio

try:
    import uvloop
except ImportError:  # uvloop is optional (and does not build everywhere); asyncio's loop works the same
    uvloop = None


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A new event loop, uvloop's when it imports."""
    return uvloop.new_event_loop() if uvloop is not None else asyncio.new_event_loop()


def run(coro):  # type: ignore[no-untyped-def]
    """asyncio.run(coro) on a loop from new_event_loop()."""
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        return runner.run(coro)
