"""Scoring: how good a lead looks (fit rules), how busy it has been lately (engagement), and how likely
it is to be won (a model learned from the database's own closed leads).

- `fields`: the values a rule or the model reads from a lead (its columns and extra fields);
- `rules`: the `[scoring]` settings: fit rules, points per activity kind, half-life, hot threshold;
- `learn`: fitting and applying the learned win probability;
- `score`: composing and storing the scores, and reading them decayed to now.
"""
