"""The first experience: after ``zvt-crypto demo`` into a fresh home every page of the dashboard has something to
show (the pages' content functions on the demo's store, as their callbacks call them), and the demo ends with the
one command that opens the dashboard on that store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.clirun import run_cli
from tests.ui.components import find, table_rows, text_of

pytestmark = pytest.mark.slow  # the demo records a week of 1m bars from the simulated Binance (~10 s)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str, Any]]:
    from zvt_crypto.contract.config import load_config
    from zvt_crypto.contract.store import Store
    from zvt_crypto.ui.context import UiContext
    from zvt_crypto.ui.settings import ServeSettings

    home = tmp_path_factory.mktemp("demo-pages")
    ran = run_cli("demo", home=home)
    assert ran.returncode == 0, ran.stderr
    config = load_config(env={"ZVT_CRYPTO_HOME": str(home)})
    context = UiContext(config=config, store=Store(config), settings=ServeSettings())
    try:
        yield home, ran.stdout, context
    finally:
        context.store.dispose()


def test_the_demo_ends_with_the_command_that_opens_the_dashboard(demo: tuple[Path, str, Any]) -> None:
    home, out, _context = demo
    assert out.rstrip().splitlines()[-1] == (f"see it in the dashboard: zvt-crypto --home {home} serve   "
                                             "(then open http://127.0.0.1:8050/ ; Ctrl-C stops it)")
    assert "rsi:1h:window=14: 3 entities, 503 rows computed, 503 written" in out
    assert "paper account demo-sma: 120 new bars to 2024-01-07T23:00:00Z" in out
    again = run_cli("demo", home=home).stdout  # a second demo adds nothing
    assert "rsi:1h:window=14: 3 entities, 0 rows computed, 0 written" in again
    assert "already stored as run" in again and "paper account demo-sma: no new bars" in again


def test_every_page_has_something_to_show_after_the_demo(demo: tuple[Path, str, Any]) -> None:
    from zvt_crypto.factors.catalog import factor_values
    from zvt_crypto.trader.storage import list_runs
    from zvt_crypto.ui.pages import factors, jobs, overview, paper

    _home, _out, context = demo
    assert "overview-empty-store" not in str(overview.overview_content(context))
    assert len(table_rows(overview.overview_content(context), "overview-newest")) >= 2

    page = factors.layout(context)
    assert [row[0] for row in table_rows(page, "factors-catalog")] == [
        "macd:1h:fast=12,signal=9,slow=26", "roc:1h:window=10", "rsi:1h:window=14"]
    factor_id = find(page, "factors-factor").value
    _options, entities, _outputs, output = factors.factor_choices(context, factor_id, None, None)
    values = factors.values_content(context, factor_id, entities, output, None, None)
    stored = factor_values(factor_id, store=context.store)[output].dropna().groupby(level="entity_id").size()
    assert len(entities) == 3 and stored.min() > 100
    assert [len(trace.x) for trace in find(values, "factors-values").figure.data] == [stored[e] for e in entities]
    sheet = factors.tear_sheet_content(context, factor_id, entities, output, None, None, factors.TearSheetCache())
    assert len(table_rows(sheet, "factors-ic-summary")) == 3

    content = paper.paper_content(context, None)
    assert [row[0] for row in table_rows(content, "paper-accounts")] == ["demo-sma"]
    assert len(find(content, "paper-equity").figure.data[0].x) == 120
    assert len(table_rows(content, "paper-trades")) == 2

    assert len(list_runs(context.store)) == 1  # what /backtests lists

    from zvt_crypto.schedule.status import jobs_report

    content = jobs.jobs_content(jobs_report(context.store, context.config, 50), None)
    assert "No scheduler running" in text_of(content)  # a state, not an error
    history = table_rows(content, "jobs-history")  # the demo's job, run once by the scheduler's job runner
    assert history and {(row[1], row[2], row[3]) for row in history} == {("demo-spot-1d", "demo", "ok")}
    assert all(int(row[6]) >= 1 for row in history)  # it asked the simulated venue
