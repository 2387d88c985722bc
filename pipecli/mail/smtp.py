"""Sending a message over SMTP, as the `[mail]` settings (`pipecli.mail.settings`) say.

The password comes from `PIPECLI_SMTP_PASSWORD`, a netrc entry for the host, else the system keyring
(service `pipecli-smtp`, user `USER@HOST`) when `keyring` is installed (`mail.secrets`); it is never stored
in the database nor printed. A plain
`smtp://` connection without STARTTLS is allowed only to a loopback address (a local relay, the tests).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import parseaddr
from urllib.parse import unquote, urlsplit

from pipecli.errors import PipecliError
from pipecli.mail.secrets import stored_password
from pipecli.mail.settings import MailSettings

PASSWORD_ENV = "PIPECLI_SMTP_PASSWORD"
KEYRING_SERVICE = "pipecli-smtp"
TIMEOUT = 20.0


@dataclasses.dataclass(frozen=True)
class Server:
    """A parsed `mail.smtp` URL."""

    host: str
    port: int
    user: str | None
    tls: bool  # TLS from the first byte (smtps://); else STARTTLS, or plain on loopback

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"


def sender(mail: MailSettings) -> str:
    """Return the `From` address, or raise saying `mail.from` must be set."""
    if not mail.from_ or not parseaddr(mail.from_)[1]:
        raise PipecliError('set mail.from in the config file (e.g. from = "Anna <anna@example.com>")')
    return mail.from_


def seller_name(mail: MailSettings) -> str:
    """Return the seller's name: `mail.name`, else the display name of `mail.from`, else its address."""
    if mail.name:
        return mail.name
    name, address = parseaddr(mail.from_ or "")
    return name or address


def parse_url(url: str | None) -> Server:
    """Return the server a `mail.smtp` URL names; raise one line when it is missing or not smtp(s)://."""
    if not url:
        raise PipecliError('set mail.smtp in the config file (e.g. smtp = "smtps://you@mail.example.com:465")')
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise PipecliError(f"mail.smtp must be smtp://[user@]host[:port] or smtps://..., not {url!r}")
    if parts.password is not None:
        raise PipecliError(f"mail.smtp must not hold a password: set {PASSWORD_ENV} or the keyring")
    try:
        port = parts.port or (465 if parts.scheme == "smtps" else 587)
    except ValueError:
        raise PipecliError(f"mail.smtp has a bad port: {url!r}") from None
    user = unquote(parts.username) if parts.username else None
    return Server(parts.hostname, port, user, parts.scheme == "smtps")


def is_loopback(host: str) -> bool:
    """Return whether `host` is a loopback address (the only place a plain connection may go)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def password(server: Server) -> str | None:
    """Return the login password (`mail.secrets`: the environment, netrc, the keyring), else None."""
    return stored_password(PASSWORD_ENV, KEYRING_SERVICE, server.user or "", server.host)


def send(message: EmailMessage, url: str | None) -> None:
    """Send `message` to its To/Cc recipients through the server `url` names; raise one line on failure
    (unreachable, TLS, refused login, refused recipient), never naming the password."""
    server = parse_url(url)
    context = ssl.create_default_context()
    try:
        client: smtplib.SMTP
        if server.tls:
            client = smtplib.SMTP_SSL(server.host, server.port, timeout=TIMEOUT, context=context)
        else:
            client = smtplib.SMTP(server.host, server.port, timeout=TIMEOUT)
        with client:
            client.ehlo()
            if not server.tls:
                if client.has_extn("starttls"):
                    client.starttls(context=context)
                    client.ehlo()
                elif not is_loopback(server.host):
                    raise PipecliError(f"SMTP server {server.where} offers no STARTTLS; use smtps:// or a local relay")
            if server.user:
                secret = password(server)
                if secret is None:
                    raise PipecliError(
                        f"no password for {server.user}@{server.host}: set {PASSWORD_ENV}, add a netrc entry or store it with keyring (service {KEYRING_SERVICE})"
                    )
                client.login(server.user, secret)
            client.send_message(message)
    except smtplib.SMTPAuthenticationError:
        raise PipecliError(f"SMTP server {server.where} refused the login of {server.user}") from None
    except smtplib.SMTPRecipientsRefused as exc:
        raise PipecliError(f"SMTP server {server.where} refused the recipient(s) {', '.join(exc.recipients)}") from None
    except smtplib.SMTPException as exc:
        raise PipecliError(f"SMTP server {server.where} failed: {_one_line(exc)}") from None
    except ssl.SSLError as exc:
        raise PipecliError(f"TLS with SMTP server {server.where} failed: {_one_line(exc)}") from None
    except OSError as exc:
        raise PipecliError(f"cannot reach SMTP server {server.where}: {exc.strerror or _one_line(exc)}") from None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
