"""Keyed imports (`pipecli import --key K`): an upsert changes only the fields the file carries, and an
e-mail key is compared as addresses are (case and surrounding spaces ignored).

Each test adds leads through the CLI, imports a file keyed on one column, and reads the stored rows back.
"""

from __future__ import annotations

import pytest

# One lead per key: what it is keyed on, its detail options, and the key column's value for it.
LEAD = ("Anna Rossi", "--company", "Rossi Srl", "--email", "anna@rossi.it", "--phone", "+39 02 1234567",
        "--external-id", "A-1", "--value", "1000")  # fmt: skip
KEY_VALUE = {"external_id": "A-1", "email": "anna@rossi.it", "company": "Rossi Srl", "phone": "+39 02 1234567"}


def stored(cli) -> list[tuple]:
    return cli.sql("SELECT name, company, email, phone, external_id, value_minor FROM lead ORDER BY id")


@pytest.mark.parametrize("key", sorted(KEY_VALUE))
def test_a_file_of_the_key_and_one_more_column_changes_only_that_column(cli, key):
    lead = int(cli("add-lead", *LEAD).stdout)
    before = stored(cli)
    result = cli("import", "-", "--key", key, input=f'{key},source\n"{KEY_VALUE[key]}",fair\n')
    assert "1 updated" in result.stderr, result.stderr
    assert stored(cli) == before  # the name is not replaced by the key (nor any field the file lacks)
    assert cli.sql("SELECT id, source FROM lead") == [(lead, "fair")]
    assert cli.sql("SELECT field FROM event WHERE lead_id = :l AND field NOT LIKE 'row:%'", l=lead) == [("source",)]


@pytest.mark.parametrize("key", sorted(KEY_VALUE))
def test_a_file_of_the_key_and_an_extra_column_keeps_the_lead_and_adds_the_extra(cli, key):
    lead = int(cli("add-lead", *LEAD).stdout)
    before = stored(cli)
    cli("import", "-", "--key", key, input=f'{key},Industry\n"{KEY_VALUE[key]}",retail\n')
    assert stored(cli) == before
    assert cli.sql("SELECT lead_id, key, value FROM lead_extra") == [(lead, "Industry", "retail")]


def test_a_new_row_without_a_name_column_is_still_named_by_its_key(cli):
    cli("import", "-", "--key", "external_id", input="external_id,source\nX-9,fair\n")
    assert cli.sql("SELECT name, external_id, source FROM lead") == [("X-9", "X-9", "fair")]


def test_a_name_column_still_renames_on_an_upsert(cli):
    lead = int(cli("add-lead", *LEAD).stdout)
    cli("import", "-", "--key", "external_id", input="external_id,name\nA-1,Anna Rossi-Bianchi\n")
    assert cli.sql("SELECT id, name FROM lead") == [(lead, "Anna Rossi-Bianchi")]


def test_an_email_key_ignores_case_and_surrounding_spaces(cli):
    lead = int(cli("add-lead", "Ana", "--email", "ana@example.com").stdout)
    result = cli("import", "-", "--key", "email", input='email,source\n"ANA@Example.com ",fair\n')
    assert "1 updated" in result.stderr and "0 inserted" in result.stderr, result.stderr
    # the lead keeps its address as typed; only the column the file brings changed
    assert cli.sql("SELECT id, name, email, source FROM lead") == [(lead, "Ana", "ana@example.com", "fair")]


def test_an_email_key_keeps_tags_and_dots_apart(cli):
    """A `+tag` or a dot makes another key: two records of the CRM the file comes from stay two leads
    (`pipecli duplicates` lists them as likely one person, for a merge the user decides)."""
    ana = int(cli("add-lead", "Ana", "--email", "ana@example.com").stdout)
    cli("import", "-", "--key", "email",
        input="email,name\nana+crm@example.com,Ana CRM\na.na@example.com,A. Na\n")  # fmt: skip
    assert cli.sql("SELECT name, email FROM lead ORDER BY id") == [
        ("Ana", "ana@example.com"),
        ("Ana CRM", "ana+crm@example.com"),
        ("A. Na", "a.na@example.com"),
    ]
    assert cli.scalar("SELECT name FROM lead WHERE id = :i", i=ana) == "Ana"


def test_two_leads_whose_addresses_differ_only_in_case_make_the_key_ambiguous(cli):
    cli("add-lead", "Ana", "--email", "ana@example.com")
    cli("add-lead", "Ana 2", "--email", "Ana@Example.com")
    before = cli.every_row()
    result = cli("import", "-", "--key", "email", input="email,source\nana@example.com,fair\n", ok=False)
    assert result.exit_code == 1
    assert "matches 2 leads; the key must be unique" in result.stderr
    assert cli.every_row() == before


def test_a_keyed_file_repeating_an_address_in_another_case_updates_one_lead(cli):
    result = cli("import", "-", "--key", "email",
                 input="email,name,source\nbo@example.com,Bo,fair\nBO@EXAMPLE.COM,Bo,web\n")  # fmt: skip
    assert "1 inserted" in result.stderr and "1 updated" in result.stderr, result.stderr
    assert cli.sql("SELECT name, email, source FROM lead") == [("Bo", "bo@example.com", "web")]
