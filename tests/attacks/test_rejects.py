"""Attacks on the `--rejects` file (issue 19): it must never destroy the database or the input, and it
holds personal data, so it is private, written whole or not at all, and never replaces a file unasked."""

from __future__ import annotations

import os
import stat

import pytest

pytestmark = pytest.mark.sqlite_only

CSV = "name,email\nAnna,anna@x.co\nBad,not-an-email\n"


def _mode(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.fixture
def leads_csv(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text(CSV)
    return path


def test_rejects_onto_the_database_is_refused_and_the_database_survives(cli, db_path, leads_csv):
    cli("demo", "--leads", "50")
    before = cli.every_row()
    result = cli("import", str(leads_csv), "--skip-invalid", "--rejects", db_path, ok=False)
    assert result.exit_code == 1
    assert "is the database" in result.stderr
    assert cli.every_row() == before  # the 50 leads are all there, and the file is still SQLite
    with open(db_path, "rb") as handle:
        assert handle.read(16) == b"SQLite format 3\x00"


@pytest.mark.parametrize("how", ["dotdot", "symlink", "wal"])
def test_rejects_onto_the_database_by_another_name_is_refused(cli, db_path, leads_csv, tmp_path, how):
    cli("demo", "--leads", "10")
    before = cli.every_row()
    if how == "dotdot":
        path = f"{tmp_path}/../{tmp_path.name}/pipeline.db"
    elif how == "symlink":
        path = str(tmp_path / "innocent.csv")
        os.symlink(db_path, path)
    else:
        path = db_path + "-wal"
    result = cli("import", str(leads_csv), "--skip-invalid", "--rejects", path, ok=False)
    assert result.exit_code == 1 and "the database" in result.stderr
    assert cli.every_row() == before


def test_rejects_onto_the_input_is_refused_and_the_input_survives(cli, leads_csv):
    result = cli("import", str(leads_csv), "--skip-invalid", "--rejects", str(leads_csv), ok=False)
    assert result.exit_code == 1 and "the file being imported" in result.stderr
    assert leads_csv.read_text() == CSV
    assert cli.scalar("SELECT COUNT(*) FROM lead") == 0


def test_rejects_file_is_private_and_holds_the_rejected_row(cli, leads_csv, tmp_path):
    rejects = tmp_path / "bad.csv"
    cli("import", str(leads_csv), "--skip-invalid", "--rejects", str(rejects))
    assert _mode(rejects) == 0o600
    lines = rejects.read_text().splitlines()
    assert lines[0] == "name,email,reason" and lines[1].startswith("Bad,not-an-email,")
    assert len(lines) == 2
    assert sorted(p.name for p in tmp_path.iterdir() if "partial" in p.name) == []  # no temporary file left


def test_rejects_refuses_an_existing_file_without_force(cli, leads_csv, tmp_path):
    rejects = tmp_path / "bad.csv"
    rejects.write_text("keep me")
    result = cli("import", str(leads_csv), "--skip-invalid", "--rejects", str(rejects), ok=False)
    assert result.exit_code == 1 and "--force" in result.stderr
    assert rejects.read_text() == "keep me"
    assert cli.scalar("SELECT COUNT(*) FROM lead") == 0  # refused before anything was imported
    cli("import", str(leads_csv), "--skip-invalid", "--rejects", str(rejects), "--force")
    assert rejects.read_text().startswith("name,email,reason")
    assert cli.scalar("SELECT COUNT(*) FROM lead") == 1


def test_rejects_never_follows_a_symlink(cli, leads_csv, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    link = tmp_path / "bad.csv"
    os.symlink(victim, link)
    for extra in ([], ["--force"]):
        result = cli("import", str(leads_csv), "--skip-invalid", "--rejects", str(link), *extra, ok=False)
        assert result.exit_code == 1 and "symbolic link" in result.stderr
    assert victim.read_text() == "precious" and link.is_symlink()


def test_rejects_written_only_when_rows_were_rejected(cli, tmp_path):
    good = tmp_path / "good.csv"
    good.write_text("name,email\nAnna,anna@x.co\n")
    rejects = tmp_path / "bad.csv"
    cli("import", str(good), "--skip-invalid", "--rejects", str(rejects))
    assert not rejects.exists()
    assert os.listdir(tmp_path).count("bad.csv") == 0


def test_rejects_untouched_when_the_import_is_refused(cli, leads_csv, tmp_path):
    rejects = tmp_path / "bad.csv"
    rejects.write_text("from last night")
    # without --skip-invalid the import is all or nothing: refused, and the old rejects file stays
    result = cli("import", str(leads_csv), "--rejects", str(rejects), "--force", ok=False)
    assert result.exit_code == 1
    assert rejects.read_text() == "from last night"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".partial")] == []


@pytest.mark.parametrize("where", ["missing/bad.csv", "folder"])
def test_rejects_in_a_missing_folder_or_onto_a_folder_is_one_line(cli, leads_csv, tmp_path, where):
    (tmp_path / "folder").mkdir()
    result = cli("import", str(leads_csv), "--skip-invalid", "--rejects", str(tmp_path / where), ok=False)
    assert result.exit_code == 1
    assert len(result.stderr.strip().splitlines()) == 1 and "internal error" not in result.stderr
