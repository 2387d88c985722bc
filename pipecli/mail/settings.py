"""The `[mail]` settings, one checked section for reading and sending mail alike.

[mail]
addresses = ["anna@example.com"]               # your own addresses: how `mail sync` tells sent from received
smtp = "smtps://anna@mail.example.com:465"   # TLS from the start; smtp://host:587 upgrades with STARTTLS
from = "Anna Seller <anna@example.com>"
daily_cap = 50                                 # `mail send` refuses beyond this many e-mails a day
name = "Anna Seller"                           # the seller's name in templates (default: the name in `from`)
"""

from __future__ import annotations

import dataclasses

from pipecli.config import section, setting


@dataclasses.dataclass(frozen=True)
class MailSettings:
    """The `[mail]` section: the seller's own addresses, where mail goes out, who it is from, the daily cap."""

    addresses: list[str] = setting([])  # noqa: RUF009 (setting returns a field)
    smtp: str | None = setting(None)
    from_: str | None = setting(None)
    daily_cap: int = setting(50, low=1)
    name: str | None = setting(None)


def settings() -> MailSettings:
    """Return the checked `[mail]` section."""
    return section("mail", MailSettings)
