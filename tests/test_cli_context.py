"""The invocation's context (`pipecli.cli.context`): every terminal decision in one object, so a test says
"stdout is a terminal" instead of opening a pseudo-terminal (test_terminal.py keeps the real-pty proofs).

Commands run through CliRunner with a `Context` handed in as `obj`; what they print and what they store
is checked as in the other CLI tests.
"""

from __future__ import annotations

import ast
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import pipecli
from pipecli.cli.context import Context, current, using

ROOT = Path(__file__).parent.parent
STYLE = re.compile(r"\x1b\[[0-9;]*m")  # what rich writes around bold or coloured text
COLOUR = re.compile(r"\x1b\[[0-9;]*(?<![0-9])(3[0-8]|9[0-7])[;m]")


def run(cli, *args: str, input: str | None = None, env: dict | None = None, **context):
    """Run `pipecli --db DB ARGS` in-process with a Context built from `context` (stdout_tty=True...)."""
    from pipecli.cli import app

    return cli.runner.invoke(app, ["--db", cli.db, *args], input=input, env=env, obj=Context(**context))


def test_a_terminal_stdout_gets_a_rich_table_as_wide_as_the_terminal(cli):
    cli("add-lead", "Anna Rossi", "--company", "Rossi Srl", "--value", "4500")
    piped = run(cli, "list")
    assert "┃" not in piped.stdout and "Anna Rossi" in piped.stdout  # plain aligned text
    wide, narrow = (STYLE.sub("", run(cli, "list", stdout_tty=True, width=w).stdout) for w in (200, 60))
    assert "─" in wide and "Rossi Srl" in wide and "…" not in wide  # rich draws the table; at 200 nothing is cut
    assert max(len(line) for line in wide.splitlines()) <= 200
    assert "─" in narrow and max(len(line) for line in narrow.splitlines()) <= 60
    # too wide for 60 columns: the columns go in two blocks, each with the lead's id and name, amounts whole
    assert "€4,500.00" in narrow and narrow.count("Anna Rossi") == 2 and "2026-11-28" in narrow


def test_colour_only_on_a_terminal_and_never_under_no_color(cli):
    cli("add-lead", "Anna", "--value", "10")
    env = {"TERM": "xterm-256color"}
    assert COLOUR.search(run(cli, "list", stdout_tty=True, env=env).stdout)
    assert not COLOUR.search(run(cli, "list", stdout_tty=True, env={**env, "NO_COLOR": "1"}).stdout)
    assert not COLOUR.search(run(cli, "list", stdout_tty=True, colour=False, env=env).stdout)
    assert not COLOUR.search(run(cli, "list", env=env).stdout)


def test_ids_alone_when_piped_and_a_sentence_on_a_terminal(cli):
    piped = run(cli, "add-lead", "Anna")
    assert piped.stdout == "1\n" and piped.stderr == ""
    shown = run(cli, "add-lead", "Ben", stdout_tty=True)
    assert shown.stdout == "2\n" and shown.stderr == "added lead 2: Ben\n"
    assert run(cli, "log", "1", "call").stdout == "1\n"
    assert run(cli, "log", "2", "email", stdout_tty=True).stdout == "logged email on lead 2 (activity 2)\n"
    assert cli.sql("SELECT lead_id, kind FROM activity ORDER BY id") == [(1, "call"), (2, "email")]


def test_a_confirmation_is_asked_only_when_someone_can_answer(cli):
    cli("add-lead", "Anna")
    cli("add-lead", "Ben")
    # stdin a terminal but stderr not (or the reverse): nobody would see the question
    for context in ({"stdin_tty": True}, {"stderr_tty": True}, {}):
        refused = run(cli, "delete", "1", input="y\n", **context)
        assert refused.exit_code == 2 and "not on a terminal, so pass --yes" in refused.stderr
    assert cli.scalar("SELECT COUNT(*) FROM lead") == 2
    declined = run(cli, "delete", "1", input="n\n", stdin_tty=True, stderr_tty=True)
    assert declined.exit_code == 1 and "Delete lead 1 (Anna) and all its history?" in declined.stderr
    assert "cancelled; nothing was changed" in declined.stderr
    assert cli.scalar("SELECT COUNT(*) FROM lead") == 2
    accepted = run(cli, "delete", "1", input="y\n", stdin_tty=True, stderr_tty=True)
    assert accepted.exit_code == 0 and "deleted lead 1" in accepted.stderr
    assert cli.sql("SELECT name FROM lead") == [("Ben",)]


def test_amounts_are_read_and_shown_in_the_contexts_currency(cli):
    assert run(cli, "add-lead", "Anna", "--value", "4,500.50", currency="USD").exit_code == 0
    assert cli.scalar("SELECT value_minor FROM lead") == 450050
    assert "$4,500.50" in run(cli, "show", "1", currency="USD").stdout
    assert "€4,500.50" in run(cli, "show", "1").stdout  # the config's currency, EUR by default
    assert "¥450,050" in run(cli, "board", currency="JPY").stdout  # JPY has no minor unit: 450050 is ¥450,050
    assert json.loads(run(cli, "list", "--format", "json", currency="JPY").stdout)[0]["value"] == 450050


