"""`mail sync` against a real IMAP server: Dovecot (Debian's `dovecot-imapd`) started on loopback with a
throwaway config, a self-signed certificate, a Maildir and a passwd-file user. Skipped, saying why, when
`dovecot` or `openssl` is not installed; CI installs both.
"""

from __future__ import annotations

import json
import mailbox
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.test_mail_sync import ME, NOW, add_lead, message, seller  # noqa: F401  (seller: the autouse config)

DOVECOT = shutil.which("dovecot") or ("/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").exists() else None)
OPENSSL = shutil.which("openssl")
pytestmark = pytest.mark.skipif(
    DOVECOT is None or OPENSSL is None,
    reason="dovecot (apt-get install dovecot-imapd) or openssl not installed: IMAP tests skipped",
)
PASSWORD = "s3cret-Pa55"
USERS = 20  # one per test (the passwd file holds seller1..seller20)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Dovecot:
    """A Dovecot server on 127.0.0.1 with one user, its INBOX a Maildir the test delivers into."""

    def __init__(self) -> None:
        # not under pytest's tmp_path: as root, Dovecot's unprivileged processes must reach the folder
        self.root = Path(tempfile.mkdtemp(prefix="pipecli-dovecot-"))
        self.root.chmod(0o755)
        self.port, self.starttls_port = free_port(), free_port()
        if os.getuid() == 0:  # Dovecot runs no login process and no mail user as root
            mail_user, login_user = pwd.getpwnam("dovecot"), pwd.getpwnam("dovenull")
        else:
            mail_user = login_user = pwd.getpwuid(os.getuid())
        self.uid, self.gid = mail_user.pw_uid, mail_user.pw_gid
        self.users = 0
        (self.root / "mail").mkdir()
        self.cert = self.root / "cert.pem"
        subprocess.run(
            [OPENSSL, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
             "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
             "-keyout", str(self.root / "key.pem"), "-out", str(self.cert)],
            check=True, capture_output=True,
        )  # fmt: skip
        # every user written before the start: Dovecot may not notice a passwd file changed within a second
        (self.root / "passwd").write_text(
            "".join(f"seller{n}:{{PLAIN}}{PASSWORD}::::::\n" for n in range(1, USERS + 1))
        )
        r = self.root
        self.conf = r / "dovecot.conf"
        self.conf.write_text(
            f"""base_dir = {r}/run
state_dir = {r}/state
log_path = {r}/dovecot.log
listen = 127.0.0.1
protocols = imap
ssl = yes
ssl_cert = <{r}/cert.pem
ssl_key = <{r}/key.pem
auth_mechanisms = plain
disable_plaintext_auth = yes
mail_location = maildir:{r}/mail/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {r}/passwd
}}
userdb {{
  driver = static
  args = uid={self.uid} gid={self.gid} home={r}/home/%u
}}
default_internal_user = {mail_user.pw_name}
default_internal_group = {mail_user.pw_name if os.getuid() else "dovecot"}
default_login_user = {login_user.pw_name}
first_valid_uid = 0
first_valid_gid = 0
service imap-login {{
  chroot =
  inet_listener imap {{
    port = {self.starttls_port}
  }}
  inet_listener imaps {{
    port = {self.port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
"""
        )
        self._own(self.root / "mail")
        self.start()

    def _own(self, path: Path) -> None:
        if os.getuid() == 0:
            for folder, _, files in os.walk(path):
                os.chown(folder, self.uid, self.gid)
                for name in files:
                    os.chown(os.path.join(folder, name), self.uid, self.gid)

    def start(self) -> None:
        # no pipes: the daemon would hold them open, and run() would wait for it to exit
        subprocess.run(
            [DOVECOT, "-c", str(self.conf)], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"dovecot did not start: {(self.root / 'dovecot.log').read_text()}")

    def stop(self) -> None:
        subprocess.run([DOVECOT, "-c", str(self.conf), "stop"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while (self.root / "run" / "master.pid").exists() and time.monotonic() < deadline:
            time.sleep(0.05)

    def new_user(self) -> None:
        """Give the next test a user of its own, with an empty INBOX."""
        self.users += 1
        self.user = f"seller{self.users}"
        self.inbox = self.root / "mail" / self.user
        for sub in ("cur", "new", "tmp"):
            (self.inbox / sub).mkdir(parents=True)
        self._own(self.inbox)

    def deliver(self, *messages) -> None:
        box = mailbox.Maildir(self.inbox, create=False)
        for msg in messages:
            box.add(msg)
        self._own(self.inbox)

    def renumber(self) -> None:
        """Make the server give the folder a new UIDVALIDITY (its UID list and indexes are lost)."""
        self.stop()
        time.sleep(1.1)  # Dovecot derives a new UIDVALIDITY from the clock, in seconds
        for path in self.inbox.glob("dovecot*"):
            path.unlink()
        self.start()

    def url(self, tls: bool = True) -> str:
        if tls:
            return f"imaps://{self.user}@127.0.0.1:{self.port}/INBOX"
        return f"imap://{self.user}@localhost:{self.starttls_port}/INBOX"

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="module")
def dovecot_server():
    """The module's Dovecot server (started once: each test gets a user of its own)."""
    server = Dovecot()
    yield server
    server.close()


@pytest.fixture
def dovecot(dovecot_server, monkeypatch):
    """The running Dovecot with a new user, trusted through SSL_CERT_FILE, the password in PIPECLI_IMAP_PASSWORD."""
    dovecot_server.new_user()
    monkeypatch.setenv("SSL_CERT_FILE", str(dovecot_server.cert))
    monkeypatch.setenv("PIPECLI_IMAP_PASSWORD", PASSWORD)
    return dovecot_server


def mails(first: int, count: int):
    """Messages from ann@acme.example numbered first.., every third without a Message-ID."""
    return [
        message("Ann <ann@acme.example>", ME, f"m{i}", NOW - 10 * 86400 + i * 60, message_id=i % 3 != 0)
        for i in range(first, first + count)
    ]


def sync(cli, url, *args, ok=True):
    return cli("mail", "sync", url, *args, "--format", "json", ok=ok)


def test_five_syncs_and_a_server_restart_log_every_message_once(cli, dovecot):
    ann = add_lead(cli, "Ann", "ann@acme.example")
    dovecot.deliver(*mails(0, 10))
    runs = [json.loads(sync(cli, dovecot.url()).stdout)]
    dovecot.deliver(*mails(10, 5))
    runs.append(json.loads(sync(cli, dovecot.url()).stdout))
    runs.append(json.loads(sync(cli, dovecot.url()).stdout))
    dovecot.stop()
    dovecot.start()
    dovecot.deliver(*mails(15, 3))
    runs.append(json.loads(sync(cli, dovecot.url()).stdout))
    runs.append(json.loads(sync(cli, dovecot.url()).stdout))
    assert [r["scanned"] for r in runs] == [10, 5, 0, 3, 0]  # each sync resumes after the last UID
    assert cli.scalar("SELECT COUNT(*) FROM activity WHERE lead_id = :l", l=ann) == 18
    assert cli.scalar("SELECT COUNT(DISTINCT message_id) FROM activity") == 18
    status = json.loads(cli("mail", "status", "--format", "json").stdout)
    assert [(s["source"], s["logged_total"], s["last_error"]) for s in status] == [(dovecot.url(), 18, None)]


def test_a_later_create_leads_fetches_again_only_the_unmatched_uids(cli, dovecot):
    """A first sync finds no lead for Zed's two messages; a later one with --create-leads fetches those
    two UIDs again (below the saved UID) besides the new message, adds Zed's lead and logs each once."""
    ann = add_lead(cli, "Ann", "ann@acme.example")
    zed_mails = [
        message("Zed Zulu <zed@newco.example>", ME, "from zed", NOW - 2 * 86400),
        message(ME, "zed@newco.example", "to zed", NOW - 86400, message_id=False),
    ]
    dovecot.deliver(*mails(0, 3), *zed_mails)
    first = json.loads(sync(cli, dovecot.url()).stdout)
    assert (first["scanned"], first["logged"], first["unmatched"]) == (5, 3, 2)
    assert json.loads(sync(cli, dovecot.url()).stdout)["scanned"] == 0
    dovecot.deliver(*mails(3, 1))
    created = json.loads(sync(cli, dovecot.url(), "--create-leads").stdout)
    assert (created["scanned"], created["logged"], created["created_leads"], created["unmatched"]) == (3, 3, 1, 0)
    zed = cli.scalar("SELECT id FROM lead WHERE email = 'zed@newco.example'")
    assert cli.scalar("SELECT COUNT(*) FROM activity WHERE lead_id = :l", l=zed) == 2
    assert cli.scalar("SELECT COUNT(*) FROM activity WHERE lead_id = :l", l=ann) == 4
    again = json.loads(sync(cli, dovecot.url(), "--create-leads").stdout)
    assert (again["scanned"], again["logged"]) == (0, 0)
    assert cli.scalar("SELECT COUNT(DISTINCT message_id) FROM activity") == cli.scalar("SELECT COUNT(*) FROM activity")


@pytest.mark.sqlite_only
def test_a_new_uidvalidity_rescans_the_folder_and_still_logs_nothing_twice(cli, dovecot):
    add_lead(cli, "Ann", "ann@acme.example")
    dovecot.deliver(*mails(0, 6))
    assert json.loads(sync(cli, dovecot.url()).stdout)["logged"] == 6
    dovecot.renumber()
    dovecot.deliver(*mails(6, 1))
    again = json.loads(sync(cli, dovecot.url()).stdout)
    assert (again["scanned"], again["already_logged"], again["logged"]) == (7, 6, 1)
    assert cli.scalar("SELECT COUNT(*) FROM activity") == 7


@pytest.mark.sqlite_only
def test_starttls_and_a_netrc_password(cli, dovecot, tmp_path, monkeypatch):
    add_lead(cli, "Ann", "ann@acme.example")
    dovecot.deliver(*mails(0, 2))
    monkeypatch.delenv("PIPECLI_IMAP_PASSWORD")
    monkeypatch.setenv("HOME", str(tmp_path))
    netrc = tmp_path / ".netrc"
    netrc.write_text(f"machine localhost login {dovecot.user} password {PASSWORD}\n")
    netrc.chmod(0o600)
    assert json.loads(sync(cli, dovecot.url(tls=False)).stdout)["logged"] == 2


@pytest.mark.sqlite_only
def test_a_keyring_password(cli, dovecot, tmp_path, monkeypatch):
    keyring = pytest.importorskip("keyring")
    from test_mail_send import MemoryKeyring

    add_lead(cli, "Ann", "ann@acme.example")
    dovecot.deliver(*mails(0, 2))
    monkeypatch.delenv("PIPECLI_IMAP_PASSWORD")
    monkeypatch.setenv("HOME", str(tmp_path))  # no netrc
    previous = keyring.get_keyring()
    try:
        keyring.set_keyring(MemoryKeyring({("pipecli", f"{dovecot.user}@localhost"): PASSWORD}))
        assert json.loads(sync(cli, dovecot.url(tls=False)).stdout)["logged"] == 2
    finally:
        keyring.set_keyring(previous)


@pytest.mark.sqlite_only
def test_wrong_password_unreachable_server_and_tls_failure_are_one_line_and_log_nothing(cli, dovecot, monkeypatch):
    add_lead(cli, "Ann", "ann@acme.example")
    dovecot.deliver(*mails(0, 3))
    monkeypatch.setenv("PIPECLI_IMAP_PASSWORD", "wrong-Pa55")
    cases = [(dovecot.url(), "wrong user or password")]
    cases.append((f"imaps://{dovecot.user}@127.0.0.1:{free_port()}/INBOX", "cannot reach IMAP server"))
    for url, said in cases:
        result = sync(cli, url, ok=False)
        assert result.exit_code == 1 and said in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and "Pa55" not in result.stderr
    monkeypatch.setenv("PIPECLI_IMAP_PASSWORD", PASSWORD)
    monkeypatch.delenv("SSL_CERT_FILE")  # the self-signed certificate is no longer trusted
    result = sync(cli, dovecot.url(), ok=False)
    assert (
        result.exit_code == 1
        and "TLS with IMAP server" in result.stderr
        and "CERTIFICATE_VERIFY_FAILED" in result.stderr
    )
    assert PASSWORD not in result.stderr
    assert cli.scalar("SELECT COUNT(*) FROM activity") == 0
    errors = {s["source"]: s["last_error"] for s in json.loads(cli("mail", "status", "--format", "json").stdout)}
    assert "TLS" in errors[dovecot.url()]
