"""Attacks on the paths pipecli writes (issue 19): `backup` and `restore` compare real files (device and
inode, through symlinks and `..`), never path strings, so no name for the live database gets it replaced."""

from __future__ import annotations

import os
import stat

import pytest

from pipecli.store import files

pytestmark = pytest.mark.sqlite_only


def test_same_file_sees_through_dotdot_symlinks_and_hard_links(tmp_path):
    real = tmp_path / "live.db"
    real.write_text("x")
    os.symlink(real, tmp_path / "link.db")
    os.link(real, tmp_path / "hard.db")
    (tmp_path / "sub").mkdir()
    assert files.same_file(real, f"{tmp_path}/sub/../live.db")
    assert files.same_file(tmp_path / "link.db", real)
    assert files.same_file(tmp_path / "hard.db", real)
    assert not files.same_file(real, tmp_path / "other.db")
    # neither exists yet: the resolved paths decide
    assert files.same_file(tmp_path / "new.db", f"{tmp_path}/sub/../new.db")


@pytest.mark.parametrize("how", ["dotdot", "symlinked-db"])
def test_backup_onto_the_live_database_by_another_name_is_refused(cli, db_path, tmp_path, how):
    cli("demo", "--leads", "10")
    before = cli.every_row()
    inode = os.stat(db_path).st_ino
    if how == "dotdot":
        (tmp_path / "sub").mkdir()
        cli_used, target = cli, f"{tmp_path}/sub/../{os.path.basename(db_path)}"
    else:  # the database is opened through a symlink; the backup names the real file behind it
        link = tmp_path / "link.db"
        os.symlink(db_path, link)
        cli_used, target = type(cli)(str(link)), db_path
    result = cli_used("backup", target, "--yes", ok=False)
    assert result.exit_code == 1 and "is the database" in result.stderr
    assert os.stat(db_path).st_ino == inode  # not replaced by a rename either
    assert cli.every_row() == before


def test_restore_of_the_database_through_a_symlink_is_refused(cli, db_path, tmp_path):
    cli("demo", "--leads", "5")
    link = tmp_path / "copy.db"
    os.symlink(db_path, link)
    result = cli("restore", str(link), "--yes", ok=False)
    assert result.exit_code == 1 and "database in use" in result.stderr


def test_backup_cleans_partials_of_killed_backups_and_keeps_live_ones(cli, tmp_path):
    cli("add-lead", "Anna")
    dest = tmp_path / "b.db"
    dead = 2**22 + 12345  # above Linux's default pid_max: no such process
    stale = tmp_path / f".b.db.{dead}.partial"
    stale.write_text("a killed backup's copy")
    live = tmp_path / f".b.db.{os.getppid()}.partial"  # a backup still running (our parent is alive)
    live.write_text("in progress")
    cli("backup", str(dest))
    assert not stale.exists() and live.exists()
    assert stat.S_IMODE(os.stat(dest).st_mode) == 0o600
