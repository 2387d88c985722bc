"""Screens that fit (issue 14): every report drawn through a real pseudo-terminal at 80 and 120 columns,
checked for lines wider than the screen and amounts split across lines; the pager; FORCE_COLOR.

The demo database (`pipecli demo`, a fixed clock) is built once for the module. Each screen is what the
terminal received: ANSI sequences are stripped and each line measured with `rich.cells.cell_len`, the
width the terminal gives it (a CJK character or an emoji takes two columns)."""

from __future__ import annotations

import fcntl
import json
import os
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest
from conftest import FROZEN_NOW
from rich.cells import cell_len

ROOT = Path(__file__).resolve().parents[1]
ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][0-9A-Za-z]|\x1b[=>]")
COLOUR = re.compile(r"\x1b\[[0-9;]*(?<![0-9])(3[0-8]|9[0-7])[;m]")
AMOUNT = re.compile(r"€[0-9][0-9,.]*[kKmM]?")
WHOLE = re.compile(r"€\d{1,3}(?:,\d{3})*\.\d\d|€\d+(?:\.\d+)?[kKmM]")  # €4,500.00, or short as the board: €4.5k


def environment(tmp: Path, **extra: str) -> dict[str, str]:
    """The environment of a pipecli process: its own config, the frozen clock, no colour rules, no pager."""
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "CLICOLOR_FORCE", "PAGER")}
    env.update(PYTHONPATH=str(ROOT), PIPECLI_NOW=FROZEN_NOW, PIPECLI_CONFIG=str(tmp / "config.toml"), TZ="UTC")
    env.update(PIPECLI_PAGER="cat", TERM="xterm-256color")
    env.update(extra)
    return env


def on_terminal(args: list[str], env: dict[str, str], columns: int, lines: int = 200) -> tuple[int, str]:
    """Run pipecli with stdin, stdout and stderr on a new pseudo-terminal of `columns` x `lines`; return
    its exit code and everything the terminal received (line ends as \\n)."""
    main, child = os.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))
    env = {**env, "COLUMNS": str(columns), "LINES": str(lines)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipecli", *args], stdin=child, stdout=child, stderr=child, env=env, cwd=ROOT
    )
    os.close(child)
    chunks = []
    while True:
        try:
            data = os.read(main, 65536)
        except OSError:  # the terminal closed: the process ended
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=120)
    os.close(main)
    return proc.returncode, b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")


