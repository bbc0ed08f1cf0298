"""Machine-unlearning benchmark library: data, model, training, methods, scoring.

The library knows nothing of DVC; `stages/` wires it to files and params.
"""
