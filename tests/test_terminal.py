"""Terminal manners through a real subprocess: ids for shell capture, exit codes, stderr, no tracebacks."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent


def run(args, db, env_extra=None, input=None):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PIPECLI_DB": str(db), **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "pipecli", *args], capture_output=True, text=True, env=env, input=input, cwd=ROOT)


def test_shell_captures_the_new_id(tmp_path):
    db = tmp_path / "p.db"
    script = (
        f'id=$("{sys.executable}" -m pipecli add-lead "Anna Rossi" --value 4500) && '
        f'"{sys.executable}" -m pipecli move "$id" Contact && echo "id=$id"'
    )
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT), "PIPECLI_DB": str(db)}, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "id=1"
    assert "Prospecting -> Contact" in out.stderr  # messages go to stderr
    listed = json.loads(run(["list", "--format", "json"], db).stdout)
    assert listed[0]["stage"] == "Contact"


def test_exit_codes_and_one_line_errors(tmp_path):
    db = tmp_path / "p.db"
    ok = run(["add-lead", "Anna"], db)
    assert ok.returncode == 0
    missing = run(["move", "42", "Contact"], db)
    assert missing.returncode == 1
    assert missing.stderr == "pipecli: no lead with id 42 (see `pipecli list`)\n"
    assert missing.stdout == ""
    usage = run(["move"], db)
    assert usage.returncode == 2 and "Traceback" not in usage.stderr
    no_args = run([], db)
    assert no_args.returncode in (0, 2) and "Usage" in no_args.stdout + no_args.stderr
    version = run(["--version"], db)
    assert version.returncode == 0 and version.stdout.startswith("pipecli ")


def test_no_colour_when_piped_or_no_color(tmp_path):
    db = tmp_path / "p.db"
    run(["add-lead", "Anna", "--value", "10"], db)
    for env in ({}, {"NO_COLOR": "1"}):
        out = run(["list"], db, env)
        assert "\x1b" not in out.stdout and "Anna" in out.stdout


def test_control_characters_are_neutralised_in_tables(tmp_path):
    db = tmp_path / "p.db"
    evil = "Evil\x1b[2J\x07 Corp'; DROP TABLE lead; --"
    run(["add-lead", evil, "--company", "$(rm -rf /)"], db)
    table = run(["list"], db).stdout
    assert "\x1b" not in table and "\x07" not in table
    assert "Evil\\x1b[2J\\x07 Corp'; DROP TABLE lead; --" in table
    assert "$(rm -rf /)" in table
    data = json.loads(run(["list", "--format", "json"], db).stdout)
    assert data[0]["name"] == evil  # stored and returned exactly


def test_every_command_has_help_text():
    from pipecli.cli import app
    from typer.main import get_command

    root = get_command(app)

    def walk(command, path):
        assert (command.help or "").strip(), f"pipecli {' '.join(path)} has no help text"
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, path + [name])

    walk(root, [])


def test_example_session_script_runs(tmp_path):
    env = {
        **os.environ, "PYTHONPATH": str(ROOT), "PIPECLI_DB": str(tmp_path / "s.db"),
        "PIPECLI": f"{sys.executable} -m pipecli",
    }
    out = subprocess.run(["bash", str(ROOT / "examples" / "session.sh")], capture_output=True, text=True, env=env, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert "2 leads" in out.stdout
    assert "Meeting · 1 · €4,500.00" in out.stdout
