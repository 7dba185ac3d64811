// /data: the URL follows the pickers (a link to share) without reloading the page (replaceState fires no event).
window.dash_clientside = Object.assign({}, window.dash_clientside, {
    zvtData: {
        syncUrl: function (exchange, symbol, level, factors) {
            const query = new URLSearchParams();
            if (exchange) { query.set('exchange', exchange); }
            if (symbol) { query.set('symbol', symbol); }
            if (level) { query.set('level', level); }
            // One parameter per overlay: a factor id holds commas (macd:1h:fast=12,signal=9,slow=26).
            (factors || []).forEach(factor => query.append('factor', factor));
            const url = window.location.pathname + (query.toString() ? '?' + query.toString() : '');
            if (window.location.pathname === '/data' && url !== window.location.pathname + window.location.search) {
                window.history.replaceState(window.history.state, '', url);
            }
            return url;
        },
        // The range to draw: the chart's zoom (or its reset), or null when a picker names another series. In the
        // browser, because a server callback would race: plotly's late "autosize" relayout superseded a zoom's
        // request and Dash dropped the zoom's answer.
        visibleRange: function (relayout, exchange, symbol, level) {
            const context = window.dash_clientside.callback_context;
            const fromChart = (context.triggered || []).some(t => t.prop_id.startsWith('data-chart.'));
            if (!fromChart) { return null; }
            const zoom = relayout && Object.keys(relayout).some(
                key => /^xaxis\d*\.(range(\[[01]\])?|autorange)$/.test(key));
            return zoom ? relayout : window.dash_clientside.no_update;
        }
    }
});
