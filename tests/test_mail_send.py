"""Sending mail over a real SMTP server (aiosmtpd on loopback, started per test): `clean --mail-to`,
`changes --mail-to`, `mail send` from templates (threading, the daily cap, --dry-run) and the failures:
unreachable server, wrong password, unknown template field: one line, exit 1, nothing logged."""

from __future__ import annotations

import email
import email.policy
import socket
import textwrap

import pytest

PASSWORD = "s3cret-Pa55"


class Inbox:
    """An aiosmtpd handler keeping every message it receives (envelope and parsed message)."""

    def __init__(self):
        self.received = []

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(authenticate: bool = False, **options):
    """Start aiosmtpd on 127.0.0.1; return (controller, inbox)."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = auth_data.login == b"anna" and auth_data.password == PASSWORD.encode()
        return AuthResult(success=ok, handled=False)  # handled=False: the server answers 535 itself

    inbox = Inbox()
    if authenticate:
        options.update(authenticator=authenticator, auth_require_tls=False)
    # server_hostname: no getfqdn() lookup (slow where DNS is not there)
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), server_hostname="localhost", **options)
    controller.start()
    return controller, inbox


@pytest.fixture
def smtp_server():
    controller, inbox = start_server()
    yield controller, inbox
    controller.stop()


def configure(tmp_path, url: str, **mail) -> None:
    settings = {"smtp": url, "from": "Anna Seller <anna@example.com>", **mail}
    lines = ["[mail]"] + [f"{k} = {v!r}" if isinstance(v, int) else f'{k} = "{v}"' for k, v in settings.items()]
    (tmp_path / "config.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def template(tmp_path, name: str, content: str) -> None:
    folder = tmp_path / "templates"
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.txt").write_text(textwrap.dedent(content), encoding="utf-8")


FOLLOW_UP = """\
    Subject: Following up, $company

    Hi $name,

    after our last $last_activity_kind ($last_activity) I wanted to check in about $value.

    $seller
    """


def stale_leads(cli) -> list[int]:
    """Two leads silent long enough for `clean` to find them (added 60 days before the frozen now)."""
    ids = []
    for name in ("Acme Corp", "Globex"):
        out = cli("add-lead", name, "--at", "2026-09-29", "--value", "1200", "--email", f"x@{name[:4].lower()}.test")
        ids.append(int(out.stdout.strip()))
    return ids


def parts(message):
    return {p.get_content_type(): p.get_content() for p in message.walk() if not p.is_multipart()}


def test_clean_mail_to_sends_text_and_html_with_the_same_rows(cli, tmp_path, smtp_server):
    controller, inbox = smtp_server
    configure(tmp_path, f"smtp://127.0.0.1:{controller.port}")
    stale_leads(cli)
    printed = cli("clean", "--format", "text").stdout
    result = cli("clean", "--check", "--mail-to", "sales@example.com", ok=False)
    assert result.exit_code == 1  # --check still decides: something stale
    assert result.stdout == ""
    assert "mailed the report to sales@example.com" in result.stderr
    [(mail_from, rcpts, message)] = inbox.received
    assert mail_from == "anna@example.com" and rcpts == ["sales@example.com"]
    assert message["Subject"] == printed.splitlines()[0]
    assert message.get_content_type() == "multipart/alternative"
    body = parts(message)
    assert body["text/plain"].replace("\r\n", "\n") == printed
    html = body["text/html"]
    assert html.count("<table") == 1
    assert "<td>Acme Corp</td>" in html and "<td>Globex</td>" in html


def test_clean_mail_to_on_a_clean_pipeline(cli, tmp_path, smtp_server):
    controller, inbox = smtp_server
    configure(tmp_path, f"smtp://127.0.0.1:{controller.port}")
    result = cli("clean", "--check", "--mail-to", "sales@example.com")  # --check: no finding, no mail, exit 0
    assert result.exit_code == 0 and inbox.received == []
    cli("clean", "--mail-to", "sales@example.com")  # without --check the report always goes
    [(_, _, message)] = inbox.received
    assert message["Subject"].startswith("No stale deals")


def test_changes_mail_to(cli, tmp_path, smtp_server):
    controller, inbox = smtp_server
    configure(tmp_path, f"smtp://127.0.0.1:{controller.port}")
    stale_leads(cli)
    cli("changes", "--since", "90d", "--mail-to", "review@example.com")
    [(_, rcpts, message)] = inbox.received
    assert rcpts == ["review@example.com"]
    assert message["Subject"].startswith("Pipeline: what changed")
    body = parts(message)
    assert "Open pipeline value" in body["text/plain"]
    assert "<h2>Deals that changed (2)</h2>" in body["text/html"]
    assert "<td>Acme Corp</td>" in body["text/html"]


def test_report_unreachable_server_is_one_line_exit_1(cli, tmp_path):
    configure(tmp_path, f"smtp://127.0.0.1:{free_port()}")
    stale_leads(cli)
    result = cli("clean", "--mail-to", "sales@example.com", ok=False)
    assert result.exit_code == 1
    assert result.stderr.startswith("pipecli: cannot reach SMTP server 127.0.0.1:")
    assert len(result.stderr.splitlines()) == 1 and result.stdout == ""


def test_mail_send_renders_sends_logs_and_threads(cli, tmp_path, smtp_server):
    controller, inbox = smtp_server
    configure(tmp_path, f"smtp://127.0.0.1:{controller.port}")
    template(tmp_path, "follow-up", FOLLOW_UP)
    lead = int(cli("add-lead", "Wile E.", "--company", "Acme", "--email", "wile@acme.test", "--value", "2500").stdout)
    cli("log", lead, "call", "--note", "pricing questions")
    first = cli("mail", "send", lead, "--template", "follow-up")
    assert "sent to wile@acme.test" in first.stderr and "1 of 50 e-mails today" in first.stderr
    cli("mail", "send", lead, "--template", "follow-up")
    (_, rcpts, one), (_, _, two) = inbox.received
    assert rcpts == ["wile@acme.test"]
    assert one["Subject"] == "Following up, Acme"
    assert one["In-Reply-To"] is None
    text = one.get_content()
    assert "Hi Wile E.," in text and "call (pricing questions)" in text and "€2,500.00" in text
    assert text.rstrip().endswith("Anna Seller")
    # the second is a reply to the first: In-Reply-To and References carry the first's Message-ID
    assert two["In-Reply-To"] == one["Message-ID"] and two["References"] == one["Message-ID"]
    notes = [
        n for (n,) in cli.sql("SELECT note FROM activity WHERE lead_id = :l AND kind = 'email' ORDER BY id", l=lead)
    ]
    assert notes == [
        f"Following up, Acme · Message-ID: {one['Message-ID']}",
        f"Following up, Acme · Message-ID: {two['Message-ID']}",
    ]


def test_mail_send_dry_run_prints_and_changes_nothing(cli, tmp_path, smtp_server):
    controller, inbox = smtp_server
    configure(tmp_path, f"smtp://127.0.0.1:{controller.port}")
    template(tmp_path, "follow-up", FOLLOW_UP)
    lead = int(cli("add-lead", "Road Runner", "--company", "Meep", "--email", "rr@meep.test").stdout)
    before = cli.every_row()
    result = cli("mail", "send", lead, "--template", "follow-up", "--dry-run")
    assert "Subject: Following up, Meep" in result.stdout and "To: rr@meep.test" in result.stdout
    assert "Hi Road Runner," in result.stdout
    assert inbox.received == [] and cli.every_row() == before


def test_mail_send_daily_cap_refuses(cli, tmp_path, smtp_server):
    controller, inbox = smtp_server
    configure(tmp_path, f"smtp://127.0.0.1:{controller.port}", daily_cap=2)
    template(tmp_path, "hello", "Subject: Hello\n\nHello $name\n")
    lead = int(cli("add-lead", "Capped", "--email", "cap@x.test").stdout)
    cli("log", lead, "email", "--note", "sent by hand earlier today")  # counts towards the cap
    cli("mail", "send", lead, "--template", "hello")
    before = cli.every_row()
    result = cli("mail", "send", lead, "--template", "hello", ok=False)
    assert result.exit_code == 1
    assert result.stderr == "pipecli: the daily cap of 2 e-mails is reached (mail.daily_cap); nothing sent\n"
    assert len(inbox.received) == 1 and cli.every_row() == before


def test_unknown_template_field_is_one_line_nothing_sent(cli, tmp_path, smtp_server):
    controller, inbox = smtp_server
    configure(tmp_path, f"smtp://127.0.0.1:{controller.port}")
    template(tmp_path, "bad", "Subject: Hi $name\n\nYour $favourite_colour deal\n")
    lead = int(cli("add-lead", "Someone", "--email", "s@x.test").stdout)
    before = cli.every_row()
    result = cli("mail", "send", lead, "--template", "bad", ok=False)
    assert result.exit_code == 1
    assert result.stderr.startswith("pipecli: template 'bad': unknown field $favourite_colour (known: ")
    assert len(result.stderr.splitlines()) == 1
    assert inbox.received == [] and cli.every_row() == before


def test_missing_template_and_no_address(cli, tmp_path, smtp_server):
    controller, _ = smtp_server
    configure(tmp_path, f"smtp://127.0.0.1:{controller.port}")
    lead = int(cli("add-lead", "No Mail").stdout)
    result = cli("mail", "send", lead, "--template", "nope", ok=False)
    assert result.exit_code == 1 and "no template 'nope'" in result.stderr
    template(tmp_path, "hello", "Subject: Hello\n\nHello $name\n")
    result = cli("mail", "send", lead, "--template", "hello", ok=False)
    assert result.exit_code == 1 and f"lead {lead} has no e-mail address" in result.stderr


def test_login_right_and_wrong_password(cli, tmp_path, monkeypatch):
    controller, inbox = start_server(authenticate=True)
    try:
        configure(tmp_path, f"smtp://anna@127.0.0.1:{controller.port}")
        template(tmp_path, "hello", "Subject: Hello\n\nHello $name\n")
        lead = int(cli("add-lead", "Auth", "--email", "auth@x.test").stdout)
        monkeypatch.setenv("PIPECLI_SMTP_PASSWORD", "wrong-" + PASSWORD)
        before = cli.every_row()
        result = cli("mail", "send", lead, "--template", "hello", ok=False)
        assert result.exit_code == 1
        assert result.stderr == f"pipecli: SMTP server 127.0.0.1:{controller.port} refused the login of anna\n"
        assert PASSWORD not in result.stdout + result.stderr
        assert inbox.received == [] and cli.every_row() == before
        monkeypatch.setenv("PIPECLI_SMTP_PASSWORD", PASSWORD)
        cli("mail", "send", lead, "--template", "hello")
        assert len(inbox.received) == 1
    finally:
        controller.stop()


class MemoryKeyring:
    """A keyring backend holding passwords in memory: keyring's own extension point (`set_keyring`), so the
    lookup runs through the real keyring package as it would on a desktop's secret service."""

    def __new__(cls, stored: dict[tuple[str, str], str]):
        import keyring.backend

        class Backend(keyring.backend.KeyringBackend):
            priority = 1  # type: ignore[assignment]

            def get_password(self, service, username):
                return stored.get((service, username))

            def set_password(self, service, username, password):
                stored[(service, username)] = password

            def delete_password(self, service, username):
                stored.pop((service, username), None)

        return Backend()


