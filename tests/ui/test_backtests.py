"""The /backtests page's content functions, called as its callbacks call them, over real SQLite stores holding
runs made through the library (no browser)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.ui.components import find, text_of
from tests.ui.conftest import Site, make_site, ui_context
from zvt_crypto.domain import Bar
from zvt_crypto.trader.storage import list_runs, load_run
from zvt_crypto.ui.pages import backtests as bt

Runs = tuple[Site, list[str]]


def figure_of(content: Any, graph_id: str) -> Any:
    return find(content, graph_id).figure


def traces(content: Any, graph_id: str) -> dict[str, Any]:
    return {trace.name: trace for trace in figure_of(content, graph_id).data}


@pytest.mark.parametrize(("seconds", "text"), [(45, "45s"), (725, "12m 5s"), (86_008.7, "23h 53m"),
                                               (4_510_000, "52d 4h"), (86_400, "1d"), (0, "0s"), (None, "—")])
def test_durations_read_as_a_person_writes_them(seconds: float | None, text: str) -> None:
    assert bt.duration(seconds) == text


def test_numbers_have_separators_and_never_an_exponent() -> None:
    assert bt.percent(4.461123) == "446.11 %" and bt.percent(float("nan")) == "—"
    assert bt.money(12_345.678) == "12,345.68" and bt.money(None) == "—"
    assert bt.count(12_000.0) == "12,000"
    assert [bt.size(value) for value in (53.620364, 0.00012345, 1.5e-7, 12_345.678, 2.0)] == [
        "53.6204", "0.00012345", "0.00000015", "12,345.7", "2"]


def test_the_list_holds_every_run_with_its_headline_metrics_as_numbers(runs_site: Runs) -> None:
    site, ids = runs_site
    content = bt.runs_content(ui_context(site))
    table = find(content, "bt-runs")
    rows = {row["id"]: row for row in table.data}
    assert set(rows) == set(ids)
    stored = list_runs(site.store()).set_index("run_id")
    for run_id, row in rows.items():
        for key in ("total_return", "sharpe", "max_drawdown", "n_trades"):
            assert row[key] == pytest.approx(stored.loc[run_id, key])  # numbers: the table sorts them as numbers
        assert row["link"].endswith(f"(/backtests?run={run_id})")
    assert table.sort_action == "native" and table.filter_action == "native" and table.row_selectable == "multi"
    assert {row["symbols"]: row["range"] for row in rows.values()} == {
        "GOOG/USD": "2004-08-19 → 2013-03-01", "EUR/USD": "2017-04-19 09:00 → 2018-02-07 15:00"}  # the CSVs' ends


def test_an_empty_store_says_how_to_store_a_run(empty_site: Site) -> None:
    text = text_of(bt.runs_content(ui_context(empty_site)))
    assert "No backtest stored yet" in text
    prefix = f"zvt-crypto --config {empty_site.config_file} --home {empty_site.home}"
    assert f"{prefix} backtest --strategy sma_cross --exchange binance --symbol BTC/USDT --level 1h" in text


def test_compare_link_needs_two_runs() -> None:
    assert bt.compare_link([]) == ("/backtests", "button disabled", "tick two or more runs")
    assert bt.compare_link(["a"])[2] == "tick one more run"
    assert bt.compare_link(["a", "b"]) == ("/backtests?compare=a%2Cb", "button", "2 runs ticked")


def test_a_runs_page_banner_equals_the_stored_metrics(runs_site: Runs) -> None:
    site, ids = runs_site
    for run_id in ids:
        content = bt.run_content(ui_context(site), run_id, None)
        metrics = load_run(run_id, site.store()).metrics
        banner = {key: text_of(find(content, f"bt-metric-{key}")) for key in (
            "final-equity", "total-return", "net-profit", "fees-paid", "sharpe", "max-drawdown", "n-trades",
            "win-rate")}
        assert banner == {
            "final-equity": f"{metrics['final_equity']:,.2f}",
            "total-return": f"{metrics['total_return'] * 100:,.2f} %",
            "net-profit": f"{metrics['final_equity'] - 10_000:,.2f}", "fees-paid": f"{metrics['fees_paid']:,.2f}",
            "sharpe": f"{metrics['sharpe']:,.2f}", "max-drawdown": f"{metrics['max_drawdown'] * 100:,.2f} %",
            "n-trades": f"{metrics['n_trades']:,}", "win-rate": f"{metrics['win_rate'] * 100:,.2f} %"}
        assert "e+" not in text_of(find(content, "bt-banner"))


def test_a_runs_charts_are_thinned_and_mark_every_trade(runs_site: Runs) -> None:
    site, ids = runs_site
    eurusd = ids[1]  # 5,000 hourly bars: more than a chart's budget
    result = load_run(eurusd, site.store())
    content = bt.run_content(ui_context(site), eurusd, None)
    equity = traces(content, "bt-equity")
    assert set(equity) == {"equity", "buy and hold"}
    assert len(equity["equity"].x) <= bt.CHART_BUDGET < len(result.equity)
    drawdown = traces(content, "bt-drawdown")["drawdown"]
    assert min(drawdown.y) == pytest.approx(result.equity["drawdown"].min() * 100)  # the trough, in %
    assert figure_of(content, "bt-drawdown").layout.yaxis.ticksuffix == " %"
    price = traces(content, "bt-price")
    assert len(price["close"].x) <= bt.CHART_BUDGET
    entries = sum(len(trace.x) for name, trace in price.items() if name.endswith("entry"))
    exits = sum(len(trace.x) for name, trace in price.items() if name.endswith("exit"))
    assert entries == len(result.trades) + len(result.open_trades) and exits == len(result.trades)
    first = result.trades.iloc[0]
    entry = price[f"{first['side']} entry"]
    assert pd.Timestamp(entry.x[0], unit="ms", tz="UTC") == first["entry_time"] and entry.y[0] == first["entry_price"]
    assert list(entry.customdata[0]) == pytest.approx([first["size"], first["pnl"], first["return"], first["fees"],
                                                       first["funding"]])
    tip = entry.hovertemplate  # plotly fills it in the browser from customdata
    assert tip.startswith(f"<b>{first['side']} entry</b>")
    for part in ("size %{customdata[0]", "price %{y", "P&L %{customdata[1]", "fees %{customdata[3]"):
        assert part in tip
    assert len(find(content, "bt-trades").data) == len(result.trades) + len(result.open_trades)
    assert f"Trades ({len(result.trades):,} closed" in text_of(content)
    fills = find(content, "bt-fills").data
    assert len(fills) == 2 * len(result.trades) + len(result.open_trades)
    assert "No funding paid or received" in text_of(find(content, "bt-funding"))


def test_a_multi_symbol_run_has_a_picker_that_switches_the_price_chart(tmp_path: Path,
                                                                       bars: Callable[..., pd.DataFrame]) -> None:
    from zvt_crypto.trader import load_market_data, run_backtest
    from zvt_crypto.trader.storage import save_run

    site = make_site(tmp_path, filled=False)
    store = site.store()
    store.write(Bar, bars("pair_binance_BTC-USDT", n=300, seed=3))
    store.write(Bar, bars("pair_binance_ETH-USDT", n=300, seed=4))
    data = load_market_data(exchange="binance", symbols=["BTC/USDT", "ETH/USDT"], level="1h", store=store)
    run_id = save_run(run_backtest("sma_cross", data, params={"fast": 3, "slow": 10}, fee=0.001), store)
    context = ui_context(site)
    first = bt.run_content(context, run_id, None)
    links = find(first, "bt-symbols").children
    assert [link.children for link in links] == ["BTC/USDT", "ETH/USDT"]
    assert links[1].href == f"/backtests?run={run_id}&symbol=ETH%2FUSDT"
    assert "active" in links[0].className
    second = bt.run_content(context, run_id, "ETH/USDT")
    result = load_run(run_id, store)
    eth = result.trades[result.trades["symbol"] == "ETH/USDT"]
    assert figure_of(second, "bt-price").layout.yaxis.title.text == "ETH/USDT close"
    assert sum(len(trace.x) for name, trace in traces(second, "bt-price").items() if name.endswith("exit")) == len(
        eth)


def test_a_run_whose_bars_are_gone_says_why_and_still_draws_its_equity(runs_site: Runs) -> None:
    site, ids = runs_site
    store = site.store()
    with store.engine.begin() as connection:
        connection.execute(Bar.__table__.delete())
    content = bt.run_content(ui_context(site), ids[0], None)
    assert "No price chart:" in text_of(find(content, "bt-price-missing"))
    assert "GOOG/USD" in text_of(find(content, "bt-price-missing"))
    assert set(traces(content, "bt-equity")) == {"equity"}


def test_compare_overlays_the_runs_from_their_own_start_and_sets_metrics_side_by_side(runs_site: Runs) -> None:
    site, ids = runs_site
    content = bt.compare_content(ui_context(site), ids)
    overlay = figure_of(content, "bt-compare-equity").data
    assert [trace.name.split()[0] for trace in overlay] == ids
    assert all(trace.y[0] == 1.0 for trace in overlay)
    assert "do not overlap" in text_of(find(content, "bt-compare-axis"))  # GOOG 2004-2013, EUR/USD 2017-2018
    assert all(trace.x[0] == 0.0 for trace in overlay)
    rows = {text_of(row.children[0]): [text_of(cell) for cell in row.children[1:]]
            for row in find(content, "bt-compare-table").children.children[1].children}
    metrics = [load_run(run_id, site.store()).metrics for run_id in ids]
    assert rows["total return"] == [f"{m['total_return'] * 100:,.2f} %" for m in metrics]
    assert rows["trades"] == [str(m["n_trades"]) for m in metrics]
    assert rows["symbols"] == ["GOOG/USD", "EUR/USD"]


def test_compare_with_one_run_says_what_it_needs(runs_site: Runs) -> None:
    site, ids = runs_site
    content = bt.backtests_content(ui_context(site), {"compare": ids[0]})
    assert "Compare needs two or more runs" in text_of(content)


def test_an_unknown_run_names_the_latest_ones(runs_site: Runs) -> None:
    from zvt_crypto.contract.errors import InvalidInputError

    site, ids = runs_site
    with pytest.raises(InvalidInputError, match=f"no backtest run 'nope'; the latest are: .*{ids[0]}"):
        bt.run_content(ui_context(site), "nope", None)
    for query in ({"run": "nope"}, {"compare": f"{ids[0]},nope"}):  # a stale link: a note, not a traceback
        text = text_of(find(bt.backtests_content(ui_context(site), query), "bt-not-found"))
        assert "no backtest run 'nope'; the latest are:" in text and ids[1] in text


def test_a_rerun_lands_a_new_run_and_links_to_it(runs_site: Runs) -> None:
    site, ids = runs_site
    steps: list[str] = []
    content = bt.rerun_content(ui_context(site), ids[0], steps.append)
    link = find(content, "bt-rerun-link")
    runs = list_runs(site.store())
    assert len(runs) == 3 and link.children in set(runs["run_id"]) - set(ids)
    assert link.href == f"/backtests?run={link.children}"
    assert "same data, so the same metrics" in text_of(content)
    assert steps == [f"re-running {ids[0]} on the stored bars", "storing the new run", f"stored as {link.children}"]


def test_a_long_run_sends_the_latest_trades_and_says_how_to_get_all(runs_site: Runs,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    site, ids = runs_site
    monkeypatch.setattr(bt, "TABLE_ROWS", 50)
    monkeypatch.setattr(bt, "MAX_MARKERS", 100)
    result = load_run(ids[1], site.store())  # 141 trades
    content = bt.run_content(ui_context(site), ids[1], None)
    table = find(content, "bt-trades").data
    assert len(table) == 50 and table[0]["no"] == len(result.trades) - 49 and table[-1]["no"] == len(result.trades)
    assert table[-1]["entry"] == f"{result.trades['entry_time'].iloc[-1]:%Y-%m-%d %H:%M:%S}"
    capped = text_of(find(content, "bt-trades-capped"))
    assert f"latest 50 of {len(result.trades)} trades" in capped and f"runs show {ids[1]} --out run.json" in capped
    entries = sum(len(trace.x) for trace in figure_of(content, "bt-price").data if trace.name.endswith("entry"))
    assert entries == 100
    assert f"latest 100 of {len(result.trades)} trades" in text_of(find(content, "bt-markers-capped"))


def test_zoom_reads_the_time_range_of_a_relayout() -> None:
    from dash.exceptions import PreventUpdate

    start, end = pd.Timestamp("2017-06-01 12:00", tz="UTC"), pd.Timestamp("2017-06-20", tz="UTC")
    assert bt.zoom_window({"xaxis.range[0]": "2017-06-01 12:00:00", "xaxis.range[1]": "2017-06-20"}) == (start, end)
    assert bt.zoom_window({"xaxis.range": ["2017-06-20", "2017-06-01 12:00"]}) == (start, end)
    assert bt.zoom_window({"xaxis.range": [start.value / 1e6, end.value / 1e6]}) == (start, end)
    assert bt.zoom_window({"xaxis.autorange": True}) is None
    for relayout in ({"yaxis.range[0]": 1, "yaxis.range[1]": 2}, {"autosize": True}, None):
        with pytest.raises(PreventUpdate):
            bt.zoom_window(relayout)


def test_zooming_in_sends_every_stored_point_of_the_range(runs_site: Runs) -> None:
    site, ids = runs_site
    context = ui_context(site)
    curve = load_run(ids[1], site.store()).equity  # 5,000 hourly points
    start, end = curve.index[1_000], curve.index[1_999]  # 1,000 points: within the budget
    equity, drawdown = bt.zoomed_figures(context, ids[1], {"xaxis.range[0]": f"{start:%Y-%m-%d %H:%M:%S}",
                                                           "xaxis.range[1]": f"{end:%Y-%m-%d %H:%M:%S}"})
    line = next(trace for trace in equity.data if trace.name == "equity")
    assert list(line.x) == list(curve.index[1_000:2_000].as_unit("ms").asi8.astype(float))
    assert list(line.y) == list(curve["equity"].iloc[1_000:2_000])
    assert len(drawdown.data[0].x) == 1_000 and equity.layout.xaxis.range[0].startswith(f"{start:%Y-%m-%d}")
    whole, _ = bt.zoomed_figures(context, ids[1], {"xaxis.autorange": True})
    assert len(whole.data[0].x) <= bt.CHART_BUDGET < len(curve)
    price = bt.zoomed_price(context, ids[1], None, {"xaxis.range": [f"{start}"[:19], f"{end}"[:19]]})
    trades = load_run(ids[1], site.store()).trades
    inside = trades["entry_time"].between(start, end) | trades["exit_time"].between(start, end)
    assert sum(len(trace.x) for trace in price.data if trace.name.endswith("entry")) == inside.sum() > 0
    assert len(price.data[0].x) == 1_000


def test_a_failing_zoom_leaves_the_chart_and_logs_why(caplog: pytest.LogCaptureFixture) -> None:
    from dash.exceptions import PreventUpdate

    @bt.zoom_guard
    def broken() -> None:
        raise RuntimeError("store gone")

    with caplog.at_level("ERROR", logger="zvt_crypto.ui"), pytest.raises(PreventUpdate):
        broken()
    assert "zooming a backtest chart failed" in caplog.text and "store gone" in caplog.text


def test_the_list_says_when_it_holds_only_the_newest_runs(runs_site: Runs, monkeypatch: pytest.MonkeyPatch) -> None:
    site, ids = runs_site
    monkeypatch.setattr(bt, "MAX_RUNS", 1)
    content = bt.runs_content(ui_context(site))
    assert [row["id"] for row in find(content, "bt-runs").data] == [ids[1]]  # the newest
    assert "The latest 1 stored runs" in text_of(content)


def test_a_run_page_loads_plotly_while_the_server_builds_its_charts() -> None:
    from dash import dcc

    def graphs(page: Any) -> list[Any]:
        found, stack = [], [page]
        while stack:
            node = stack.pop()
            found += [node] if isinstance(node, dcc.Graph) else []
            children = getattr(node, "children", None)
            stack += children if isinstance(children, list) else [children] if children is not None else []
        return found

    # the charts come later, in bt-content; a graph in the page itself starts plotly.js's download at once
    assert [graph.id for graph in graphs(bt.layout(run="some-run"))] == ["bt-plotly-early"]
    assert [graph.id for graph in graphs(bt.layout(compare="a,b"))] == ["bt-plotly-early"]
    assert graphs(bt.layout()) == []  # the list of runs draws no chart
