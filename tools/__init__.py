"""Maintenance commands run by hand, not by DVC: apply a preset to params.yaml, regenerate
the README's results table."""
