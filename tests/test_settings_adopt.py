"""First-open adoption of shared settings (issue 16), on both backends.

"On first open, a database without shared settings adopts the opener's config values once and says so;
afterwards a personal config that still sets a shared key gets a warning naming the database value." The
first *write* adopts (a command that only reads changes nothing), as a journal entry of its own ahead of
the command's, and a failed write adopts nothing. `settings import` counts as the adoption. On PostgreSQL
with a team only an admin adopts (a seller may not change settings).
"""

from __future__ import annotations

import json

import test_settings
import test_team

ADOPTER = 'currency = "CHF"\nlocale = "it_IT"\n[scoring]\nhot_threshold = 55\n[clean]\nsample = 300\n'


seller = test_settings.seller  # the config file of the seller now at the keyboard (and their name)


def stored(cli) -> dict:
    return {key: json.loads(value) for key, value in cli.sql("SELECT key, value FROM setting")}


def adopted_lines(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if "had no shared settings" in line]


def test_the_first_write_adopts_the_config_files_shared_keys_once_and_says_so(cli, seller, tmp_path):
    seller("anna", ADOPTER)
    assert cli("list").exit_code == 0 and stored(cli) == {}  # a read adopts nothing
    first = cli("add-lead", "Acme", "--value", "4500.50")

    # the shared keys, checked as the setting takes them (a float threshold); locale and user are personal
    assert stored(cli) == {"currency": "CHF", "scoring.hot_threshold": 55.0, "clean.sample": 300}
    [line] = adopted_lines(first)
    assert f"{tmp_path / 'anna.toml'}" in line
    assert "currency = 'CHF'" in line and "scoring.hot_threshold = 55.0" in line and "clean.sample = 300" in line
    # its own journal entry, before the command's, with the three settings' events and nothing else
    journal = cli.sql("SELECT id, actor, command FROM journal ORDER BY id")
    assert [actor for _, actor, _ in journal] == ["anna", "anna"]
    assert journal[0][2].startswith(f"adopt the shared settings of {tmp_path / 'anna.toml'} (on the first write: ")
    assert journal[1][2].endswith("add-lead Acme --value 4500.50")
    fields = cli.sql("SELECT journal_id, field FROM event ORDER BY id")
    assert {f for j, f in fields if j == journal[0][0]} == {"row:setting"}
    assert sum(1 for j, _ in fields if j == journal[0][0]) == 3
    assert all(f != "row:setting" for j, f in fields if j == journal[1][0])
    assert cli.scalar("SELECT set_by FROM setting WHERE key = 'currency'") == "anna"

    again = cli("add-lead", "Beta")
    assert adopted_lines(again) == [] and "warning" not in again.stderr  # once; the file agrees with the database

    seller("marco", 'currency = "JPY"\n[scoring]\nhot_threshold = 20\n')
    listed = cli("list", "--format", "json")
    assert json.loads(listed.stdout)[0]["value"] == 4500.5  # 450050 minor units of CHF for marco too
    assert "currency = 'JPY'" in listed.stderr and "holds 'CHF'" in listed.stderr
    assert "hot_threshold = 20" in listed.stderr and "holds 55.0" in listed.stderr
    cli("add-lead", "Gamma")
    assert stored(cli)["currency"] == "CHF"  # marco's write adopts nothing: the database has its settings


def test_a_failed_write_adopts_nothing_and_the_next_write_does(cli, seller):
    seller("anna", ADOPTER)
    failed = cli("move", "999", "Contact", ok=False)
    assert failed.exit_code == 1 and adopted_lines(failed) == []
    assert stored(cli) == {} and cli.sql("SELECT key FROM meta WHERE key = 'settings_adopted'") == []
    assert cli.scalar("SELECT COUNT(*) FROM journal") == 0
    assert len(adopted_lines(cli("add-lead", "Acme"))) == 1
    assert stored(cli)["currency"] == "CHF"


def test_a_database_adopts_only_once_even_after_its_settings_were_unset(cli, seller):
    seller("anna", ADOPTER)
    cli("add-lead", "Acme")
    for key in ("currency", "scoring.hot_threshold", "clean.sample"):
        cli("settings", "unset", key)
    assert stored(cli) == {}
    seller("marco", 'currency = "JPY"\n')
    later = cli("add-lead", "Beta")
    assert adopted_lines(later) == [] and stored(cli) == {}


def test_a_database_that_sets_its_own_settings_adopts_none_and_one_with_none_waits(cli, seller):
    seller("anna")  # no shared key: the first write has nothing to adopt, and a later opener may
    cli("add-lead", "Acme")
    assert cli.sql("SELECT key FROM meta WHERE key = 'settings_adopted'") == []
    cli("settings", "set", "stale_days", "9")
    seller("marco", ADOPTER)
    cli("add-lead", "Beta")
    assert stored(cli) == {"stale_days": 9}  # the database had a setting: marco's file is not adopted


def test_undo_takes_back_the_command_then_the_adoption(cli, seller):
    seller("anna", ADOPTER)
    cli("add-lead", "Acme")
    adoption, command = (row[0] for row in cli.sql("SELECT id FROM journal ORDER BY id"))
    cli("undo", command, "--yes")
    assert cli.scalar("SELECT COUNT(*) FROM lead") == 0 and len(stored(cli)) == 3
    cli("undo", adoption, "--yes")
    assert stored(cli) == {}
    assert adopted_lines(cli("add-lead", "Beta")) == []  # undone, not to be adopted again behind the user's back


def test_a_bad_value_in_the_config_file_refuses_the_write_in_one_line(cli, seller, tmp_path):
    seller("anna", '[scoring]\nhot_threshold = "hot"\n')
    result = cli("add-lead", "Acme", ok=False)
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        f"pipecli: config file {tmp_path / 'anna.toml'}: [scoring] hot_threshold must be a number, not 'hot'"
    ]
    assert stored(cli) == {} and cli.scalar("SELECT COUNT(*) FROM lead") == 0


def test_settings_import_is_the_adoption(cli, seller, tmp_path):
    team = tmp_path / "team.toml"
    team.write_text('currency = "USD"\n')
    seller("anna", ADOPTER)
    imported = cli("settings", "import", str(team))
    assert adopted_lines(imported) == [] and stored(cli) == {"currency": "USD"}
    assert cli.scalar("SELECT COUNT(*) FROM journal") == 1
    cli("add-lead", "Acme")
    assert stored(cli) == {"currency": "USD"}  # anna's file is not adopted over the imported settings


# --- PostgreSQL with a team: only an admin adopts ---------------------------------------------------------

pg_team = test_team.pg_team  # the team fixture: sellers anna and marco, manager mia, a lead each seller owns


def test_with_a_team_a_sellers_first_write_adopts_nothing_and_the_admins_does(pg_team, seller):
    t = pg_team
    t.owner.execute("DELETE FROM meta WHERE key = 'settings_adopted'")  # as a database from before adoption
    assert stored(t.owner) == {}
    seller("anna", ADOPTER)
    anna = t.as_(t.anna)
    wrote = anna("log", t.anna_lead, "call")
    assert adopted_lines(wrote) == [] and "permission denied" not in wrote.stderr
    assert stored(t.owner) == {}
    seller("boss", 'currency = "CHF"\n')
    assert len(adopted_lines(t.owner("log", t.anna_lead, "email"))) == 1
    assert stored(t.owner) == {"currency": "CHF"}
