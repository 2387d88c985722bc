"""Composite renderings and every command's JSON shape, defined once.

A command hands its typed result to a view here; the view writes it through `cli.output` as a table,
CSV or JSON. The golden test (`tests/test_json_shapes.py`) pins every command's JSON keys.
"""

from __future__ import annotations

# --- leads, board, pipelines, selling, transfer, admin and trust commands --------------------------------


# --- reports: metrics, funnel, forecast, size, clean ------------------------------------------------------
