"""`leads.log_many`, the bulk writer `mail sync` logs through: the same rows, ids, lead columns and journal
events as `log_activities` lead by lead, on each backend; a refused value leaves nothing written."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from pipecli.errors import PipecliError
from pipecli.leads import add_lead, log_activities, log_many
from pipecli.pipelines import open_store


def _items(base: int) -> dict[int, list[dict]]:
    # lead 1: a reply and a sent e-mail (its last activity moves to the newest); lead 2: an auto-reply only
    # (no sign of life: its last activity and last event stay); lead 3: one message, no details
    return {
        1: [
            {"kind": "reply", "note": "hi", "at": base + 60, "message_id": "<a@x>", "direction": "in", "subject": "hi"},
            {"kind": "email", "note": "re: hi", "at": base + 120, "message_id": "<b@x>", "direction": "out"},
        ],
        2: [{"kind": "auto_reply", "note": "away", "at": base + 30, "message_id": "<c@x>", "direction": "in"}],
        3: [{"kind": "call", "at": base + 90}],
    }


def _state(store) -> dict[str, list[tuple]]:
    with store.read() as conn:
        return {
            "activity": [tuple(r) for r in conn.execute(text("SELECT * FROM activity ORDER BY id"))],
            "lead": [
                tuple(r)
                for r in conn.execute(text("SELECT id, last_activity_at, last_event_at, score FROM lead ORDER BY id"))
            ],
            "event": [
                tuple(r) for r in conn.execute(text("SELECT id, lead_id, at, field, old, new FROM event ORDER BY id"))
            ],
        }


def _fresh(path):
    store = open_store(path, create=True)
    with store.write() as conn:
        for name in ("Anna", "Bruno", "Carla"):
            add_lead(conn, name, email=f"{name.lower()}@co.example", at=1_790_000_000)
    return store


def test_log_many_writes_what_logging_lead_by_lead_writes(tmp_path, monkeypatch):
    monkeypatch.setenv("PIPECLI_NOW", "2026-12-01T10:00:00Z")
    one, many = _fresh(str(tmp_path / "one.db")), _fresh(str(tmp_path / "many.db"))
    try:
        items = _items(1_790_000_000)
        with one.write() as conn:
            for lead_id, its in items.items():
                log_activities(conn, lead_id, its)
        with many.write() as conn:
            assert log_many(conn, items) == 4
        expected, found = _state(one), _state(many)
        assert found == expected
        # and what that is: four activities, lead 1's last activity the sent e-mail's time, lead 2's unchanged
        assert [r[2] for r in found["activity"]] == ["reply", "email", "auto_reply", "call"]
        assert found["lead"][0][1] == 1_790_000_120 and found["lead"][1][1] is None
        assert [e[3] for e in found["event"] if e[3].startswith("row:activity")] == ["row:activity"] * 4
    finally:
        one.dispose()
        many.dispose()


def test_log_many_matches_on_each_backend_and_a_nul_refused_writes_nothing(db_path):
    store = open_store(db_path)
    try:
        with store.write() as conn:
            for name in ("Anna", "Bruno", "Carla"):
                add_lead(conn, name, at=1_790_000_000)
        before = _state(store)
        bad = _items(1_790_000_000)
        bad[3] = [{"kind": "call", "note": "x\0y", "at": 1_790_000_090}]
        with pytest.raises(PipecliError, match="nothing was changed"), store.write() as conn:
            log_many(conn, bad)
        assert _state(store) == before
        with store.write() as conn:
            assert log_many(conn, _items(1_790_000_000)) == 4
        after = _state(store)
        assert [(r[1], r[2], r[4]) for r in after["activity"]] == [
            (1, "reply", 1_790_000_060),
            (1, "email", 1_790_000_120),
            (2, "auto_reply", 1_790_000_030),
            (3, "call", 1_790_000_090),
        ]
        assert [r[1] for r in after["lead"]] == [1_790_000_120, None, 1_790_000_090]
        with pytest.raises(PipecliError), store.write() as conn:
            log_many(conn, {99: [{"kind": "call", "at": 1_790_000_000}]})  # no such lead: refused as one by one
    finally:
        store.dispose()
