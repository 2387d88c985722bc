"""`pipecli.store.sql`: the SQL text helpers, run on a real database of each backend (a few leads of a
few owners), checked against the rows worked out in the test."""

from __future__ import annotations

from sqlalchemy import text

from pipecli.leads import add_lead
from pipecli.pipelines import open_store
from pipecli.store.sql import case, execute_in, fetch_rows


def _store_with_leads(db_path, owners):
    """Return a store whose leads, added in order, are named lead-1, lead-2, ... with the given owners."""
    store = open_store(db_path)
    with store.write() as conn:
        for i, owner in enumerate(owners, start=1):
            add_lead(conn, f"lead-{i}", owner=owner)
    return store


def test_case_maps_each_key_through_bound_parameters(db_path):
    store = _store_with_leads(db_path, ["anna", "bob", "carla", None])
    try:
        expr, params = case("owner", {"anna": 10, "bob": 20, "it's; DROP": 99}, "o", default="0")
        assert "anna" not in expr and "DROP" not in expr  # keys and values are bound, never written into SQL
        assert len(params) == 6 and expr.startswith("CASE owner WHEN :ok0 THEN :ov0")
        with store.read() as conn:
            rows = conn.execute(text(f"SELECT name, {expr} FROM lead ORDER BY id"), params).all()
        # anna -> 10, bob -> 20, carla and the lead without an owner -> the default 0
        assert [tuple(r) for r in rows] == [("lead-1", 10), ("lead-2", 20), ("lead-3", 0), ("lead-4", 0)]
    finally:
        store.dispose()


def test_case_of_nothing_is_its_default():
    assert case("owner", {}, "o") == ("NULL", {})
    assert case("owner", {}, "o", default="'x'") == ("'x'", {})


def test_execute_in_binds_a_list_and_fetch_rows_reads_plain_tuples(db_path):
    store = _store_with_leads(db_path, ["anna", "bob", "carla", "anna"])
    try:
        with store.read() as conn:
            named = execute_in(
                conn,
                "SELECT name FROM lead WHERE owner IN :owners AND id > :after ORDER BY id",
                owners=["anna", "carla"],
                after=1,
            ).all()
            # owners anna (ids 1, 4) and carla (id 3), after id 1: lead-3, lead-4
            assert [r[0] for r in named] == ["lead-3", "lead-4"]
            rows = fetch_rows(conn, "SELECT owner, COUNT(*) FROM lead GROUP BY owner ORDER BY owner", {})
        assert rows == [("anna", 2), ("bob", 1), ("carla", 1)]
        assert all(type(r) is tuple for r in rows)
    finally:
        store.dispose()