def test_the_password_from_netrc_or_the_keyring_and_a_message_when_neither_has_it(cli, tmp_path, monkeypatch):
    keyring = pytest.importorskip("keyring")
    controller, inbox = start_server(authenticate=True)
    previous = keyring.get_keyring()
    try:
        configure(tmp_path, f"smtp://anna@127.0.0.1:{controller.port}")
        template(tmp_path, "hello", "Subject: Hello\n\nHello $name\n")
        lead = int(cli("add-lead", "Auth", "--email", "auth@x.test").stdout)
        monkeypatch.delenv("PIPECLI_SMTP_PASSWORD", raising=False)
        monkeypatch.setenv("HOME", str(tmp_path))
        stored: dict = {}
        keyring.set_keyring(MemoryKeyring(stored))
        result = cli("mail", "send", lead, "--template", "hello", ok=False)
        assert result.exit_code == 1 and "no password for anna@127.0.0.1" in result.stderr
        assert "keyring (service pipecli-smtp)" in result.stderr and inbox.received == []

        stored[("pipecli-smtp", "anna@127.0.0.1")] = PASSWORD
        cli("mail", "send", lead, "--template", "hello")
        assert len(inbox.received) == 1

        stored.clear()
        netrc = tmp_path / ".netrc"
        netrc.write_text(f"machine 127.0.0.1 login anna password {PASSWORD}\n")
        netrc.chmod(0o600)
        cli("mail", "send", lead, "--template", "hello")
        assert len(inbox.received) == 2
    finally:
        keyring.set_keyring(previous)
        controller.stop()


