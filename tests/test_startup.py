"""What `pipecli --help` and a TAB build (issue 14): the root group converts a command from its typer
declaration only when that command is used, so the list of commands (in --help and in a TAB after
`pipecli`) comes from each command's help text, and must read exactly as the built command's own.
The timings are `benchmarks/startup.py`'s; here only what is built, and that nothing else changes.
"""

import os
import subprocess
import sys

from typer.main import get_command
from typer.testing import CliRunner

from pipecli.cli import app


def test_the_list_of_commands_is_each_commands_own_short_help():
    root = get_command(app)
    names = list(root.commands)
    assert names[:3] == ["add-lead", "move", "edit"] and {"db", "pipeline", "team"} <= set(names)  # groups too
    for name in names:
        built = root.commands[name]
        summary = root.commands.summary(name)
        assert (summary.hidden, summary.deprecated) == (built.hidden, built.deprecated), name
        for limit in (40, 60, 200):
            assert summary.get_short_help_str(limit) == built.get_short_help_str(limit), name
    listing = CliRunner().invoke(app, ["--help"], terminal_width=100).stdout.split("Commands:\n")[1]
    rows = [line.split(None, 1) for line in listing.splitlines() if line.startswith("  ") and line[2] != " "]
    shown = [name for name in names if not root.commands[name].hidden]
    assert [row[0] for row in rows] == shown
    assert rows[1][1] == root.commands["move"].get_short_help_str(100 - 6 - max(map(len, shown)))


def test_help_builds_no_command_and_a_command_builds_only_itself():
    root = get_command(app)
    assert root.main(["--help"], prog_name="pipecli", standalone_mode=False) == 0
    assert root.commands._built == {}  # the list came from the declarations' help texts
    root.commands["move"]
    assert list(root.commands._built) == ["move"]


def test_a_tab_after_pipecli_lists_the_commands_with_their_help(tmp_path):
    root = get_command(app)
    env = {**os.environ, "PIPECLI_DB": str(tmp_path / "p.db"), "_PIPECLI_COMPLETE": "complete_fish"}
    env.update(_TYPER_COMPLETE_ARGS="pipecli mo", _TYPER_COMPLETE_FISH_ACTION="get-args")
    done = subprocess.run([sys.executable, "-m", "pipecli"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stderr == ""
    assert done.stdout.splitlines() == [f"move\t{root.commands['move'].get_short_help_str()}"]
    env.update(_TYPER_COMPLETE_ARGS="pipecli --ver")  # the root's own options still complete
    done = subprocess.run([sys.executable, "-m", "pipecli"], env=env, capture_output=True, text=True, timeout=60)
    assert done.stdout.splitlines() == ["--version\tShow the version and exit."]


def test_the_table_of_command_modules_is_what_the_modules_register():
    """`pipecli.cli.COMMANDS` (which module a TAB loads for a command) names every module and command, in
    the order --help lists them; the root options a TAB reads before the command are the root's own."""
    import importlib

    import typer

    from pipecli.cli import COMMANDS, ROOT_FLAGS, ROOT_VALUE_OPTIONS, _declared_names

    for module, commands in COMMANDS.items():
        declared = typer.Typer()
        importlib.import_module(f"pipecli.cli.{module}").register(declared)
        assert tuple(_declared_names(declared)) == commands, module
    root = get_command(app)
    assert sorted(root.commands) == sorted(name for commands in COMMANDS.values() for name in commands)
    params = root.get_params(root.make_context("pipecli", [], resilient_parsing=True))  # with -h/--help
    options = {opt for param in params for opt in param.opts if not opt.endswith("-completion")}
    assert options == ROOT_FLAGS | ROOT_VALUE_OPTIONS
    assert {opt for param in params if not getattr(param, "is_flag", False) for opt in param.opts} == ROOT_VALUE_OPTIONS
