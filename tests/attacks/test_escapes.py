"""Attacks through the terminal (issue 19): a name holding escape sequences, C1 controls, bidi overrides or
line breaks, whoever wrote it (pipecli, or another client on the database), is shown escaped by every
human-readable output (tables, text reports, prompts, errors) and cannot forge a line; CSV and JSON carry
it unchanged. Long cells are cut in tables only."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pipecli.cli.context import Context
from pipecli.formats import neutralise

ROOT = Path(__file__).resolve().parents[2]
TITLE = "\x1b]0;pwned\x07"  # sets the terminal's title
EVIL = f"Evil{TITLE}\nFAKE: No stale deals"
STYLE = re.compile(r"\x1b\[[0-9;]*m")
HOSTILE = ("\x1b", "\x07", "\x7f", "\x9b", "\u202e", "\u2066", "\u2069")


def _clean(text: str) -> None:
    text = STYLE.sub("", text)  # rich's own bold and colour on a terminal
    for ch in HOSTILE:
        assert ch not in text, f"{ch!r} reached the terminal: {text!r}"


def _run(cli, *args: str, input: str | None = None, **context):
    from pipecli.cli import app

    return cli.runner.invoke(app, ["--db", cli.db, *args], input=input, obj=Context(**context))


def test_neutralise_escapes_every_kind_of_control():
    assert neutralise("a\x1bb") == "a\\x1bb"
    assert neutralise("\x7f\x9b\u202a\u202e\u2066\u2069") == "\\x7f\\x9b\\u202a\\u202e\\u2066\\u2069"
    assert neutralise("two\nlines") == "two\\nlines"
    assert neutralise("two\nlines\x1b", keep_newlines=True) == "two\nlines\\x1b"
    assert neutralise("Café 中文 plain") == "Café 中文 plain"


def test_prompt_and_pass_yes_error_escape_the_lead_name(cli):
    cli("add-lead", EVIL)
    asked = _run(cli, "delete", "1", input="n\n", stdin_tty=True, stderr_tty=True)
    assert asked.exit_code == 1 and "cancelled" in asked.stderr
    _clean(asked.stderr)
    assert "Evil\\x1b]0;pwned\\x07\\nFAKE" in asked.stderr
    refused = cli("delete", "1", ok=False)
    assert refused.exit_code == 2
    _clean(refused.stderr)
    assert len(refused.stderr.strip().splitlines()) == 1  # the newline in the name forges no line
    assert cli.scalar("SELECT COUNT(*) FROM lead") == 1


def test_clean_text_report_cannot_be_forged_by_a_newline_in_a_name(cli):
    cli("add-lead", EVIL, "--value", "100", "--at", "2026-06-01")  # silent for months: stale
    cli("add-lead", "Plain Lead", "--value", "100", "--at", "2026-06-01")
    report = cli("clean", "--format", "text").stdout
    _clean(report)
    lines = report.splitlines()
    assert not any(line.startswith("FAKE") for line in lines)
    # every line is the summary, a blank, a rule heading "silent (2)", a finding "  #id ..." or its reason
    assert all(line == "" or line.startswith(("  #", "      ")) or line.endswith(")") for line in lines[1:])
    assert any(line.startswith("  #1 Evil\\x1b]0;pwned\\x07\\nFAKE") for line in lines)


@pytest.mark.parametrize("tty", [False, True])
def test_hostile_pipeline_and_stage_names_are_escaped_everywhere(cli, tty):
    name = "Bad\x7fName\u202e\x9b"
    cli("pipeline", "add", name, "--stages", "New,Demo")
    cli("add-lead", EVIL, "--pipeline", name, "--value", "10", "--at", "2026-06-01")
    # a stage renamed by another client, with an escape sequence and a line break
    cli.execute("UPDATE stage SET name = :n WHERE name = 'Demo'", n=f"De{TITLE}\nmo")
    context = {"stdout_tty": tty, "width": 200} if tty else {}
    for args in (
        ["board", "--pipeline", name],
        ["clean", "--pipeline", name],
        ["funnel", "--pipeline", name],
        ["forecast", "--pipeline", name],
        ["metrics", "--pipeline", name],
        ["list", "--pipeline", name],
        ["pipeline", "show", name],
    ):
        result = _run(cli, *args, **context)
        assert result.exit_code == 0, (args, result.stderr)
        _clean(result.stdout + result.stderr)
    moved = _run(cli, "move", "1", "Nowhere\x1b[2J")
    assert moved.exit_code != 0
    _clean(moved.stderr)
    assert len(moved.stderr.strip().splitlines()) == 1


def test_csv_and_json_carry_the_name_unchanged(cli):
    cli("add-lead", EVIL)
    rows = json.loads(cli("list", "--format", "json").stdout)
    assert rows[0]["name"] == EVIL


def test_long_cells_are_cut_in_tables_but_not_in_csv(cli):
    company = "C" * 100_000
    cli("add-lead", "Anna", "--company", company)
    table = cli("list").stdout
    assert len(table) < 2_000  # a header and one row of cells of at most 200 characters
    assert "C" * 199 + "…" in table
    shown = cli("show", "1").stdout
    assert len(shown) < 5_000
    assert company in cli("list", "--format", "csv").stdout


def test_a_real_terminal_process_gets_no_raw_escape(tmp_path):
    db = tmp_path / "p.db"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PIPECLI_DB": str(db)}

    def run(*args):
        return subprocess.run(
            [sys.executable, "-m", "pipecli", *args], capture_output=True, text=True, env=env, cwd=ROOT
        )

    assert run("add-lead", EVIL, "--company", "\x9b31mRed\u202eevil").returncode == 0
    for args in (["list"], ["board"], ["show", "1"], ["delete", "1"], ["clean", "--format", "text"]):
        result = run(*args)
        assert "Traceback" not in result.stderr
        _clean(result.stdout + result.stderr)
    assert "FAKE" not in "".join(line[:4] for line in run("delete", "1").stderr.splitlines())
