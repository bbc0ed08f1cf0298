"""Exact top-k selections of parameter elements, deterministic under ties.

SalUn keeps the top share of |gradient| over all parameters, Kookmin's method re-inits
the smallest-|gradient| share of each conv layer, Oleszko's prunes the smallest |weight|
share of all conv/linear weights. The sources use argsort/topk, whose order among equal
values is unspecified (and differs between CPU and GPU); here exactly k elements are
selected and ties at the threshold go to the lowest flat indices, so the same values
give the same mask everywhere.
"""
import torch


def top_k_mask(values, k, largest=True):
    """Boolean mask shaped like `values` with exactly min(max(k, 0), numel) entries set:
    those with the largest values (smallest when largest=False), ties broken by lowest
    flat index."""
    flat = values.detach().flatten()
    n = flat.numel()
    k = min(max(int(k), 0), n)
    if k == 0:
        return torch.zeros_like(values, dtype=torch.bool)
    if k == n:
        return torch.ones_like(values, dtype=torch.bool)
    key = flat if largest else -flat
    threshold = torch.kthvalue(key, n - k + 1).values   # the k-th largest key
    mask = key > threshold
    missing = k - int(mask.sum())
    ties = torch.nonzero(key == threshold).flatten()[:missing]
    mask[ties] = True
    return mask.view(values.shape)


def split_flat(mask, like):
    """Cut a flat mask back into tensors shaped like each tensor of `like` (a dict)."""
    out, start = {}, 0
    for name, t in like.items():
        out[name] = mask[start:start + t.numel()].view(t.shape)
        start += t.numel()
    return out
