"""Formula injection (issue 19): `list`, `show`, `score` and `clean` with `--format csv` defuse text cells a
spreadsheet would run (=, +, -, @ first), as `export` does; `--raw` writes them as stored."""

from __future__ import annotations

import csv
import io

import pytest

FORMULA = '=HYPERLINK("http://evil.example","click")'


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


@pytest.mark.parametrize("command", [["list"], ["show", "1"], ["score"], ["clean"]])
def test_csv_output_defuses_formulas_unless_raw(cli, command):
    cli("add-lead", FORMULA, "--phone", "+39 06 1234", "--value", "5", "--at", "2026-01-01")
    defused = _rows(cli(*command, "--format", "csv").stdout)
    assert defused and all(row["name"] == "'" + FORMULA for row in defused)
    if "phone" in defused[0]:
        assert defused[0]["phone"] == "'+39 06 1234"
    raw = _rows(cli(*command, "--format", "csv", "--raw").stdout)
    assert all(row["name"] == FORMULA for row in raw)


def test_defused_list_csv_imports_back_as_stored(cli, tmp_path):
    cli("add-lead", FORMULA, "--email", "anna@x.co")
    listed = tmp_path / "listed.csv"
    listed.write_text(cli("list", "--format", "csv").stdout)
    other = type(cli)(str(tmp_path / "other.db"))
    other("import", str(listed), "--map", "id=ignore")
    assert other.scalar("SELECT name FROM lead") == FORMULA
