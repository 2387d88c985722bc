"""Bad database files, hostile values and file permissions: a clear one-line error, never a traceback,
and nothing changed; values stored and shown as plain text; private files."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
import tempfile
import zipfile
from pathlib import Path

import pytest


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def _bad_files(tmp_path, good: Path) -> dict[str, tuple[Path, str]]:
    """Return {case: (file, words the error must contain)} of files that are not usable pipecli databases."""
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE songs (title TEXT)")
    text = tmp_path / "notes.db"
    text.write_text("name,email\nAnna,anna@example.com\n")
    archive = tmp_path / "leads.db"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("leads.csv", "name\nAnna\n")
    data = good.read_bytes()
    half = tmp_path / "half.db"
    half.write_bytes(data[: len(data) // 2])
    header_only = tmp_path / "header.db"
    header_only.write_bytes(data[:100])
    return {
        "another SQLite database": (other, "not a pipecli database"),
        "a text file": (text, "text file"),
        "a zip archive": (archive, "ZIP archive"),
        "a file truncated to half": (half, "damaged"),
        "a file truncated to its header": (header_only, "damaged"),
        "a folder": (tmp_path, "folder"),
    }


@pytest.mark.sqlite_only
@pytest.mark.parametrize(
    "command", [["list"], ["add-lead", "X"], ["board"], ["forget", "1", "--yes"], ["backup", "b.db"]]
)
def test_bad_database_files_get_a_clear_error(cli, db_path, tmp_path, command):
    from conftest import Cli

    cli("demo", "--leads", "10")
    for case, (path, words) in _bad_files(tmp_path, Path(db_path)).items():
        before = sorted(os.listdir(path.parent)), None if path.is_dir() else path.read_bytes()
        args = [a if a != "b.db" else str(tmp_path / "b.db") for a in command]
        result = Cli(str(path))(*args, ok=False)
        assert result.exit_code == 1, (case, result.stderr)
        assert result.stderr.startswith("pipecli: ") and result.stderr.count("\n") == 1, (case, result.stderr)
        assert words in result.stderr, (case, result.stderr)
        assert str(path) in result.stderr, (case, result.stderr)
        after = sorted(os.listdir(path.parent)), None if path.is_dir() else path.read_bytes()
        assert after == before, case  # untouched, and no -wal / -shm / backup file appeared


def _as_other_user(args: list[str], db: str) -> dict:
    """Run pipecli in-process in a child that cannot write `db`: as user nobody when we are root (root
    ignores file modes), as ourselves otherwise. Return {code, stderr, stdout}."""
    from typer.testing import CliRunner

    from pipecli.cli import app

    runner = CliRunner()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        os.close(read)
        try:
            if os.geteuid() == 0:
                os.setgid(65534)
                os.setuid(65534)
            result = runner.invoke(app, ["--db", db, *args])
            out = {"code": result.exit_code, "stderr": result.stderr, "stdout": result.stdout}
        except BaseException as exc:
            out = {"code": -1, "stderr": repr(exc), "stdout": ""}
        os.write(write, json.dumps(out).encode())
        os._exit(0)
    os.close(write)
    data = b""
    while chunk := os.read(read, 65536):
        data += chunk
    os.close(read)
    os.waitpid(pid, 0)
    return json.loads(data)


@pytest.mark.sqlite_only
@pytest.mark.parametrize("folder_writable", [True, False])
def test_read_only_database(cli, folder_writable):
    folder = Path(tempfile.mkdtemp(prefix="pipecli-ro-"))
    try:
        db = folder / "pipeline.db"
        from conftest import Cli

        owner = Cli(str(db))
        owner("add-lead", "Anna", "--value", "100")
        owner("list")  # warms every import the child needs (it may not be able to read our site-packages)
        copy = folder / "copy.db"
        owner("backup", str(copy))
        os.chmod(copy, 0o644)
        os.chmod(db, 0o444)
        os.chmod(folder, 0o777 if folder_writable else 0o755)
        before = db.read_bytes()
        for args in (
            ["add-lead", "X"],
            ["move", "1", "won"],
            ["forget", "1", "--yes"],
            ["restore", str(copy), "--yes"],
        ):
            result = _as_other_user(args, str(db))
            assert result["code"] == 1, (args, result)
            assert result["stderr"].startswith("pipecli: ") and result["stderr"].count("\n") == 1, result
            assert "is read-only" in result["stderr"], result
        if folder_writable:  # reading needs only the folder (for SQLite's shared-memory file)
            listed = _as_other_user(["list", "--format", "csv"], str(db))
            assert listed["code"] == 0 and "Anna" in listed["stdout"], listed
        assert db.read_bytes() == before
    finally:
        os.chmod(folder, 0o700)
        shutil.rmtree(folder)


HOSTILE = {
    "sql": "Robert'); DROP TABLE lead; --",
    "sql2": "x' OR '1'='1",
    "shell": "$(rm -rf ~) `reboot` ; echo pwned | sh && true",
    "terminal": "Evil\x1b[2J\x1b[31mRED\x1b]0;owned\x07\x08\x9b",
    "carriage": "Anna\rBob",
    "unicode": "Zoë 李 \u202eevil\u202c 🙂",
    "percent": "100% {name} %(x)s \\N",
}


def test_hostile_values_are_stored_and_shown_as_plain_text(cli):
    ids = {}
    for key, value in HOSTILE.items():
        ids[key] = int(cli("add-lead", value, "--company", value, "--owner", value, "--note", value).stdout)
    assert cli.scalar("SELECT COUNT(*) FROM lead") == len(HOSTILE)  # no table was dropped
    for key, value in HOSTILE.items():
        row = cli.sql("SELECT name, company, owner FROM lead WHERE id = :i", i=ids[key])[0]
        assert tuple(row) == (value, value, value), key
        assert cli.scalar("SELECT note FROM activity WHERE lead_id = :i", i=ids[key]) == value
        found = json.loads(cli("list", "--owner", value, "--format", "json").stdout)
        assert [r["id"] for r in found] == [ids[key]], key  # a filter value is a value, not SQL
    exported = json.loads(cli("list", "--format", "json").stdout)
    assert [r["name"] for r in exported] == list(HOSTILE.values())  # JSON carries values unchanged
    for args in (("list",), ("board",), ("show", ids["terminal"]), ("show", ids["carriage"])):
        shown = cli(*args).stdout
        assert "\x1b" not in shown and "\x07" not in shown and "\x08" not in shown and "\x9b" not in shown, args
        assert "\r" not in shown and "\u202e" not in shown, args
    table = cli("list").stdout
    assert "Evil\\x1b[2J\\x1b[31mRED" in table and "Anna\\rBob" in table


def test_control_characters_refused_in_pipeline_and_stage_names(cli):
    for args in (("pipeline", "add", "Bad\x1bName", "--stages", "A"), ("pipeline", "add", "Ok", "--stages", "A\x07,B")):
        result = cli(*args, ok=False)
        assert result.exit_code == 1 and "control characters" in result.stderr
    assert cli.scalar("SELECT COUNT(*) FROM pipeline") == 1


@pytest.mark.sqlite_only
def test_database_and_backups_are_private(cli, db_path, tmp_path):
    old = os.umask(0o022)  # a usual, permissive umask
    try:
        nested = tmp_path / "new" / "folder" / "pipeline.db"
        from conftest import Cli

        Cli(str(nested))("add-lead", "Anna")
        assert _mode(nested) == 0o600 and _mode(nested.parent) == 0o700
        cli("add-lead", "Anna")
        watcher = sqlite3.connect(db_path)  # keeps the WAL and shared-memory files in place
        watcher.execute("SELECT 1 FROM lead").fetchone()
        cli("add-lead", "Bob")
        assert _mode(db_path) == 0o600 and _mode(db_path + "-wal") == 0o600
        watcher.close()
        cli("backup", str(tmp_path / "copy.db"))
        assert _mode(tmp_path / "copy.db") == 0o600
        restored = tmp_path / "restored.db"
        from conftest import Cli as C

        C(str(restored))("restore", str(tmp_path / "copy.db"), "--yes")
        assert _mode(restored) == 0o600
    finally:
        os.umask(old)
