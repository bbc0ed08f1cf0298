"""Which rows are calibration rows rather than unlearning methods, and which calibration each is.

A method registers its role (unlearn/methods/__init__.py, `register(..., calibration=...)`);
the unlearn stage records it with the runs and the score stage in each row (`calibration`).
`calibration_role` is the one place the scoring code reads it; no method name is compared.

Roles: "reference" is the model retrained from scratch without the forget set, what the others
are compared to (F / F_retrain, the ε histogram's reference); "untouched" is the original model,
no unlearning at all. Both are calibration rows: not ranked as methods. None: a method.
"""

def calibration_role(row):
    """None, "untouched" or "reference" for a score row or record: the role its method
    registered, as the score stage recorded it (a row without one is a method).

    Not for the saved leaderboard's rows: their `calibration` is the boolean
    `calibration_role(row) is not None`."""
    return row.get("calibration")


def find_role(rows, role):
    """The index of the first row with that role, or None."""
    return next((i for i, r in enumerate(rows) if calibration_role(r) == role), None)
