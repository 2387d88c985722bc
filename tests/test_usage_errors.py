"""Usage errors are one line (issue 14): a bad choice, an unknown option or command, a missing argument or
option, a bad number, extra arguments. Each is `pipecli CMD: what is wrong (pipecli CMD -h for help)` on
stderr, nothing on stdout, exit 2, the database unchanged; through a real subprocess (what a shell sees)
and through CliRunner. Help (`-h`, `--help`, a group without its command) stays click's.

The expected lines are written from the command's declaration: `list --status` takes open, won, lost or
all; `list` has the options --sort, --stage and --status starting like `--stat`; `show` takes one LEAD;
`size` needs --target; `pipeline stage` takes --probability as a number; `db` has the command `init`.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipecli import vocabulary

ROOT = Path(__file__).parent.parent


def hint(command: str) -> str:
    return f"({command} -h for help)"


KINDS = {
    "bad choice": (
        ["list", "--status", "bogus"],
        f"pipecli list: --status: 'bogus' is not one of {', '.join(vocabulary.STATUSES)}, all " + hint("pipecli list"),
    ),
    "bad choice of an argument": (
        ["log", "1", "dance"],
        f"pipecli log: KIND: 'dance' is not one of {', '.join(vocabulary.KINDS)} " + hint("pipecli log"),
    ),
    "bad choice by a short option": (
        ["list", "-f", "xml"],
        "pipecli list: --format: 'xml' is not one of table, csv, json " + hint("pipecli list"),
    ),
    "unknown option": (
        ["list", "--stat", "open"],
        "pipecli list: unknown option --stat; did you mean --sort, --stage or --status? " + hint("pipecli list"),
    ),
    "unknown option, no suggestion": (
        ["show", "--zzz", "1"],
        "pipecli show: unknown option --zzz " + hint("pipecli show"),
    ),
    "unknown root option": (["-x"], "pipecli: unknown option -x " + hint("pipecli")),
    "missing argument": (["show"], "pipecli show: missing argument LEAD " + hint("pipecli show")),
    "missing argument with choices": (
        ["log", "1"],
        f"pipecli log: missing argument KIND: one of {', '.join(vocabulary.KINDS)} " + hint("pipecli log"),
    ),
    "missing option": (["size"], "pipecli size: missing option --target " + hint("pipecli size")),
    "option without its value": (["size", "--target"], "pipecli size: --target needs a value " + hint("pipecli size")),
    "root option without its value": (["--db"], "pipecli: --db needs a value " + hint("pipecli")),
    "flag given a value": (["--version=2"], "pipecli: --version takes no value " + hint("pipecli")),
    "bad int": (["list", "--limit", "x"], "pipecli list: --limit: 'x' is not a whole number " + hint("pipecli list")),
    "bad float": (
        ["pipeline", "stage", "Sales", "Meeting", "--probability", "high"],
        "pipecli pipeline stage: --probability: 'high' is not a number " + hint("pipecli pipeline stage"),
    ),
    "extra arguments": (
        ["show", "1", "2", "3"],
        "pipecli show: unexpected extra argument(s): 2 3 " + hint("pipecli show"),
    ),
    "unknown command": (["lisst"], "pipecli: unknown command 'lisst'; did you mean list? " + hint("pipecli")),
    "unknown subcommand": (
        ["db", "nit"],
        "pipecli db: unknown command 'nit'; did you mean init? " + hint("pipecli db"),
    ),
    "missing command": (["--db", "x.db"], "pipecli: missing command " + hint("pipecli")),
}


def run(args: list[str], db: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PIPECLI_DB": str(db)}
    return subprocess.run(
        [sys.executable, "-m", "pipecli", *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120
    )


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_usage_error_is_one_line_on_stderr_and_exit_2(tmp_path, kind):
    args, line = KINDS[kind]
    done = run(args, tmp_path / "p.db")
    assert (done.returncode, done.stdout, done.stderr) == (2, "", line + "\n")
    assert not (tmp_path / "p.db").exists()  # a usage error opens no database


def test_usage_errors_through_clirunner_change_nothing(cli):
    lead = int(cli("add-lead", "Anna Rossi", "--value", "1000").stdout)
    before = cli.every_row()
    for args, line in KINDS.values():
        result = cli(*args, ok=False)
        assert (result.exit_code, result.stdout, result.stderr) == (2, "", line + "\n"), args
    refused = cli("move", lead, "Meeting", "--at", "soon-ish", "--bogus", ok=False)  # the usage error comes first
    assert refused.exit_code == 2 and refused.stderr.startswith("pipecli move: unknown option --bogus")
    assert cli.every_row() == before


def test_any_case_is_still_a_choice_and_a_bad_value_is_escaped(cli):
    assert cli("list", "--status", "OPEN").exit_code == 0
    sneaky = cli("list", "--sort", "x\x1b[2J\ny", ok=False)
    assert sneaky.exit_code == 2 and sneaky.stderr.count("\n") == 1 and "\x1b" not in sneaky.stderr
    assert sneaky.stderr.startswith("pipecli list: --sort: 'x\\x1b[2J\\ny' is not one of value, age, ")


def test_help_stays_as_it_was(tmp_path):
    db = tmp_path / "p.db"
    for args in (["list", "-h"], ["list", "--help"], ["-h"]):
        done = run(args, db)
        assert done.returncode == 0 and done.stderr == ""
        assert done.stdout.startswith(f"Usage: pipecli {args[0] + ' ' if args[0] == 'list' else ''}[OPTIONS]")
    group = run(["db"], db)  # a group without its command: its help, as before (exit 2)
    assert group.returncode == 2 and group.stdout == ""
    assert group.stderr.startswith("Usage: pipecli db [OPTIONS] COMMAND [ARGS]...") and "  init " in group.stderr
    bare = run([], db)
    assert bare.returncode == 2 and "Commands:" in bare.stderr and "  add-lead " in bare.stderr


def test_ctrl_c_in_a_command_is_still_one_line_and_exit_130(tmp_path):
    """`import -` waits on stdin; SIGINT there (the terminal's Ctrl-C) ends it as before: one line, 130."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PIPECLI_DB": str(tmp_path / "p.db")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipecli", "import", "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    proc.stdin.write("name,value\nAnna,100\n")
    proc.stdin.flush()
    deadline = time.monotonic() + 120
    while "pipe" not in Path(f"/proc/{proc.pid}/wchan").read_text():  # blocked reading stdin: inside the command
        assert time.monotonic() < deadline and proc.poll() is None, "import - never waited on stdin"
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert (proc.returncode, out) == (130, "")
    assert err.endswith("pipecli: interrupted; nothing was changed by the unfinished command\n")
