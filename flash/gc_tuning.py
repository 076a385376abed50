"""Keep Python's cyclic garbage collector off the request path.

A Dash app's process holds a large, long-lived heap (Dash, Plotly, pandas, the registered
components and callbacks: ~100,000 tracked objects for a small app). Each request allocates a few
dozen short-lived containers, so under load the collector runs often, and every full collection
walks that whole heap again: with 1,000 concurrent callbacks on one worker this alone added
~100 ms (benchmark W3). At server start Flash therefore freezes the heap that exists by then
(`gc.freeze()`: those objects are still freed by reference counting, just never scanned) and
raises the young-generation threshold so collections run less often.
"""

from __future__ import annotations

import gc

# Allocations (net of deallocations) between young collections; CPython's default is 700 (2,000 on
# 3.13). A few thousand short-lived objects per collection is a few hundred KB at most.
YOUNG_THRESHOLD = 7000


async def tune_collector() -> None:
    """Collect once, freeze what survives, raise the young threshold (never lower it).

    Async so that Quart runs it on the loop at startup rather than in a thread."""
    gc.collect()
    gc.freeze()
    young, *older = gc.get_threshold()
    if young < YOUNG_THRESHOLD:
        gc.set_threshold(YOUNG_THRESHOLD, *older)
