"""The progress model: pages expected from the range and the page size, redone after each page."""

from __future__ import annotations

import pytest

from zvt_crypto.contract.progress import PageCount, expected_pages

MINUTE = 60_000


@pytest.mark.parametrize(("since", "until", "step", "rows", "pages"), [
    (0, 7 * 1440 * MINUTE - MINUTE, MINUTE, 1000, 11),  # a week of 1m bars: 10,080 rows
    (0, 999 * MINUTE, MINUTE, 1000, 1),                  # exactly one page
    (0, 1000 * MINUTE, MINUTE, 1000, 2),                 # one row more
    (5, 5, MINUTE, 1000, 1),                             # a single row
    (10, 5, MINUTE, 1000, 0),                            # an empty range
    (0, 365 * 24 * 3_600_000, 8 * 3_600_000, 1000, 2),   # a year of 8h funding: 1,096 rows
])
def test_expected_pages_is_the_range_over_the_page_size(since: int, until: int, step: int, rows: int,
                                                        pages: int) -> None:
    assert expected_pages(since, until, step, rows) == pages


def test_the_estimate_is_redone_after_every_page_and_the_end_settles_it() -> None:
    heard: list[tuple[int, int | None]] = []
    count = PageCount.start(0, 9_999 * MINUTE, MINUTE, 1000, lambda done, expected: heard.append((done, expected)))
    count.fetched(1000 * MINUTE)   # a full page
    count.fetched(6000 * MINUTE)   # a gap skipped: 4 pages left, not 8
    count.fetched(7000 * MINUTE)
    count.finish()                 # the venue had no more
    assert heard == [(0, 10), (1, 10), (2, 6), (3, 6), (3, 3)]


def test_unknown_row_spacing_counts_pages_without_a_total() -> None:
    count = PageCount.start(0, 10**12, None, 1000)
    count.fetched(5)
    assert (count.done, count.expected) == (1, None)
    count.finish()
    assert (count.done, count.expected) == (1, 1)


def test_trials_count_the_best_so_far_in_the_metrics_direction() -> None:
    from zvt_crypto.contract.progress import TrialCount

    higher = TrialCount.of([0, 1, 2], "sharpe", maximize=True)
    lower = TrialCount.of([0, 1, 2], "max_drawdown", maximize=False)
    for count in (higher, lower):
        count.add(0, {"fast": 3}, 0.5)
        count.add(1, {"fast": 5}, float("nan"))  # no value (no trade): never the best
        count.add(2, {"fast": 8}, 0.9)
    assert (higher.done, higher.best, higher.best_params) == (3, 0.9, {"fast": 8})
    assert (lower.best, lower.best_params) == (0.5, {"fast": 3})
    assert higher.status() == "best sharpe 0.9 (fast=8)"


def test_a_walk_forward_counts_the_folds_whose_trials_are_all_done() -> None:
    from zvt_crypto.contract.progress import TrialCount

    keys = [("full", 0), ("full", 1), (0, 0), (0, 1), (1, 0), (1, 1)]
    count = TrialCount.of(keys, "sharpe", maximize=True)
    count.add((0, 0), {"fast": 3}, 9.0)  # a fold's trial: not compared with the trials on all the data
    assert count.status() == "folds 0/2"
    count.add((0, 1), {"fast": 5}, 1.0)
    count.add(("full", 1), {"fast": 5}, 1.5)
    assert count.status() == "folds 1/2 · best sharpe 1.5 (fast=5)" and count.done == 3
