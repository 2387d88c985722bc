"""pipecli: a sales-pipeline manager that lives in the terminal.

The package is split into a core (plain functions over one database, never printing) and a thin
command-line layer in `pipecli.cli`. Importing this package is cheap: heavy libraries are imported by
the modules that need them, so `pipecli --help` and `pipecli --version` start fast.
"""

__version__ = "0.1.0"
