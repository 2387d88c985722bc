"""Owners in an import on PostgreSQL with a team (issue 16), on the real server.

As `add-lead --owner` checks: an imported row's owner must be a team member, a seller's row without owner
becomes the seller's, and a seller may not import a lead for another seller. Each such row is a per-row
reject with its reason (all or nothing by default: the whole import refused, nothing written; with
--skip-invalid the others land and the row goes to --rejects). Skipped without PIPECLI_TEST_PG_URL.
"""

from __future__ import annotations

import csv
import json

import test_team

pg_team = test_team.pg_team  # the team fixture: sellers anna and marco, manager mia, a lead each seller owns


def write_csv(path, rows) -> str:
    with open(path, "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["name", "owner", "value"])
        writer.writerows(rows)
    return str(path)


def owners(cli) -> list[tuple]:
    return cli.sql("SELECT name, owner FROM lead ORDER BY id")


def test_an_owner_outside_the_team_is_a_rejected_row(pg_team, tmp_path):
    t = pg_team
    before = t.owner.every_row()
    rows = [("One", t.anna, "10"), ("Two", "bob", "20"), ("Three", "", "30"), ("Four", t.marco.upper(), "40")]
    file = write_csv(tmp_path / "in.csv", rows)
    members = f"{t.anna}, {t.marco}, {t.mia}"

    refused = t.owner("import", file, ok=False)
    assert refused.exit_code == 1
    assert (
        f"line 3, column 'owner', value 'bob': owner bob is not a member of the team (members: {members});"
        " see `pipecli team list`"
    ) in refused.stderr
    assert t.owner.every_row() == before  # all or nothing

    rejects = tmp_path / "bad.csv"
    done = t.owner("import", file, "--skip-invalid", "--rejects", str(rejects))
    assert "3 inserted, 0 updated, 0 unchanged, 1 rejected" in done.stderr
    # the admin's row without owner stays without one; an owner is stored as the member's role name
    assert owners(t.owner)[-3:] == [("One", t.anna), ("Three", None), ("Four", t.marco)]
    with open(rejects, newline="") as back:
        bad = list(csv.reader(back))
    assert bad[1][:3] == ["Two", "bob", "20"] and "is not a member of the team" in bad[1][3]


def test_a_seller_imports_only_their_own_leads(pg_team, tmp_path):
    t = pg_team
    anna = t.as_(t.anna)
    before = t.owner.every_row()
    file = write_csv(tmp_path / "in.csv", [("Mine", t.anna, "10"), ("Unowned", "", "20"), ("For Marco", t.marco, "30")])

    refused = anna("import", file, ok=False)
    assert refused.exit_code == 1
    assert (
        f"line 4, column 'owner', value '{t.marco}': permission denied: seller {t.anna} may not give a lead"
        f" to {t.marco}; nothing was changed"
    ) in refused.stderr
    assert t.owner.every_row() == before

    done = anna("import", file, "--skip-invalid", "--rejects", str(tmp_path / "bad.csv"))
    assert "2 inserted, 0 updated, 0 unchanged, 1 rejected" in done.stderr
    assert owners(t.owner)[-2:] == [("Mine", t.anna), ("Unowned", t.anna)]  # a row without owner is hers
    assert t.owner.scalar("SELECT COUNT(*) FROM lead WHERE owner = :m", m=t.marco) == 2  # marco's two, no more
    # marco still sees only his own leads
    seen = json.loads(t.as_(t.marco)("list", "--format", "json").stdout)
    assert {row["owner"] for row in seen} == {t.marco}


def test_without_a_team_owner_stays_free_text(cli, tmp_path, backend):
    file = write_csv(tmp_path / "in.csv", [("One", "Whoever Likes", "10")])
    cli("import", file)
    assert owners(cli) == [("One", "Whoever Likes")]
