"""backoffice.collector: the one "pause the cyclic GC" helper of the runner and the bots."""

from __future__ import annotations

import gc

import pytest

from backoffice.collector import collector_paused


@pytest.mark.parametrize("promote", [False, True])
@pytest.mark.parametrize("was_on", [True, False])
def test_the_collector_is_paused_inside_and_left_as_it_was_found(was_on: bool, promote: bool) -> None:
    (gc.enable if was_on else gc.disable)()
    try:
        with collector_paused(promote=promote):
            assert not gc.isenabled()
        assert gc.isenabled() is was_on
        with pytest.raises(RuntimeError), collector_paused(promote=promote):
            raise RuntimeError("boom")
        assert gc.isenabled() is was_on
        assert gc.get_freeze_count() == 0  # promoted objects are not left frozen
    finally:
        gc.enable()


def test_promote_leaves_objects_the_process_froze_itself_frozen() -> None:
    kept = [object() for _ in range(10)]
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with collector_paused(promote=True):
            more = [[] for _ in range(10)]
        assert gc.get_freeze_count() == frozen and kept and more
    finally:
        gc.unfreeze()
