// /data: the URL follows the pickers (a link to share) without reloading the page (replaceState fires no event).
window.dash_clientside = Object.assign({}, window.dash_clientside, {
    zvtData: {
        syncUrl: function (exchange, symbol, level) {
            const query = new URLSearchParams();
            if (exchange) { query.set('exchange', exchange); }
            if (symbol) { query.set('symbol', symbol); }
            if (level) { query.set('level', level); }
            const url = window.location.pathname + (query.toString() ? '?' + query.toString() : '');
            if (window.location.pathname === '/data' && url !== window.location.pathname + window.location.search) {
                window.history.replaceState(window.history.state, '', url);
            }
            return url;
        }
    }
});
