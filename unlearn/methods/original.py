"""`original`: the calibration row with no unlearning at all (docs/methods.md#original).

A correct metric must rank it near the bottom: it still carries the forget set.
"""
from unlearn.methods import register


@register("original", calibration="untouched")
def original(model, ctx, cfg):
    return model
