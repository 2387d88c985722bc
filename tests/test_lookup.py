"""Names wherever an id is taken: `show Rossi`, `move "Anna Rossi" Meeting`, `log anna@rossi.it call`, `#12`."""

import json


def _leads(cli):
    ids = {}
    for name, company, email, ext in [
        ("Anna Rossi", "Rossi Srl", "anna@rossi.it", "CRM-1"),
        ("Marco Rossi", "Bianchi SpA", "marco@bianchi.it", None),
        ("Lena Weber", "Weber GmbH", None, "CRM-3"),
    ]:
        args = ["add-lead", name, "--company", company] + (["--email", email] if email else [])
        args += ["--external-id", ext] if ext else []
        ids[name] = int(cli(*args).stdout.strip())
    return ids


def test_every_kind_of_reference_names_one_lead(cli):
    ids = _leads(cli)
    for ref, name in [
        (str(ids["Lena Weber"]), "Lena Weber"),
        (f"#{ids['Lena Weber']}", "Lena Weber"),
        ("ANNA@rossi.it", "Anna Rossi"),
        ("CRM-3", "Lena Weber"),
        ("weber", "Lena Weber"),
        ("Anna Rossi", "Anna Rossi"),
        ("bianchi", "Marco Rossi"),
    ]:
        shown = json.loads(cli("show", ref, "--format", "json").stdout)
        assert shown["name"] == name, ref


def test_move_log_and_edit_take_a_name_and_write_the_named_lead(cli):
    ids = _leads(cli)
    cli("move", "Anna Rossi", "Contact")
    cli("log", "anna@rossi.it", "call")
    cli("edit", "#" + str(ids["Lena Weber"]), "--owner", "bob")
    stage = cli.sql("SELECT s.name FROM lead l JOIN stage s ON s.id = l.stage_id WHERE l.id = :i", i=ids["Anna Rossi"])
    assert stage[0][0] == "Contact"
    calls = cli.sql("SELECT count(*) FROM activity WHERE lead_id = :i AND kind = 'call'", i=ids["Anna Rossi"])
    assert calls[0][0] == 1
    assert cli.sql("SELECT owner FROM lead WHERE id = :i", i=ids["Lena Weber"])[0][0] == "bob"


def test_several_matches_list_the_candidates_and_change_nothing(cli):
    ids = _leads(cli)
    before = cli.sql("SELECT id, stage_id FROM lead ORDER BY id")
    result = cli("move", "Rossi", "Contact", ok=False)
    assert result.exit_code == 1
    assert result.stderr == (
        f"pipecli: 'Rossi' matches 2 leads, give one of them: #{ids['Anna Rossi']} Anna Rossi (Rossi Srl, Prospecting);"
        f" #{ids['Marco Rossi']} Marco Rossi (Bianchi SpA, Prospecting)\n"
    )
    assert "Traceback" not in result.stderr
    assert cli.sql("SELECT id, stage_id FROM lead ORDER BY id") == before


def test_no_match_is_one_line_and_exit_1(cli):
    _leads(cli)
    result = cli("show", "Nobody", ok=False)
    assert result.exit_code == 1
    assert result.stderr == "pipecli: no lead matches 'Nobody' (see `pipecli list --search`)\n"
    missing = cli("show", "#999", ok=False)
    assert missing.exit_code == 1
    assert missing.stderr == "pipecli: no lead with id 999 (see `pipecli list`)\n"


def test_list_search_keeps_the_leads_whose_name_company_email_or_external_id_match(cli):
    ids = _leads(cli)

    def found(text):
        return sorted(r["id"] for r in json.loads(cli("list", "--search", text, "--format", "json").stdout))

    assert found("rossi") == sorted([ids["Anna Rossi"], ids["Marco Rossi"]])
    assert found("GmbH") == [ids["Lena Weber"]]
    assert found("@bianchi") == [ids["Marco Rossi"]]
    assert found("CRM-1") == [ids["Anna Rossi"]]
    assert found("50%") == []
