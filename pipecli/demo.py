"""A realistic demo pipeline: nine months of leads moving through stages, won, lost and still open.

Deterministic (seeded), so the demo and the tests that use it always hold the same history.
"""

from __future__ import annotations

import datetime as _dt
import random
from typing import TYPE_CHECKING

from sqlalchemy import text

from pipecli import clock, leads, pipelines
from pipecli.errors import PipecliError
from pipecli.leads import log_activity
from pipecli.nextsteps import set_follow_up

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

FIRST = [
    "Anna",
    "Marco",
    "Giulia",
    "Luca",
    "Sofia",
    "Paolo",
    "Elena",
    "Davide",
    "Chiara",
    "Matteo",
    "Laura",
    "Omar",
    "Hannah",
    "Jonas",
    "Priya",
    "Wei",
    "Lucía",
    "Tom",
    "Fatima",
    "Noah",
]
LAST = [
    "Rossi",
    "Bianchi",
    "Ferrari",
    "Müller",
    "Schmidt",
    "Garcia",
    "Kumar",
    "Chen",
    "Dubois",
    "Novak",
    "Smith",
    "Jones",
    "Costa",
    "Silva",
    "Kowalski",
    "Nakamura",
]
COMPANIES = ["Srl", "GmbH", "SA", "Ltd", "BV", "Oy"]
SOURCES = [("referral", 3), ("web", 4), ("event", 2), ("outbound", 3), ("partner", 1)]
OWNERS = ["marco", "giulia", "tom"]
TOUCHES = ["call", "email", "email_opened", "reply", "meeting", "demo", "quote"]


DEMO_MARK = "demo_built_at"  # meta key: this database was built by `pipecli demo` (when)


def ensure(conn: Connection, leads_count: int = 80) -> bool:
    """Build the demo into an empty database and mark it as the demo's (return True), or leave an
    earlier demo as it is (return False); refuse a database holding other data, so `demo --into` a real
    pipeline neither adds invented deals to it nor shows it as if it were the demo."""
    if not has_leads(conn):
        build(conn, leads_count)
        conn.execute(text("DELETE FROM meta WHERE key = :k"), {"k": DEMO_MARK})
        conn.execute(text("INSERT INTO meta (key, value) VALUES (:k, :v)"), {"k": DEMO_MARK, "v": str(clock.now_ts())})
        return True
    marked = conn.execute(text("SELECT 1 FROM meta WHERE key = :k"), {"k": DEMO_MARK}).first() is not None
    # a demo built before the mark existed: every lead has an invented example.com address
    foreign = conn.execute(
        text("SELECT 1 FROM lead WHERE email IS NULL OR email NOT LIKE '%@example.com' LIMIT 1")
    ).first()
    if not marked and foreign is not None:
        count = conn.execute(text("SELECT COUNT(*) FROM lead")).scalar_one()
        raise PipecliError(
            f"this database holds {count} lead{'s' * (count != 1)} that are not the demo's; the demo builds only "
            "into an empty database or its own (choose another --into)"
        )
    return False


def has_leads(conn: Connection) -> bool:
    """Return True when the database holds at least one lead."""
    return conn.execute(text("SELECT 1 FROM lead LIMIT 1")).first() is not None


def build(conn: Connection, leads_count: int = 80, days: int = 270, seed: int = 7) -> int:
    """Fill an empty database's default pipeline with `leads_count` leads and their history over the
    last `days` days; return how many leads were added. Refuses a database that already has leads."""
    if has_leads(conn):
        raise PipecliError("this database already has leads; the demo builds only into an empty one (use --db)")
    rng = random.Random(seed)
    now = clock.now_ts()
    day = clock.DAY
    stage_names = ["Prospecting", "Contact", "Qualification", "Meeting", "Proposal"]
    for i in range(leads_count):
        created = now - rng.randint(3, days) * day + rng.randint(8, 17) * 3600
        first, last = rng.choice(FIRST), rng.choice(LAST)
        company = f"{last} {rng.choice(COMPANIES)}"
        value = rng.choice([1500, 2500, 4500, 6000, 8000, 12000, 18000, 25000]) * 100
        source = rng.choices([s for s, _ in SOURCES], [w for _, w in SOURCES])[0]
        close_in = rng.randint(10, 120)
        lead_id = leads.add_lead(
            conn,
            f"{first} {last}",
            company=company,
            email=f"{first.lower()}.{last.lower()}{i}@example.com".replace("ü", "u").replace("í", "i"),
            phone=f"+39 02 {rng.randint(1000000, 9999999)}" if rng.random() < 0.8 else None,
            value_minor=value if rng.random() < 0.9 else None,
            source=source,
            owner=rng.choice(OWNERS),
            expected_close=clock.from_ts(created + close_in * day).date() if rng.random() < 0.85 else None,
            at=created,
        )
        t = created
        win_bias = 0.55 if source == "referral" else 0.35
        for position in range(1, len(stage_names)):
            t += rng.randint(2, 20) * day
            if t >= now:
                break
            for _ in range(rng.randint(0, 2)):
                log_activity(conn, lead_id, rng.choice(TOUCHES), None, t - rng.randint(1, 2) * day)
            if rng.random() < 0.25:  # dropped out at this stage
                if rng.random() < 0.6:
                    leads.move_lead(
                        conn, lead_id, "lost", t, rng.choice(["price", "no budget", "went silent", "competitor"])
                    )
                break
            leads.move_lead(conn, lead_id, stage_names[position], t)
        else:
            t += rng.randint(3, 25) * day
            if t < now:
                outcome = "won" if rng.random() < win_bias + 0.3 else "lost"
                leads.move_lead(conn, lead_id, outcome, t, None if outcome == "won" else "competitor")
    _this_week(conn, rng, now)
    return leads_count


# stage -> the activity kinds that say a lead there is ready for the next stage
TRIGGERS = {"Contact": "reply", "Qualification": "demo_request", "Meeting": "quote_request"}
NEXT_STEPS = ["call back", "send proposal", "book a demo", "follow up on quote", "check budget"]


def _this_week(conn: Connection, rng: random.Random, now: int) -> None:
    """Give the recent open deals what a seller's week holds, so `today` and `next` have something to
    show: stage triggers, fresh replies and requests, and follow-ups due around today."""
    for stage, kinds in TRIGGERS.items():
        pipelines.configure_stage(conn, None, stage, triggers=kinds)
    recent = conn.execute(
        text(
            "SELECT l.id, s.name FROM lead l JOIN stage s ON s.id = l.stage_id "
            "WHERE l.status = 'open' AND l.last_event_at > :since ORDER BY l.id"
        ),
        {"since": now - 45 * clock.DAY},
    ).all()
    today = clock.today()
    for lead_id, stage in recent:
        roll = rng.random()
        if roll < 0.5 and stage in TRIGGERS:
            log_activity(conn, lead_id, TRIGGERS[stage], None, now - rng.randint(1, 72) * 3600)
        if roll < 0.35:
            log_activity(conn, lead_id, rng.choice(["reply", "meeting", "demo"]), None, now - rng.randint(1, 96) * 3600)
        if rng.random() < 0.6:
            due = today + _dt.timedelta(days=rng.randint(-3, 6))
            set_follow_up(conn, lead_id, due, rng.choice(NEXT_STEPS))
