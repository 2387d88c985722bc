"""What `show` and `list` load (issue 14's start-up figures, `benchmarks/startup.py`): reading a lead, its
history and recent changes needs none of the models (SQLModel, pydantic's schema building, the ORM) nor
pendulum, even for leads whose creation event the bulk import wrote as an array; the plain column lists
the journal reads those events by are the models' own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipecli.store import columns, journal
from pipecli.store.matchkeys import MATCH_COLUMNS
from pipecli.store.schema import METADATA, SNAPSHOT_COLUMNS

ROOT = Path(__file__).parent.parent
# recomputed (the scores) or derived from the snapshot (the match keys), not snapshotted
DERIVED = {"score", "fit_score", "win_probability", "engagement", "engagement_at", *MATCH_COLUMNS}


def test_the_journals_plain_column_lists_are_the_models():
    lead = [c.name for c in METADATA.tables["lead"].columns]
    assert SNAPSHOT_COLUMNS is columns.SNAPSHOT_COLUMNS
    # every column but the derived ones, each once (in an order of their own: the arrays already written)
    assert sorted(SNAPSHOT_COLUMNS) == sorted(c for c in lead if c not in DERIVED)
    for table in journal.NESTED_TABLES:
        assert journal.nested_columns(table) == [c.name for c in METADATA.tables[table].columns if c.name != "lead_id"]


@pytest.mark.sqlite_only  # what a process imports does not depend on the backend
def test_show_and_list_of_imported_leads_load_no_models_nor_pendulum(cli, db_path, tmp_path):
    csv = tmp_path / "leads.csv"
    csv.write_text(
        "name,company,email,value,stage\nAnna Rossi,Acme,anna@acme.example,4500.50,Proposal\nBruno,B,b@b.example,10,Contact\n"
    )
    cli("import", str(csv))
    cli("log", "1", "call", "--note", "first call")
    # the import's creation events are arrays, with the opening stage change nested: what show reads here
    assert [r[0][:1] for r in cli.sql("SELECT new FROM event WHERE field = 'row:lead'")] == ["[", "["]
    probe = (
        "import sys\n"
        "from pipecli.cli import app\n"
        "try:\n"
        "    app(sys.argv[1:])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = [m for m in ('pendulum', 'sqlmodel', 'sqlalchemy.orm', 'pipecli.store.schema') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PIPECLI_DB": db_path}
    for args in (["show", "1"], ["list", "--limit", "20"]):
        out = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True, env=env, cwd=ROOT)
        assert "HEAVY []" in out.stdout, out.stdout + out.stderr
    shown = cli("show", "1").stdout
    # the output is what it was: the lead, its history from the import's array event, its call, its changes
    assert "Anna Rossi" in shown and "€4,500.50" in shown and "Proposal" in shown and "first call" in shown
    assert "created" in shown
