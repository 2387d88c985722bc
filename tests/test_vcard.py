"""`pipecli import contacts.vcf`: vCard 3 and 4 into leads, as the CSV import of the same contacts."""

from __future__ import annotations

VCF = (
    "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Rossi;Anna;;;\r\nFN:Anna Rossi\r\nORG:Rossi Srl;Vendite\r\n"
    "EMAIL;TYPE=INTERNET,WORK:anna@rossi.it\r\nTEL;TYPE=WORK,VOICE:+39 02 1234567\r\n"
    "NOTE:Met at the fair\\, wants a demo\\nin March\r\nEND:VCARD\r\n"
    "BEGIN:VCARD\r\nVERSION:4.0\r\nN:Jones;Bob;;;\r\nORG:Acme\r\nEMAIL;TYPE=work:bob@acme.com\r\n"
    "TEL;VALUE=uri;TYPE=cell:tel:+1-555-0100\r\nNOTE:a long note that is fol\r\n ded over two lines\r\nEND:VCARD\r\n"
)
CSV = (
    "name,company,email,phone,note\n"
    'Anna Rossi,Rossi Srl,anna@rossi.it,+39 02 1234567,"Met at the fair, wants a demo\nin March"\n'
    "Bob Jones,Acme,bob@acme.com,+1-555-0100,a long note that is folded over two lines\n"
)


def contents(cli) -> list[tuple]:
    return cli.sql(
        "SELECT l.name, l.company, l.email, l.phone, a.note, l.status FROM lead l "
        "LEFT JOIN activity a ON a.lead_id = l.id AND a.kind = 'note' ORDER BY l.id"
    )


def test_vcard_imports_as_the_same_contacts_as_csv(cli, fresh_cli, tmp_path):
    path = tmp_path / "contacts.vcf"
    path.write_text(VCF, newline="")
    result = cli("import", str(path))
    assert "2 inserted, 0 updated, 0 unchanged, 0 rejected" in result.stderr
    other, _ = fresh_cli()
    same = tmp_path / "contacts.csv"
    same.write_text(CSV, newline="")
    other("import", str(same))
    assert contents(cli) == contents(other)
    assert contents(cli)[0] == (
        "Anna Rossi",
        "Rossi Srl",
        "anna@rossi.it",
        "+39 02 1234567",
        "Met at the fair, wants a demo\nin March",
        "open",
    )
    assert contents(cli)[1][0] == "Bob Jones"  # vCard 4 without FN: N read given name first
    assert contents(cli)[1][3] == "+1-555-0100"  # vCard 4's TEL as a `tel:` URI: the number is the phone


def test_vcard_without_a_name_writes_nothing(cli, tmp_path):
    path = tmp_path / "contacts.vcf"
    path.write_text(VCF + "BEGIN:VCARD\r\nVERSION:4.0\r\nEMAIL:x@y.com\r\nEND:VCARD\r\n", newline="")
    result = cli("import", str(path), ok=False)
    assert result.exit_code == 1
    assert result.stderr.strip() == f"pipecli: {path}, line 19: a vCard without a name (FN or N); nothing was imported"
    assert cli.scalar("SELECT COUNT(*) FROM lead") == 0
