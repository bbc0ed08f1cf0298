"""Scores: the study's local score, the competition's official score, bootstrap intervals,
a method's scores over its runs, and the report's figures."""
