def test_smoke(pg_conn, pg_schema):
    assert pg_conn.execute("select 1").fetchone() == (1,)
