"""The written-out ResNet-18 is torchvision's: same weights for a seed, same outputs."""
import torch
from torchvision.models import resnet18 as torchvision_resnet18

from unlearn.training.model import build_model


def test_same_seed_gives_torchvisions_weights_and_outputs():
    torch.manual_seed(5)
    ours = build_model(8)
    torch.manual_seed(5)
    theirs = torchvision_resnet18(weights=None, num_classes=8)
    a, b = ours.state_dict(), theirs.state_dict()
    assert list(a) == list(b)
    assert all(torch.equal(a[k], b[k]) for k in a)
    x = torch.rand(4, 3, 32, 32)
    ours.train(), theirs.train()
    assert torch.equal(ours(x), theirs(x))
    ours.eval(), theirs.eval()
    assert torch.equal(ours(x), theirs(x))