def test_bad_smtp_settings_are_one_line(cli, tmp_path):
    lead = int(cli("add-lead", "Cfg", "--email", "c@x.test").stdout)
    template(tmp_path, "hello", "Subject: Hello\n\nHello $name\n")
    for url, says in [
        ("ftp://host", "mail.smtp must be smtp://"),
        ("smtp://anna:pw@host", "must not hold a password"),
    ]:
        configure(tmp_path, url)
        result = cli("mail", "send", lead, "--template", "hello", ok=False)
        assert result.exit_code == 1 and says in result.stderr and "pw@" not in result.stderr
    (tmp_path / "config.toml").write_text('[mail]\nsmtp = "smtp://127.0.0.1:1"\ncap = 3\n')
    result = cli("mail", "send", lead, "--template", "hello", ok=False)
    assert result.exit_code == 1 and "[mail] cap is not a setting" in result.stderr


def self_signed(tmp_path):
    """A self-signed certificate for 127.0.0.1 (openssl CLI); return (cert, key) paths."""
    import shutil
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("openssl CLI not installed: the STARTTLS test needs it to make a certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.mark.sqlite_only
def test_starttls_verified_and_refused_when_untrusted(cli, tmp_path, monkeypatch):
    import ssl

    cert, key = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    controller, inbox = start_server(authenticate=True, tls_context=context, require_starttls=True)
    try:
        configure(tmp_path, f"smtp://anna@127.0.0.1:{controller.port}")
        template(tmp_path, "hello", "Subject: Hello\n\nHello $name\n")
        lead = int(cli("add-lead", "TLS", "--email", "tls@x.test").stdout)
        monkeypatch.setenv("PIPECLI_SMTP_PASSWORD", PASSWORD)
        before = cli.every_row()
        # the certificate is not trusted: refused, one line, nothing logged
        result = cli("mail", "send", lead, "--template", "hello", ok=False)
        assert result.exit_code == 1 and result.stderr.startswith(
            f"pipecli: TLS with SMTP server 127.0.0.1:{controller.port}"
        )
        assert inbox.received == [] and cli.every_row() == before
        # trusted (SSL_CERT_FILE is what OpenSSL's default verify paths read): sent over STARTTLS
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
        cli("mail", "send", lead, "--template", "hello")
        assert len(inbox.received) == 1
    finally:
        controller.stop()


def test_a_sent_mail_synced_back_from_the_sent_folder_is_logged_once(cli, tmp_path, smtp_server):
    """One [mail] section serves sending and syncing, and the two agree on a message: `mail send` logs its
    Message-ID where `mail sync` looks, so syncing the Sent folder that holds it logs nothing twice."""
    import mailbox

    controller, inbox = smtp_server
    configure(tmp_path, f"smtp://127.0.0.1:{controller.port}")
    with (tmp_path / "config.toml").open("a", encoding="utf-8") as config:
        config.write('addresses = ["anna@example.com"]\n')
    template(tmp_path, "follow-up", FOLLOW_UP)
    lead = int(cli("add-lead", "Wile E.", "--company", "Acme", "--email", "wile@acme.test").stdout)
    cli("mail", "send", lead, "--template", "follow-up")
    (_, _, sent) = inbox.received[0]
    folder = mailbox.Maildir(tmp_path / "Sent", create=True)
    folder.add(sent.as_bytes())
    folder.close()
    synced = cli("mail", "sync", str(tmp_path / "Sent"), "--format", "json")
    assert '"already_logged": 1' in synced.stdout
    rows = cli.sql("SELECT kind, direction, message_id FROM activity WHERE lead_id = :l AND kind = 'email'", l=lead)
    assert [tuple(r) for r in rows] == [("email", "out", sent["Message-ID"])]
