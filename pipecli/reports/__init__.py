"""Reports: read-only figures over the pipeline, each an SQL aggregate over one lead-state relation.

- `state`: the lead state (now, or as of a past moment) and the aggregates every report shares;
- `metrics`: the metrics and funnel reports;
- `periods`: calendar periods (month, quarter, week) and their names;
- `simulate`: the Monte Carlo simulation (numbers in, numbers out, no SQL);
- `forecast`: the revenue forecast and its backtest;
- `sizing`: what a target needs;
- `clean`: the stale-deal rules; `clean_actions`: acting on their findings.
"""
