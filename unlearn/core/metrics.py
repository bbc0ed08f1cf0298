"""Accuracy: the one metric that training (best-epoch selection), the training stages and
the scorers all compute, kept here so that none of them imports the others."""


def accuracy(logits, labels):
    """Share of rows whose arg-max logit is the label; NaN for an empty split."""
    return (logits.argmax(1) == labels).float().mean().item() if len(labels) else float("nan")
