"""Penultimate-layer features and cosine similarities (for bad_teacher_sim's sampling).

For torchvision's ResNet the penultimate features are everything up to avgpool +
flatten: the 512-d vector that `fc` receives. They are captured with a forward
pre-hook on `fc`, so they are by construction exactly fc's input (no re-implemented
forward that could drift from torchvision's).
"""
import torch
import torch.nn.functional as F

from unlearn.core import compute
from unlearn.data.splits import to_float


def _head(model):
    head = getattr(model, "fc", None)
    if not isinstance(head, torch.nn.Module):
        raise ValueError(f"{type(model).__name__} has no `fc` head; penultimate features "
                         "are defined here as the input of a ResNet-style `fc`")
    return head


def penultimate(model, x):
    """(features, logits) of a float batch, in the model's current mode, with grad as
    the caller decides. features = the input of `model.fc`, shape [B, fc.in_features]."""
    captured = []
    handle = _head(model).register_forward_pre_hook(lambda m, args: captured.append(args[0]))
    try:
        logits = model(x)
    finally:
        handle.remove()
    return captured[0], logits


@torch.no_grad()
def extract_features(model, images, device, batch_size=256):
    """Penultimate features of uint8 images [N,3,H,W]: eval mode, no grad, computed in
    fp32 (they select images by similarity), float32 on the CPU.

    The model's train/eval mode is restored afterwards, so a student can be probed
    mid-training without switching its BatchNorm behaviour for the caller.
    """
    was_training = model.training
    model.eval()
    try:
        with compute.full_precision(model):
            out = [penultimate(model, to_float(images[i:i + batch_size].to(device)))[0].float()
                   for i in range(0, len(images), batch_size)]
    finally:
        model.train(was_training)
    if not out:
        return torch.empty(0, getattr(_head(model), "in_features", 0))
    return torch.cat(out).cpu()


def cosine_similarity_matrix(a, b, eps=1e-8):
    """S[i, j] = cos(a_i, b_j) for feature rows a [Na, D], b [Nb, D] → [Na, Nb]."""
    return F.normalize(a.float(), dim=1, eps=eps) @ F.normalize(b.float(), dim=1, eps=eps).T


def nearest_counts(sim, k):
    """How many query rows have each column among their k most similar columns.

    sim [Nq, Nc] (queries = forget images, columns = retain images); returns int64 [Nc].
    A retain image close to several forget images gets a large count. Ties between
    equal similarities go to the lower column index (torch.topk on CPU is not
    guaranteed stable, so the order is made explicit with a stable sort).
    """
    nq, nc = sim.shape
    k = min(int(k), nc)
    counts = torch.zeros(nc, dtype=torch.long)
    if k <= 0 or nq == 0:
        return counts
    order = torch.sort(sim, dim=1, descending=True, stable=True).indices[:, :k]
    counts.index_add_(0, order.reshape(-1), torch.ones(order.numel(), dtype=torch.long))
    return counts


def most_similar(sim, n):
    """Indices of the n columns with the highest max-similarity to any query row.

    A retain image's score is its similarity to its closest forget image; the n best
    are returned in descending score order, ties to the lower index.
    """
    score = sim.max(dim=0).values if sim.shape[0] else torch.zeros(sim.shape[1])
    return torch.sort(score, descending=True, stable=True).indices[:max(0, int(n))]
