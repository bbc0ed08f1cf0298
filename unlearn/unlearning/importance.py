"""Diagonal-Fisher parameter importances, shared by SSD and GISA
(docs/methods.md#parameter-importance).

The importance of a parameter element on a set D is the mean squared gradient of the
cross-entropy, with the model in eval mode (BatchNorm uses its running statistics, so
every example's loss depends on that example alone). Two estimators:

- `per_example` (default): square each example's gradient, then average over the N
  examples:  I = (1/N) Σ_i (∂CE(x_i, y_i)/∂θ)².  Independent of batch size, order and
  composition, so SSD/GISA become deterministic functions of the data. It is also
  additive: I(A ∪ B) = (|A|·I(A) + |B|·I(B)) / (|A| + |B|) (see `combine`).
- `batch`: square the gradient of each batch's *mean* loss, then average over the
  batches:  I = (1/B) Σ_b (∂ mean_{i∈b} CE / ∂θ)², as in Foster et al.'s SSD code
  (`calc_importance` in src/ssd.py of https://github.com/if-loops/selective-synaptic-dampening,
  checked against commit cdfdc0e35c1908e032a6e150d882b0fa17833f85). Cross-terms between the
  examples of a batch survive the square, so the result depends on the batch size and on
  which examples share a batch (i.e. on the shuffle seed); the per-example form is the
  b = 1 special case.

How the per-example form is computed. `torch.func.vmap(grad(...))` materialises every
example's full gradient (11.2 M floats per ResNet-18 example) and on CPU was no faster
than a Python loop over single examples (~0.5 s per 32 px image here). Instead one
forward/backward per chunk captures each layer's input a and output-gradient g with
hooks (backward w.r.t. activations only; weight gradients are never formed), and the
per-example squared weight gradients are summed in closed form:
  layer with L positions (conv: L = output pixels, a unfolded to [N, L, K]; linear: L = 1)
  per-example grad  G_i = Σ_l g_il a_ilᵀ, so  Σ_i G_i² = Σ_i Σ_{l,l'} (g_il∘g_il')(a_il∘a_il')ᵀ
- small L (≤ PAIR_MAX_POSITIONS): the right-hand side is one GEMM over (i, l ≤ l') rows;
  for L = 1 (fc, and ResNet's layer4 at 32 px) it is just (g²)ᵀ(a²);
- larger L: G_i is materialised with a batched matmul, in sub-chunks bounded by
  `MATERIALISE_BUDGET` floats, then squared and summed.
BatchNorm (eval): ∂/∂γ = Σ_spatial g·x̂, ∂/∂β = Σ_spatial g. Supported parameterised layers:
Conv2d (groups = 1, zero padding), Linear, BatchNorm with running statistics — every
parameter must belong to one, each layer called once per forward; anything else raises
(use form='batch'). The result equals a loop over single examples up to float rounding
(tests/test_importance.py).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from unlearn.core import compute
from unlearn.data.splits import to_float

FORMS = ("per_example", "batch")
PAIR_MAX_POSITIONS = 8         # measured crossover: pairs win at L ≤ 4, materialising at L ≥ 16
MATERIALISE_BUDGET = 1 << 24   # floats (64 MiB) per materialised per-example-gradient block


def importances(model, split, device, *, form="per_example", batch_size=64, chunk_size=64,
                generator=None):
    """Importance of every trainable parameter of `model` on `split` (name → tensor like it).

    per_example: `chunk_size` examples per forward pass (memory only; the result does not
    depend on it). batch: batches of `batch_size`, shuffled with `generator` (the result
    depends on both). The model's train/eval mode is restored; its weights and .grad are
    left untouched.
    """
    if form not in FORMS:
        raise ValueError(f"importance form {form!r} unknown; choose from {FORMS}")
    if len(split) == 0:
        raise ValueError("cannot compute importances on an empty set")
    was_training = model.training
    model.eval()
    try:  # in fp32 whatever the training precision: they decide which weights change
        with compute.full_precision(model):
            if form == "per_example":
                return _per_example(model, split, device, chunk_size)
            return _batch_form(model, split, device, batch_size, generator)
    finally:
        model.train(was_training)


def combine(parts):
    """Per-example importances of a union from [(importances, n_examples), ...] — exact,
    because the per-example form is a plain mean over examples."""
    total = sum(n for _, n in parts)
    return {k: sum(imp[k] * (n / total) for imp, n in parts) for k in parts[0][0]}


def _inputs(model, split, index, device):
    dtype = next(model.parameters()).dtype
    index = index.to(split.images.device)
    x = to_float(split.images[index].to(device)).to(dtype=dtype)
    return x, split.labels[index].to(device)


def _batch_form(model, split, device, batch_size, generator):
    params = [(k, p) for k, p in model.named_parameters() if p.requires_grad]
    acc = {k: torch.zeros_like(p) for k, p in params}
    # A seeded shuffled split (a trailing short batch is kept as is: in eval mode even one
    # example normalises fine, unlike train.batch_indices). Foster et al.'s importance
    # loaders iterate in dataset order (forget_random_main.py at cdfdc0e); here the order
    # is the seed's, so runs with different seeds show how much the batch form depends on it.
    batches = torch.randperm(len(split), generator=generator).split(batch_size)
    for index in batches:
        x, y = _inputs(model, split, index, device)
        loss = F.cross_entropy(model(x), y)
        grads = torch.autograd.grad(loss, [p for _, p in params], allow_unused=True)
        for (k, _), g in zip(params, grads):
            if g is not None:
                acc[k] += g.square()
    return {k: v / len(batches) for k, v in acc.items()}


def _supported(module):
    if isinstance(module, nn.Conv2d):
        return (module.groups == 1 and module.padding_mode == "zeros"
                and not isinstance(module.padding, str))
    if isinstance(module, nn.Linear):
        return True
    if isinstance(module, nn.modules.batchnorm._BatchNorm):
        return module.running_mean is not None  # eval mode must not use batch statistics
    return False


def _layers(model):
    """(name, module) of each parameterised layer; raise unless each parameter belongs to
    exactly one supported layer (a shared parameter's gradient is a sum over its uses)."""
    layers, seen = [], set()
    for name, module in model.named_modules(remove_duplicate=False):
        own = list(module.named_parameters(recurse=False))
        if not own:
            continue
        if not _supported(module) or not {k for k, _ in own} <= {"weight", "bias"}:
            raise ValueError(f"per-example importances: layer {name!r} "
                             f"({type(module).__name__}) is not supported; use form='batch'")
        if any(id(p) in seen for _, p in own):
            raise ValueError(f"per-example importances: layer {name!r} shares parameters "
                             f"or is used twice; use form='batch'")
        seen.update(id(p) for _, p in own)
        layers.append((name, module))
    return layers


def _positions(module, a, g):
    """Reshape a layer's input and output-gradient to [N, L, K] and [N, L, C_out]."""
    if isinstance(module, nn.Conv2d):
        u = F.unfold(a, module.kernel_size, module.dilation, module.padding, module.stride)
        return u.transpose(1, 2), g.flatten(2).transpose(1, 2)
    return a.reshape(len(a), -1, a.shape[-1]), g.reshape(len(g), -1, g.shape[-1])


def _sum_sq_weight_grad(u, g):
    """Σ_i (Σ_l g_il a_ilᵀ)² for u [N, L, K], g [N, L, C] → [C, K]."""
    n, positions, k = u.shape
    c = g.shape[2]
    if positions <= PAIR_MAX_POSITIONS:
        # (Σ_l x_l)² = Σ_{l≤l'} w_ll' x_l x_l' with w = 1 on the diagonal, 2 off it.
        li, lj = torch.triu_indices(positions, positions, device=u.device)
        w = torch.where(li == lj, 1.0, 2.0).to(g.dtype)
        g2 = (g[:, li] * g[:, lj] * w[:, None]).reshape(-1, c)
        u2 = (u[:, li] * u[:, lj]).reshape(-1, k)
        return g2.t() @ u2
    out = u.new_zeros(c, k)
    step = max(1, MATERIALISE_BUDGET // (c * k))
    for s in range(0, n, step):
        out += torch.bmm(g[s:s + step].transpose(1, 2), u[s:s + step]).square_().sum(0)
    return out


def _accumulate(module, a, g, acc, name):
    """Add this chunk's Σ_i (per-example gradient)² of the layer's trainable parameters."""
    prefix = f"{name}." if name else ""
    weight, bias = acc.get(prefix + "weight"), acc.get(prefix + "bias")  # None if frozen
    if isinstance(module, nn.modules.batchnorm._BatchNorm):
        a, g = (a.flatten(2), g.flatten(2)) if a.dim() > 2 else (a[..., None], g[..., None])
        if weight is not None:
            inv_std = torch.rsqrt(module.running_var[:, None] + module.eps)
            weight += (g * (a - module.running_mean[:, None]) * inv_std).sum(2).square().sum(0)
        if bias is not None:
            bias += g.sum(2).square().sum(0)
        return
    u, gp = _positions(module, a, g)
    if weight is not None:
        weight += _sum_sq_weight_grad(u, gp).view_as(weight)
    if bias is not None:
        bias += gp.sum(1).square().sum(0)


def _per_example(model, split, device, chunk_size):
    layers = _layers(model)
    acc = {k: torch.zeros_like(p) for k, p in model.named_parameters() if p.requires_grad}
    calls = {}

    def on_forward(module, inputs, output, name):
        calls[name] = calls.get(name, 0) + 1
        if calls[name] > 1:
            raise ValueError(f"per-example importances: layer {name!r} is called more than "
                             f"once per forward; use form='batch'")
        a = inputs[0].detach()
        # A tensor hook fires with ∂loss/∂output as produced by this layer (the value
        # before any later in-place op such as ReLU(inplace=True) or `out += identity`).
        output.register_hook(lambda g: _accumulate(module, a, g.detach(), acc, name))

    handles = [m.register_forward_hook(lambda m, i, o, name=name: on_forward(m, i, o, name))
               for name, m in layers]
    try:
        for start in range(0, len(split), chunk_size):
            calls.clear()
            x, y = _inputs(model, split, torch.arange(start, min(start + chunk_size, len(split))),
                           device)
            x.requires_grad_(True)  # the graph then spans every layer; only activation
            # gradients are computed (autograd.grad w.r.t. x skips all weight gradients)
            # summed, so ∂loss/∂logits_i is example i's own CE gradient
            loss = F.cross_entropy(model(x), y, reduction="sum")
            torch.autograd.grad(loss, x)
    finally:
        for h in handles:
            h.remove()
    return {k: v / len(split) for k, v in acc.items()}
