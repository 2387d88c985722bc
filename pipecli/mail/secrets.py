"""Where a mail server's password comes from, for IMAP (`mail sync`) and SMTP (`mail send`) alike.

In order: an environment variable (`PIPECLI_IMAP_PASSWORD`, `PIPECLI_SMTP_PASSWORD`), a `~/.netrc` entry
for the host (with this login or none), then the system keyring when the optional `keyring` package is
installed (service `pipecli` for IMAP, `pipecli-smtp` for SMTP; user `USER@HOST`). A password is never
stored in the database, in a URL or in the settings file, and never printed.
"""

from __future__ import annotations

import os


def stored_password(env: str, service: str, user: str, host: str) -> str | None:
    """Return the password for `user` at `host` from the environment variable `env`, a netrc entry or the
    keyring `service`, or None when none of them holds one. A keyring with no usable backend counts as
    holding nothing, so a machine without one falls through to the caller's message."""
    secret = os.environ.get(env)
    if secret:
        return secret
    import netrc

    try:
        entry = netrc.netrc().authenticators(host)
    except (FileNotFoundError, netrc.NetrcParseError, OSError):
        entry = None
    if entry is not None and entry[2] and entry[0] in ("", user):
        return entry[2]
    try:
        # optional dependency: the system keyring, only when the user installed it
        import keyring  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return None
    try:
        found = keyring.get_password(service, f"{user}@{host}")
    except Exception:  # no usable keyring backend on this machine: as if nothing were stored
        return None
    return found if isinstance(found, str) and found else None