def piped(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run pipecli with stdout and stderr on pipes."""
    return subprocess.run([sys.executable, "-m", "pipecli", *args], capture_output=True, text=True, env=env, cwd=ROOT)


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """The demo database and the environment that reads it."""
    tmp = tmp_path_factory.mktemp("screens")
    env = environment(tmp, PIPECLI_DB=str(tmp / "demo.db"))
    built = piped(["demo", "--into", str(tmp / "demo.db")], env)
    assert built.returncode == 0, built.stderr
    return tmp, env


REPORTS = [
    ["list"],
    ["list", "--status", "all", "--sort", "value"],
    ["list", "--columns", "all"],
    ["board"],
    ["forecast"],
    ["metrics"],
    ["funnel"],
    ["today"],
    ["score"],
    ["pipeline", "show", "Sales"],
    ["clean"],
    ["clean", "--format", "table", "--rules", "all"],
    ["size", "--target", "100000"],
    ["show", "3"],
    ["next"],
]


def problems(screen: str, width: int) -> list[str]:
    """Return what is wrong with a screen: lines wider than `width`, amounts that are not whole."""
    text = ANSI.sub("", screen)
    wide = [f"{cell_len(line)} columns: {line!r}" for line in text.split("\n") if cell_len(line) > width]
    split = [f"amount cut: {m.group()!r}" for m in AMOUNT.finditer(text) if not WHOLE.fullmatch(m.group())]
    return wide + split


@pytest.mark.parametrize("width", [80, 120])
@pytest.mark.parametrize("report", REPORTS, ids=" ".join)
def test_every_report_fits_the_terminal_and_keeps_amounts_whole(demo, report, width):
    _, env = demo
    code, screen = on_terminal(report, env, width)
    assert code == 0, screen
    assert problems(screen, width) == []
    if report[0] not in ("next", "pipeline", "today", "score"):  # those show no amounts
        assert AMOUNT.search(ANSI.sub("", screen))  # the amounts were on the screen, whole


def test_the_check_catches_a_split_amount_and_a_wide_line():
    """The checks above would fail on the screens issue 14 reported (money folded by a 2-column cell)."""
    assert problems("│ €1 │\n│ 81 │", 80) == ["amount cut: '€1'"]
    assert problems("€181,00\n0.00", 80) == ["amount cut: '€181,00'"]
    assert problems("名" * 41, 80) == [f"82 columns: {'名' * 41!r}"]


def test_list_at_80_columns_is_one_line_per_open_lead(demo):
    _, env = demo
    data = json.loads(piped(["list", "--format", "json"], env).stdout)
    assert {r["status"] for r in data} == {"open"}
    _, screen = on_terminal(["list"], env, 80)
    rows = [line for line in ANSI.sub("", screen).split("\n") if re.match(r"\s*\d+\s", line)]
    assert [int(line.split()[0]) for line in rows] == [r["id"] for r in data]  # one line each, nothing folded
    for line, lead in zip(rows, data):
        if lead["value"] is not None:
            assert f"€{lead['value']:,.2f}" in line


def test_board_lays_out_as_many_stage_columns_as_the_width_allows(demo):
    _, env = demo
    stages = [s for s in json.loads(piped(["board", "--format", "json"], env).stdout)["stages"] if s["kind"] == "open"]
    for width, per_row in ((80, 2), (120, 3), (200, len(stages))):
        _, screen = on_terminal(["board"], env, width)
        heads = [line for line in ANSI.sub("", screen).split("\n") if "== " in line]
        assert heads[0].count("== ") == min(per_row, len(stages)), (width, heads)
        assert sum(line.count("== ") for line in heads) == len(stages)
        assert problems(screen, width) == []


def test_clean_on_a_terminal_is_the_summary_and_the_table_is_an_option(demo):
    _, env = demo
    found = json.loads(piped(["clean", "--format", "json"], env).stdout)
    _, text = on_terminal(["clean"], env, 80)
    _, table = on_terminal(["clean", "--format", "table"], env, 80)
    text, table = ANSI.sub("", text), ANSI.sub("", table)
    assert re.match(rf"{len({r['lead_id'] for r in found})} stale deals worth €", text)
    assert "─" not in text and "─" in table  # findings by rule, not the table
    rules = {r["rule"] for r in found}
    assert len(text.splitlines()) <= 3 * len(found) + 2 * len(rules) + 2  # the deal, why (wrapped once at most)


def test_wide_characters_are_measured_as_the_terminal_shows_them(tmp_path):
    env = environment(tmp_path, PIPECLI_DB=str(tmp_path / "w.db"))
    for name, company in (
        ("東京太郎", "株式会社サンプル東京支店営業部"),
        ("Zoë 🚀 Rocket", "🚀🚀 Launch Ltd"),
        ("Anna", "Rossi"),
    ):
        assert piped(["add-lead", name, "--company", company, "--value", "4500"], env).returncode == 0
    for width in (60, 80):
        _, screen = on_terminal(["list"], env, width)
        assert problems(screen, width) == []
        rows = [line for line in ANSI.sub("", screen).split("\n") if "€4,500.00" in line]
        ends = {cell_len(line[: line.index("€4,500.00")]) for line in rows}
        assert len(rows) == 3 and len(ends) == 1  # the amounts line up: the columns are the terminal's


PAGER = """#!/bin/sh
cat > "$1"
"""


def pager_script(tmp: Path) -> tuple[str, Path]:
    """Return a pager command that records what it was given, and the file it records to."""
    script = tmp / "pager.sh"
    script.write_text(PAGER)
    script.chmod(0o755)
    return f"{script} {tmp / 'paged.txt'}", tmp / "paged.txt"


def test_long_output_on_a_terminal_goes_through_the_pager(demo, tmp_path):
    _, env = demo
    command, paged = pager_script(tmp_path)
    everyone = len(json.loads(piped(["list", "--status", "all", "--format", "json"], env).stdout))
    code, screen = on_terminal(["list", "--status", "all"], {**env, "PIPECLI_PAGER": command}, 80, lines=30)
    assert code == 0 and paged.exists()
    shown = ANSI.sub("", paged.read_text())
    assert len([line for line in shown.split("\n") if re.match(r"\s*\d+\s", line)]) == everyone
    assert "─" in shown and problems(paged.read_text(), 80) == []  # drawn for the terminal it pages to
    assert "Matteo" not in screen  # the table went to the pager, not straight to the screen


def test_pager_choice_pipecli_pager_then_pager_and_never_when_piped_or_short(demo, tmp_path):
    _, env = demo
    (tmp_path / "mine").mkdir()
    (tmp_path / "theirs").mkdir()
    mine, mine_file = pager_script(tmp_path / "mine")
    theirs, theirs_file = pager_script(tmp_path / "theirs")
    args = ["list", "--status", "all"]
    on_terminal(args, {**env, "PAGER": theirs, "PIPECLI_PAGER": mine}, 80, lines=30)
    assert mine_file.exists() and not theirs_file.exists()  # PIPECLI_PAGER first
    mine_file.unlink()
    no_pipecli_pager = {k: v for k, v in env.items() if k != "PIPECLI_PAGER"}
    on_terminal(args, {**no_pipecli_pager, "PAGER": theirs}, 80, lines=30)
    assert theirs_file.exists() and not mine_file.exists()  # else $PAGER
    theirs_file.unlink()
    code, screen = on_terminal(["--no-pager", *args], {**env, "PIPECLI_PAGER": mine}, 80, lines=30)
    assert code == 0 and not mine_file.exists() and "Matteo" in screen  # --no-pager: straight to the screen
    out = piped(args, {**env, "PIPECLI_PAGER": mine})
    assert out.returncode == 0 and not mine_file.exists() and "Matteo" in out.stdout  # never into a pipe
    code, screen = on_terminal(["funnel"], {**env, "PIPECLI_PAGER": mine}, 80, lines=30)
    assert code == 0 and not mine_file.exists() and "Funnel" in screen  # it fits the screen: no pager


def test_messages_keep_their_place_and_a_missing_pager_still_shows_the_output(demo):
    _, env = demo
    code, screen = on_terminal(["list", "--status", "all"], {**env, "PIPECLI_PAGER": "no-such-pager-x"}, 80, 30)
    assert code == 0 and "Matteo" in screen
    code, screen = on_terminal(["list", "--columns", "nope"], env, 80, lines=30)
    assert code == 2 and "unknown column nope" in screen


def test_force_color_and_clicolor_force_colour_a_pipe_unless_no_color(demo):
    _, env = demo
    assert not COLOUR.search(piped(["list"], env).stdout)
    for force in ({"FORCE_COLOR": "1"}, {"CLICOLOR_FORCE": "1"}):
        coloured = piped(["list"], {**env, **force}).stdout
        assert COLOUR.search(coloured) and "Matteo" in coloured
        assert not COLOUR.search(piped(["list"], {**env, **force, "NO_COLOR": "1"}).stdout)  # NO_COLOR wins
    assert not COLOUR.search(piped(["list"], {**env, "FORCE_COLOR": "0"}).stdout)
