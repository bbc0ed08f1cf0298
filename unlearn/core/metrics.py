"""Accuracy: the one metric that training (best-epoch selection), the training stages and
the scorers all compute, kept here so that none of them imports the others."""
import numpy as np


def accuracy(logits, labels):
    """Share of rows whose arg-max logit is the label; NaN for an empty split.

    torch tensors (on any device) or numpy arrays, with the same value for both: the count
    divided by the length in float32, as torch's `.float().mean()` computes it (a float32
    sum of 0/1 is exact below 2**24 rows), so that the scorers, which read numpy, report
    the accuracies the training stages did.
    """
    if not len(labels):
        return float("nan")
    if hasattr(logits, "detach"):   # torch, maybe on a GPU: computed there
        return (logits.argmax(1) == labels).float().mean().item()
    hits = np.count_nonzero(np.asarray(logits).argmax(1) == np.asarray(labels))
    return float(np.float32(hits) / np.float32(len(labels)))
