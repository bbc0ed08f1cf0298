"""Plumbing every stage shares: errors, atomic writes, the params schema, how a model
computes (threads, precision) and where runs execute (local workers, Ray), profiling."""
