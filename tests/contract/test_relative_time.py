"""Relative dates: one parser (contract/timeutil.py) behind every --start/--end and every start= of the API."""

from __future__ import annotations

import pytest

from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.contract.timeutil import now_ms, to_ms

DAY = 86_400_000


@pytest.mark.parametrize(("text", "back"), [("30d", 30 * DAY), ("12h", DAY // 2), ("90m", 90 * 60_000),
                                            ("2w", 14 * DAY), ("now", 0), (" 7D ", 7 * DAY)])
def test_a_relative_time_counts_back_from_now_in_utc(text: str, back: int) -> None:
    before = now_ms()
    stamp = to_ms(text)
    assert before - back <= stamp <= now_ms() - back


def test_anything_else_is_still_refused_with_what_to_write() -> None:
    with pytest.raises(InvalidInputError, match="30d, 12h or 2w"):
        to_ms("30 days ago")
