"""``/paper``'s content function, called as its refresh callback calls it, on a real SQLite store with a paper
account on GOOG's real daily bars created and stepped through the library."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ui.components import find, table_rows, text_of
from tests.ui.conftest import PAPER_ACCOUNT, PAPER_FIRST_STEP_UNTIL, Site, make_research_site, ui_context
from zvt_crypto.ui.pages import paper


def test_an_account_with_its_equity_book_and_trades(research_site: Site) -> None:
    from zvt_crypto.trader.paper import account_equity, account_status, account_trades

    context = ui_context(research_site)
    status = account_status(context.store, PAPER_ACCOUNT).iloc[0]
    equity = account_equity(PAPER_ACCOUNT, context.store)
    trades = account_trades(PAPER_ACCOUNT, context.store)
    content = paper.paper_content(context, None)  # no account asked: the first
    [row] = table_rows(content, "paper-accounts")
    assert row[:5] == [PAPER_ACCOUNT, "sma_cross", "GOOG/USD nasdaq 1d", f"{status['last_bar'][:10]} 00:00:00",
                       status["lag"]]
    assert status["last_bar"] <= PAPER_FIRST_STEP_UNTIL
    assert row[5:8] == [f"{status['equity']:,.2f}", f"{status['return']:+.2%}", f"{len(trades):,}"]
    assert row[10] == "not triggered"
    figure = find(content, "paper-equity").figure
    assert [(trace.name, len(trace.x)) for trace in figure.data] == [("equity", len(equity)), ("drawdown", len(equity))]
    assert list(figure.data[0].y) == pytest.approx(equity["equity"].tolist())
    assert len(table_rows(content, "paper-trades")) == len(trades) < paper.TRADE_ROWS
    newest = trades.iloc[-1]
    assert table_rows(content, "paper-trades")[0][:2] == [newest["symbol"], newest["side"]]  # newest first
    [position] = table_rows(content, "paper-positions")
    assert position[:2] == ["GOOG/USD", "long"]
    assert "No open order." in text_of(find(content, "paper-open-orders"))
    assert find(content, "paper-lag").children.style["color"] == paper.AMBER  # years behind the clock


def test_a_long_equity_curve_is_thinned_keeping_the_newest_mark(research_site: Site,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from zvt_crypto.trader.paper import account_equity

    context = ui_context(research_site)
    equity = account_equity(PAPER_ACCOUNT, context.store)
    monkeypatch.setattr(paper, "MAX_POINTS", 100)
    figure = find(paper.paper_content(context, PAPER_ACCOUNT), "paper-equity").figure
    step = -(-len(equity) // 100)
    assert len(figure.data[0].x) <= 101 and figure.data[0].x[-1] == equity.index[-1]
    assert f"every {step}th of {len(equity):,} bars" in figure.layout.title.text


def test_a_step_shows_on_the_next_refresh(tmp_path: Path) -> None:
    from zvt_crypto.trader.paper import PaperTrader, account_equity

    site = make_research_site(tmp_path)
    context = ui_context(site)
    first = paper.paper_content(context, PAPER_ACCOUNT)
    before = find(first, "paper-equity").figure.data[0]
    assert "bars not processed yet (up to 2013-03-01 00:00:00)" in text_of(find(first, "paper-backlog"))
    PaperTrader.load(PAPER_ACCOUNT, context.store).step(context.store)
    after = paper.paper_content(context, PAPER_ACCOUNT)
    assert len(find(after, "paper-equity").figure.data[0].x) == len(account_equity(PAPER_ACCOUNT, context.store))
    assert len(find(after, "paper-equity").figure.data[0].x) > len(before.x)
    assert text_of(find(after, "paper-last-bar")) == "2013-03-01 00:00:00"  # GOOG's last bar
    assert text_of(find(after, "paper-backlog")) == "up to date (newest stored bar 2013-03-01 00:00:00)"


def test_an_unknown_account_and_an_empty_store(research_site: Site, empty_site: Site) -> None:
    content = paper.paper_content(ui_context(research_site), "nobody")
    assert "No paper account named 'nobody' in this store." in text_of(find(content, "paper-unknown"))
    assert len(table_rows(content, "paper-accounts")) == 1
    empty = paper.paper_content(ui_context(empty_site), None)
    assert (f"zvt-crypto --config {empty_site.config_file} --home {empty_site.home} paper create btc-sma "
            "--strategy sma_cross") in text_of(find(empty, "paper-none"))
