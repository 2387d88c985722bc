"""Undo, as a property: any sequence of commands, then `undo` of each newest first (by id, since plain
`undo` after an undo redoes), gives back exactly what `export` wrote before each of them, and the
events still replay to the cached columns."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.test_history import problems

COMMANDS = st.lists(
    st.tuples(
        st.sampled_from(["add", "edit", "move", "won", "lost", "log", "follow-up", "qualify", "delete", "stage"]),
        st.integers(0, 7),
    ),
    min_size=1,
    max_size=10,
)


def snapshot(cli) -> dict:
    """Return what a user can see of the database: every export, and the pipeline's stages."""
    out = {
        what: json.loads(cli("export", "--format", "json", "--what", what).stdout)
        for what in ("leads", "history", "activities")
    }
    out["stages"] = json.loads(cli("pipeline", "show", "--format", "json").stdout)
    return out


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(commands=COMMANDS)
def test_undo_of_each_command_newest_first_restores_every_export(fresh_cli, commands):
    cli, env = fresh_cli()
    env.setenv("PIPECLI_NOW", "2026-11-02 09:00")
    cli("add-lead", "Seed", "--value", "100")
    snapshots = []
    for n, (command, pick) in enumerate(commands):
        env.setenv("PIPECLI_NOW", f"2026-11-{n + 3:02d} 09:00")
        ids = [r["id"] for r in json.loads(cli("list", "--archived", "--format", "json").stdout)] or [None]
        lead = ids[pick % len(ids)]
        args = {
            "add": ["add-lead", f"Lead {n}", "--value", str(100 * pick), "--note", "hi"],
            "edit": [
                "edit",
                lead,
                "--value",
                str(7 * pick + 1),
                "--owner",
                f"o{pick}",
                "--expected-close",
                "2027-01-05",
            ],
            "move": ["move", lead, "Meeting"],
            "won": ["move", lead, "won"],
            "lost": ["move", lead, "lost", "--reason", "price"],
            "log": ["log", lead, "call", "--note", f"call {n}"],
            "follow-up": ["follow-up", lead, "2026-12-01", "send quote"],
            "qualify": ["qualify", lead, "--budget", "5000", "--authority", "yes", "--need", "yes", "--timeline", "q1"],
            "delete": ["delete", lead, "--yes"],
            "stage": ["pipeline", "add-stage", "Sales", f"Step {n}", "--position", str(pick % 3 + 1)],
        }[command]
        if lead is None and command not in ("add", "stage"):
            continue
        before = snapshot(cli)
        if cli(*args, ok=False).exit_code == 0:
            entry = json.loads(cli("undo", "--list", "--limit", "1", "--format", "json").stdout)[0]["id"]
            if snapshots and snapshots[-1][0] == entry:  # the command changed nothing (a repeated follow-up)
                assert snapshot(cli) == before
                continue
            snapshots.append((entry, before, args))
    assert problems(cli) == []
    for entry, before, args in reversed(snapshots):
        cli("undo", entry, "--yes")
        assert snapshot(cli) == before, f"undo of {args}"
    assert problems(cli) == []