def test_a_message_follows_the_data_it_is_about_on_one_stream(tmp_path):
    """`qualify` prints the verdicts (stdout), then the lead's status (stderr): with both streams on one pipe,
    in that order, although stdout is buffered and stderr is not."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PIPECLI_DB": str(tmp_path / "p.db"),
        "PIPECLI_CONFIG": str(tmp_path / "c"),
    }
    env.pop("PYTHONUNBUFFERED", None)  # a user's stdout on a pipe is block-buffered
    base = [sys.executable, "-m", "pipecli"]
    subprocess.run([*base, "add-lead", "Anna"], env=env, check=True, capture_output=True)
    out = subprocess.run(
        [*base, "qualify", "1", "--budget", "yes"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert out.returncode == 0
    lines = out.stdout.splitlines()
    assert lines[0].split() == ["criterion", "verdict", "required"]
    assert lines[-1] == "lead 1 is incomplete"


def test_control_characters_in_an_error_are_escaped(cli):
    cli("add-lead", "Evil\x1b[2J Corp")
    result = run(cli, "delete", "1")  # the refusal names the lead
    assert result.exit_code == 2 and "\x1b" not in result.stderr
    assert "(Evil\\x1b[2J Corp)" in result.stderr and result.stderr.count("\n") == 1


def test_the_store_is_the_invocations_and_closed_after_it(cli):
    """Each invocation opens its own store from its --db and disposes of it at the end, also after an error."""
    from pipecli.cli import app

    context = Context()
    for args in (["add-lead", "Anna"], ["move", "9", "Contact"]):
        cli.runner.invoke(app, ["--db", cli.db, *args], obj=context)
        assert context.db == cli.db and context._store is None
    assert cli.scalar("SELECT COUNT(*) FROM lead") == 1


def test_a_view_renders_outside_a_command_through_an_installed_context():
    """Views reach the streams only through the context: the board app or a test can render one anywhere."""
    from pipecli.cli import views

    data = {
        "pipeline": "Sales",
        "stages": [
            {"stage": "Contact", "kind": "open", "count": 2, "value_minor": 450_000 + 50_000, "leads": []},
            {"stage": "won", "kind": "won", "count": 1, "value_minor": 300_000, "leads": []},
        ],
    }
    data["stages"][0]["leads"] = [{"id": 7, "name": "Anna", "company": "Rossi", "value_minor": 450_000}]
    out = io.StringIO()
    with using(Context(stdout=out, currency="EUR")):
        views.board(data, "table")
        assert current().stdout is out
    assert out.getvalue().splitlines() == [
        "Sales: 2 open leads, €5,000.00",  # 4,500 + 500 in the open stage; won is not open
        "",
        "== Contact · 2 · €5,000.00",
        f"   {'#7 Anna (Rossi)':<68} {'€4.5k':>7}",
        "   … and 1 more",  # 2 leads in the stage, 1 shown
        "[won · 1 · €3,000.00]",
    ]
    assert current().stdout is sys.stdout  # uninstalled after the block


def _sources() -> dict[str, str]:
    package = Path(pipecli.__file__).resolve().parent  # the source tree, or the installed wheel in CI
    return {str(p.relative_to(package)): p.read_text() for p in package.rglob("*.py")}


def test_terminal_decisions_are_made_only_by_the_context():
    asking = [name for name, text in _sources().items() if "isatty" in text and name != "cli/context.py"]
    assert asking == []


def test_only_the_output_layer_writes_and_no_command_reads_its_private_currency():
    """No module but `cli/output.py` writes to stdout or stderr (typer.echo, print, sys.stdout), and none calls
    `output._currency()`: the currency comes from the context."""
    offenders = []
    for name, text in _sources().items():
        if name in {"cli/output.py", "cli/context.py"}:
            continue
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Attribute) and (
                (node.attr == "echo" and getattr(node.value, "id", None) == "typer")
                or (node.attr in ("stdout", "stderr") and getattr(node.value, "id", None) == "sys")
                or node.attr == "_currency"
            ):
                offenders.append(f"{name}:{node.lineno}")
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "print":
                offenders.append(f"{name}:{node.lineno}")
    assert offenders == []


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["list", "--help"]])
def test_help_and_version_stay_light(args):
    """Start-up: help and the version import neither SQLAlchemy, pendulum, rich, sqlmodel nor numpy."""
    probe = (
        "import sys\n"
        "from pipecli.cli import app\n"
        "try:\n"
        f"    app({args!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('HEAVY', [m for m in ('sqlalchemy', 'pendulum', 'rich', 'sqlmodel', 'numpy') if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT)
    assert "HEAVY []" in out.stdout, out.stdout + out.stderr
    assert "Usage" in out.stdout or out.stdout.startswith("pipecli ")
