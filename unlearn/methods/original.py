"""`original`: the calibration row with no unlearning at all (SPEC §3, calibration rows).

A correct metric must rank it near the bottom: it still carries the forget set.
"""
from unlearn.methods import register


@register("original")
def original(model, ctx, cfg):
    return model
