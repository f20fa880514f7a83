"""The cyclic garbage collector paused around a bulk allocation: one helper for the runner and
every bot.

Building hundreds of thousands of small objects that all stay alive (a run's look-ups, a batch's
items, payloads and statement parameters) triggers collector passes that walk them again and
again and free nothing: reference counting frees them, and they hold no cycles. The cost grows
with the input (the passes over the oldest generation get longer), so at scale it is worse than
linear. :func:`collector_paused` pauses the collector for the block and resumes it (if it was on)
on the way out; whatever cyclic garbage the block left is collected then.

``promote=True`` is for objects that live as long as the run (look-ups, indexes): on the way out
they go straight to the collector's oldest generation (``gc.freeze()`` then ``gc.unfreeze()``:
two list moves, no traversal). Left young, the first allocation after the collector resumes
would start a pass over every one of them, and a second one on their way to the oldest
generation. Full collections still look at them as at any long-lived object. Skipped when the
process froze objects itself (``gc.get_freeze_count()``, e.g. ``bot_run`` during a run):
unfreezing would hand those back to the collector.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["collector_paused"]


@contextmanager
def collector_paused(*, promote: bool = False) -> Iterator[None]:
    """The cyclic garbage collector paused for the block (see the module's docstring)."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if promote and gc.get_freeze_count() == 0:
            gc.freeze()
            gc.unfreeze()
        if was_on:
            gc.enable()
