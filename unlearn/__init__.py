"""Machine-unlearning benchmark library: data, model, training, methods, scoring.

The library knows nothing of DVC; `stages/` wires it to files and params. Importing
`unlearn.core` (everything that runs a model does) pins the CPU kernels first.
"""
