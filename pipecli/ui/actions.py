"""Every change the board makes, each the core function the equivalent command calls, in one transaction
with its own journal entry (so `undo` in the app or on the command line reverts exactly one action).

Each returns the one line the status bar shows; a failure raises PipecliError with its own one line, and the
transaction it ran in is rolled back, so the database is as it was. Each write runs through `Store.write(work)`,
as the commands' do: on PostgreSQL a transaction the server aborts for a concurrent one (serialisation failure,
deadlock) runs again from the start, and only when every attempt collided does the status bar show its line.
"""

from __future__ import annotations

import datetime as _dt
import shlex
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from pipecli import clock, leads, money, nextsteps, pipelines
from pipecli import undo as undoing
from pipecli.errors import PipecliError
from pipecli.history import SHOWN_AS
from pipecli.reports import clean, clean_actions
from pipecli.store.db import Store, translate_error
from pipecli.store.journal import Invocation, Journal

# The form fields of `a` and `e`, as add-lead's options name them.
LEAD_FIELDS = ("name", "company", "email", "phone", "value", "source", "owner", "expected_close")
T = TypeVar("T")


class Session:
    """The app's database and who acts in it."""

    def __init__(self, store: Store, currency: str, actor: str | None = None):
        self.store = store
        self.currency = currency
        self.actor = actor
        self.keeper: sqlite3.Connection | None = None

    def hold(self) -> None:
        """On SQLite, keep one idle connection to the file while the app runs. A transaction whose close
        is the file's last connection checkpoints the WAL into the file (fsync and all: half of a move's
        time); with this one open, the app's short transactions never are, and SQLite checkpoints as the
        WAL grows. It holds no transaction, so it blocks no writer and no checkpoint."""
        if self.store.is_sqlite and self.keeper is None:
            self.keeper = sqlite3.connect(self.store.target)
            self.keeper.execute("SELECT 1 FROM meta LIMIT 1").fetchall()  # a first read opens the WAL index

    def release(self) -> None:
        """Close the connection `hold` opened (the last close checkpoints the WAL, as any command's does)."""
        if self.keeper is not None:
            self.keeper.close()
            self.keeper = None

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """Yield a read connection; a driver failure becomes one PipecliError line."""
        try:
            with self.store.read() as conn:
                yield conn
        except DBAPIError as exc:
            raise translate_error(exc, self.store.target) from None

    def write(self, work: Callable[[Connection], T], *command: object) -> T:
        """Return `work(conn)` run in one write transaction journalled as the command line `command` would be
        (`pipecli ui: move 12 won`), run again when PostgreSQL aborts it for a concurrent write
        (`Store.write(work)`): `work` only writes through `conn`."""
        line = " ".join(shlex.quote(str(a)) for a in command)
        self.store.journal = Journal(Invocation.current(f"pipecli ui: {line}", self.actor))
        try:
            return self.store.write(work)
        except DBAPIError as exc:
            raise translate_error(exc, self.store.target) from None

    # --- values as the commands parse them ---------------------------------------------------------

    def amount(self, value: str | None, what: str = "value") -> int | None:
        """Return a typed amount in minor units (None when empty), as `--value` reads it."""
        if value is None or not value.strip():
            return None
        try:
            return money.parse_amount(value, self.currency)
        except PipecliError as exc:
            raise PipecliError(f"{what}: {exc}") from None

    @staticmethod
    def day(value: str | None, what: str) -> _dt.date | None:
        """Return a typed date (None when empty), as a date option reads it."""
        if value is None or not value.strip():
            return None
        return clock.parse_date(value, what)

    # --- the writes --------------------------------------------------------------------------------

    def move(self, lead_id: int, stage: str, reason: str | None = None, value: str | None = None) -> str:
        """Move a deal to `stage` (`leads.move_lead`); closing as won with a value sets it first."""
        amount = self.amount(value) if value is not None and value.strip() else None

        def work(conn: Connection) -> leads.Move:
            if amount is not None:
                leads.edit_lead(conn, lead_id, {"value_minor": amount})
            return leads.move_lead(conn, lead_id, stage, None, (reason or "").strip() or None)

        moved = self.write(work, "move", lead_id, stage)
        return f"lead {lead_id}: {moved.from_stage} → {moved.to_stage}"

    def resolve_stage(self, pipeline_id: int, typed: str) -> dict[str, Any]:
        """Return the stage `typed` names: an open stage's number on the board (1 = first), or a name."""
        with self.read() as conn:
            if typed.strip().isdigit():
                open_stages = pipelines.stages(conn, pipeline_id, outcomes=False)
                n = int(typed)
                if not 1 <= n <= len(open_stages):
                    raise PipecliError(f"no stage number {n}: this pipeline has {len(open_stages)} open stages")
                return open_stages[n - 1]
            return pipelines.find_stage(conn, pipeline_id, typed.strip())

    def step(self, lead_id: int, pipeline_id: int, delta: int) -> str:
        """Move a deal one open stage back (-1) or forward (+1); forward from the last is refused (use m)."""
        with self.read() as conn:
            open_stages = pipelines.stages(conn, pipeline_id, outcomes=False)
            current = leads.get_lead(conn, lead_id)["stage_id"]
        ids = [s["id"] for s in open_stages]
        at = ids.index(current) + delta
        if not 0 <= at < len(ids):
            raise PipecliError("no open stage that way: press m to close the deal as won or lost")
        return self.move(lead_id, open_stages[at]["name"])

    def add(self, form: dict[str, str], pipeline: str) -> tuple[int, str]:
        """Add a lead from the `a` form (`leads.add_lead`, add-lead's checks); return its id and the line."""
        value_minor = self.amount(form.get("value"))
        expected_close = self.day(form.get("expected_close"), "expected close")
        lead_id = self.write(
            lambda conn: leads.add_lead(
                conn,
                form.get("name", ""),
                company=form.get("company"),
                email=form.get("email"),
                phone=form.get("phone"),
                value_minor=value_minor,
                source=form.get("source"),
                owner=form.get("owner"),
                expected_close=expected_close,
                pipeline=pipeline,
            ),
            "add-lead",
            form.get("name", ""),
        )
        return lead_id, f"added lead {lead_id} ({form.get('name', '').strip()})"

    def edit(self, lead_id: int, form: dict[str, str], before: dict[str, str]) -> str:
        """Write the `e` form's changed fields (`leads.edit_lead`; an emptied field is cleared)."""
        changes: dict[str, Any] = {}
        for key, value in form.items():
            if value == before.get(key, ""):
                continue
            if key == "value":
                changes["value_minor"] = self.amount(value)
            elif key == "expected_close":
                changes["expected_close"] = self.day(value, "expected close")
            else:
                changes[key] = value
        if not changes:
            raise PipecliError("nothing changed")
        self.write(lambda conn: leads.edit_lead(conn, lead_id, changes), "edit", lead_id, *sorted(changes))
        return f"lead {lead_id} updated: {', '.join(sorted(SHOWN_AS.get(c, c) for c in changes))}"  # as people say it

    def log(self, lead_id: int, kind: str, note: str | None, next_spec: str | None) -> str:
        """Log an activity, and the follow-up when given (`nextsteps.log_with_next`, as `log --next`)."""
        self.write(
            lambda conn: nextsteps.log_with_next(
                conn, lead_id, kind.strip(), (note or "").strip() or None, None, next_spec or None
            ),
            "log",
            lead_id,
            kind,
        )
        return f"logged {kind.strip()} on lead {lead_id}"

    def next_step(self, lead_id: int, due: str, step: str) -> str:
        """Set a deal's next step and date (`nextsteps.set_follow_up`, as `follow-up`)."""
        day = self.day(due, "date")
        if day is None:
            raise PipecliError("a next step needs a date: 2026-12-02, tomorrow, in 3 days")
        self.write(
            lambda conn: nextsteps.set_follow_up(conn, lead_id, day, step), "follow-up", lead_id, day.isoformat(), step
        )
        return f"lead {lead_id}: next step {day.isoformat()} {step.strip()}"

    def snooze(self, lead_id: int, days: str, reason: str) -> str:
        """Snooze a deal for `days` days or until a date (`clean_actions.snooze`, as `snooze`)."""
        until = clean_actions.snooze_end(int(days)) if days.strip().isdigit() else self.day(days, "until")
        if until is None:
            raise PipecliError("snooze needs a number of days or a date")
        self.write(
            lambda conn: clean_actions.snooze(conn, lead_id, until, reason), "snooze", lead_id, until.isoformat()
        )
        return f"lead {lead_id} snoozed until {until.isoformat()}"

    def act_on_finding(self, report: clean.Report, lead_id: int, action: str, reason: str, days: str = "") -> str:
        """Close as lost, snooze or archive one deal of the clean queue (`clean_actions.apply`, as `clean
        --close-lost|--snooze DAYS|--archive --reason R` does), with the same limits: closing and archiving
        act only on stale findings of deals older than their stage's stale limit."""
        targets, _ = report.act_on(action)
        if lead_id not in targets:
            raise PipecliError(
                f"lead {lead_id}: {action} acts only on stale findings (silent, stuck, overdue) of deals older"
                " than their stage's stale limit; nothing was changed"
            )
        n = None
        if action == "snooze":
            if not days.strip().isdigit() or int(days) < 1:
                raise PipecliError("snooze for a number of days, at least 1")
            n = int(days)
        done = self.write(
            lambda conn: clean_actions.apply(conn, [lead_id], action, reason, n),
            "clean",
            f"--{action}",
            *([n] if n else []),
            "--reason",
            reason,
            lead_id,
        )
        if not done:
            raise PipecliError(f"lead {lead_id} is no longer open: nothing was changed")
        past = {"close-lost": "closed as lost", "snooze": "snoozed", "archive": "archived"}[action]
        until = f" until {clean_actions.snooze_end(n).isoformat()}" if n else ""
        return f"lead {lead_id} {past}{until} (reason: {reason.strip()})"

    def undo(self) -> str:
        """Undo the latest standing change (`undo.undo`, as `pipecli undo --yes`)."""
        done = self.write(undoing.undo, "undo")
        verb = "redid" if done.redo else "undid"
        return f"{verb} command {done.reverted.id} ({done.reverted.command}): {done.changes} change(s)"
