from zvt_crypto.domain import Bar


def test_smoke(store, bars):
    r = store.write(Bar, bars())
    assert r.changed == 24
    df = Bar.query_data(store=store, level="1h")
    assert len(df) == 24
