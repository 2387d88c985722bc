"""`pipecli ui`: the board as a keyboard-driven terminal app (textual), a front end like `pipecli.cli`.

It never holds a truth of its own: every write calls the core function the equivalent command calls, in
one transaction with its own journal entry (`ui.actions`), so history, scores, `undo` and the cron report
see a change made here exactly as if it had been typed. What the board shows is read a window at a time
(`ui.cards`); the app and its widgets are `ui.app`, the modal screens `ui.screens`, the keys `ui.keys`.

textual is the optional extra `pipecli[ui]`: only this package imports it, and only `pipecli ui` imports
this package, so no other command pays for it at start-up.
"""
