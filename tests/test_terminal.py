"""Terminal manners through a real subprocess: ids for shell capture, exit codes, stderr, no tracebacks."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pipecli

ROOT = Path(__file__).parent.parent
EXAMPLES = Path(pipecli.__file__).parent / "examples"  # shipped in the package


def run(args, db, env_extra=None, input=None):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PIPECLI_DB": str(db), **(env_extra or {})}
    return subprocess.run(
        [sys.executable, "-m", "pipecli", *args], capture_output=True, text=True, env=env, input=input, cwd=ROOT
    )


def test_shell_captures_the_new_id(tmp_path):
    db = tmp_path / "p.db"
    script = (
        f'id=$("{sys.executable}" -m pipecli add-lead "Anna Rossi" --value 4500) && '
        f'"{sys.executable}" -m pipecli move "$id" Contact && echo "id=$id"'
    )
    out = subprocess.run(
        ["bash", "-c", script],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), "PIPECLI_DB": str(db)},
        cwd=ROOT,
    )
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
    from typer.main import get_command

    from pipecli.cli import app

    root = get_command(app)

    def walk(command, path):
        assert (command.help or "").strip(), f"pipecli {' '.join(path)} has no help text"
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, path + [name])

    walk(root, [])


def test_example_session_script_runs(tmp_path):
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PIPECLI_DB": str(tmp_path / "s.db"),
        "PIPECLI": f"{sys.executable} -m pipecli",
    }
    out = subprocess.run(["bash", str(EXAMPLES / "session.sh")], capture_output=True, text=True, env=env, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert "2 leads" in out.stdout
    assert "Meeting · 1 · €4,500.00" in out.stdout


def run_on_terminal(args, db, env_extra=None):
    """Run pipecli with stdout on a pseudo-terminal; return everything it wrote there."""
    import pty

    env = {**os.environ, "PYTHONPATH": str(ROOT), "PIPECLI_DB": str(db), "COLUMNS": "160", **(env_extra or {})}
    env.pop("NO_COLOR", None) if "NO_COLOR" not in (env_extra or {}) else None
    main, child = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "pipecli", *args], stdout=child, stderr=child, env=env, cwd=ROOT)
    os.close(child)
    chunks = []
    while True:
        try:
            data = os.read(main, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    proc.wait()
    os.close(main)
    return b"".join(chunks).decode("utf-8", "replace")


def test_rich_table_with_colour_on_a_terminal_unless_no_color(tmp_path):
    db = tmp_path / "p.db"
    run(["add-lead", "Anna", "--value", "10"], db)
    import re

    colour = re.compile(r"\x1b\[[0-9;]*(?<![0-9])(3[0-8]|9[0-7])[;m]")
    coloured = run_on_terminal(["list"], db, {"TERM": "xterm-256color"})
    assert "Anna" in coloured and "───" in coloured and colour.search(coloured)  # a rich table, in colour
    plain = run_on_terminal(["list"], db, {"TERM": "xterm-256color", "NO_COLOR": "1"})
    assert "Anna" in plain and "───" in plain and not colour.search(plain)


def test_times_are_shown_in_local_time(tmp_path):
    db = tmp_path / "p.db"
    run(["add-lead", "Anna", "--at", "2026-11-01T09:00:00Z"], db)
    rome = run(["list", "--format", "csv"], db, {"TZ": "Europe/Rome"}).stdout
    assert "2026-11-01T10:00:00+01:00" in rome
    utc = run(["list", "--format", "csv"], db, {"TZ": "UTC"}).stdout
    assert "2026-11-01T09:00:00+00:00" in utc
    # a naive --at is local time
    run(["add-lead", "Ben", "--at", "2026-11-02 10:00"], db, {"TZ": "Europe/Rome"})
    data = json.loads(run(["list", "--format", "json"], db, {"TZ": "UTC"}).stdout)
    assert data[1]["created_at"] == "2026-11-02T09:00:00+00:00"


def test_config_path_and_show(tmp_path):
    db = tmp_path / "p.db"
    config = tmp_path / "conf.toml"
    config.write_text('currency = "usd"\nstale_days = 9\n')
    env = {"PIPECLI_CONFIG": str(config)}
    assert run(["config", "path"], db, env).stdout.strip() == str(config)
    shown = json.loads(run(["config", "show"], db, env).stdout)
    assert shown["currency"] == "USD" and shown["stale_days"] == 9 and shown["db"] == str(db)
    run(["add-lead", "Anna", "--value", "4500"], db, env)
    assert "$4,500.00" in run(["list"], db, env).stdout
    config.write_text("currency = [unclosed\n")
    broken = run(["list"], db, env)
    assert broken.returncode == 1 and "config file" in broken.stderr and "Traceback" not in broken.stderr


def test_summer_and_winter_times_get_their_own_offsets(tmp_path):
    db = tmp_path / "p.db"
    run(["add-lead", "Summer", "--at", "2026-07-01T09:00:00Z"], db)
    run(["add-lead", "Winter", "--at", "2026-01-15T09:00:00Z"], db)
    data = json.loads(run(["list", "--format", "json"], db, {"TZ": "Europe/Rome"}).stdout)
    assert [d["created_at"] for d in data] == ["2026-07-01T11:00:00+02:00", "2026-01-15T10:00:00+01:00"]


def test_every_help_screen_fits_80_columns_and_keeps_its_examples_on_their_own_lines():
    """A paragraph of example lines is rewrapped into one run-on line unless it is marked `\\b` (click's
    no-rewrap mark): `pipecli examples --help` once printed `# the cron lines mailing the stale-deal report
    pipecli examples clean-and-mail.sh > ...` as one line."""
    from typer.main import get_command

    from pipecli.cli import app

    root = get_command(app)
    checked = 0

    def walk(command, path, parent):
        nonlocal checked
        ctx = command.context_class(
            command, info_name=path[-1] if path else "pipecli", parent=parent, terminal_width=80
        )
        text = command.get_help(ctx)
        for line in text.splitlines():
            assert len(line) <= 80, f"pipecli {' '.join(path)} --help: {line!r} is wider than 80 columns"
        examples = [ln.strip() for ln in (command.help or "").splitlines() if ln.strip().startswith("pipecli ")]
        rendered = [ln.strip() for ln in text.splitlines()]
        for example in examples:
            assert example in rendered, f"pipecli {' '.join(path)} --help rewrapped the example {example!r}"
        checked += 1
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, path + [name], ctx)

    walk(root, [], None)
    assert checked > 40  # every command and group, not just the root
