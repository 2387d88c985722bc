"""`pipecli backup FILE` and `pipecli restore FILE`: a consistent private copy, and putting it back."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from test_faults import _bad_files
from test_migrate_to import _every_row

pytestmark = pytest.mark.sqlite_only
ROOT = Path(__file__).resolve().parents[1]


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_backup_is_a_private_consistent_copy(cli, db_path, tmp_path):
    cli("demo", "--leads", "20")
    backup = tmp_path / "copies" / "monday.db"
    backup.parent.mkdir()
    result = cli("backup", str(backup))
    assert "backed up 20 leads" in result.stderr
    assert _mode(backup) == 0o600
    # read before pipecli opens it (opening a file puts it in WAL mode, as every pipecli database runs)
    with sqlite3.connect(backup) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # one self-contained file
    assert _every_row(str(backup)) == _every_row(db_path)
    assert [p.name for p in backup.parent.iterdir()] == ["monday.db"]  # no partial file left behind


def test_backup_refuses_to_overwrite_without_yes(cli, tmp_path):
    cli("add-lead", "Anna")
    target = tmp_path / "b.db"
    target.write_text("keep me")
    result = cli("backup", str(target), ok=False)
    assert result.exit_code == 2 and "--yes" in result.stderr
    assert target.read_text() == "keep me"
    cli("backup", str(target), "--yes")
    assert _every_row(str(target))["lead"][0][4] == "Anna"


def test_restore_puts_the_backup_back(cli, db_path, tmp_path):
    cli("demo", "--leads", "15")
    saved = _every_row(db_path)
    backup = tmp_path / "b.db"
    cli("backup", str(backup))
    cli("add-lead", "Added later")
    cli("edit", "1", "--company", "Changed")
    cli("delete", "2", "--yes")
    assert _every_row(db_path) != saved
    refused = cli("restore", str(backup), ok=False)  # no terminal: needs --yes
    assert refused.exit_code == 2 and "--yes" in refused.stderr
    cli("restore", str(backup), "--yes")
    assert _every_row(db_path) == saved
    assert _mode(db_path) == 0o600
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_restore_refuses_files_that_are_not_pipecli_databases(cli, db_path, tmp_path):
    cli("demo", "--leads", "5")
    before = Path(db_path).read_bytes()
    good = tmp_path / "good.db"
    cli("backup", str(good))
    cases = {case: path for case, (path, _) in _bad_files(tmp_path, good).items()}
    cases["a missing file"] = tmp_path / "nope.db"
    for what, path in cases.items():
        result = cli("restore", str(path), "--yes", ok=False)
        assert result.exit_code == 1, what
        assert result.stderr.startswith("pipecli: ") and result.stderr.count("\n") == 1, (what, result.stderr)
        assert "Traceback" not in result.stderr
    assert Path(db_path).read_bytes() == before


def test_backup_while_another_process_writes(db_path, tmp_path):
    """A backup taken while a writer runs is a consistent snapshot: a whole number of the writer's
    transactions, each of which adds a lead and moves it."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = [sys.executable, "-m", "pipecli", "--db", db_path]
    subprocess.run([*run, "add-lead", "Seed"], check=True, env=env, capture_output=True)
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from pipecli.store.db import Store; from pipecli import leads\n"
            "s = Store.open(sys.argv[1])\n"
            "for i in range(300):\n"
            "    with s.write() as c:\n"
            "        lid = leads.add_lead(c, f'w{i}')\n"
            "        leads.move_lead(c, lid, 'Contact')\n",
            db_path,
        ],
        env=env,
        cwd=ROOT,
    )
    try:
        copies = []
        for n in range(3):
            copy = tmp_path / f"live{n}.db"
            done = subprocess.run([*run, "backup", str(copy)], env=env, capture_output=True, text=True)
            assert done.returncode == 0, done.stderr
            copies.append(copy)
    finally:
        assert writer.wait(timeout=120) == 0
    for copy in copies:
        with sqlite3.connect(copy) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            leads = conn.execute("SELECT COUNT(*) FROM lead").fetchone()[0]
            moves = conn.execute("SELECT COUNT(*) FROM stage_change WHERE from_stage_id IS NOT NULL").fetchone()[0]
            assert moves == leads - 1  # every writer transaction whole: its lead and its move


def test_backup_and_restore_refuse_postgresql(tmp_path):
    from conftest import Cli

    pg = Cli("postgresql://nobody@127.0.0.1:1/none")
    for args in (("backup", str(tmp_path / "x.db")), ("restore", str(tmp_path / "x.db"), "--yes")):
        result = pg(*args, ok=False)
        assert result.exit_code == 1 and result.stderr.count("\n") == 1
    assert not (tmp_path / "x.db").exists()
