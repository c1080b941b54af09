"""A bulk run collects cycles less often, and leaves the collector as it found it."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from together_queue.cli.bulk import _BULK_GC_THRESHOLD, _fewer_collections


@pytest.fixture(autouse=True)
def _collector_restored() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.set_threshold(*thresholds)
    gc.unfreeze()


def test_the_collector_runs_less_often_during_the_run_and_as_before_after() -> None:
    gc.set_threshold(700, 10, 10)
    assert gc.get_freeze_count() == 0
    with _fewer_collections():
        assert gc.get_threshold() == (_BULK_GC_THRESHOLD, 10, 10)
        assert gc.get_freeze_count() > 0  # the objects made so far are out of its passes
    assert gc.get_threshold() == (700, 10, 10)
    assert gc.get_freeze_count() == 0


def test_a_higher_threshold_and_objects_the_process_froze_are_left_alone() -> None:
    gc.set_threshold(50_000, 5, 5)
    gc.freeze()
    seen = []

    def interrupted_run() -> None:
        with _fewer_collections():
            seen.append(gc.get_threshold())
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        interrupted_run()
    assert seen == [(50_000, 5, 5)]
    assert gc.get_threshold() == (50_000, 5, 5)
    # Still frozen: the run's own unfreeze would have emptied the permanent generation
    # (which only shrinks as frozen objects are freed).
    assert gc.get_freeze_count() > 0
