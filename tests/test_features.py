"""unlearn.unlearning.features: penultimate features are fc's input; similarity helpers."""
import pytest
import torch

from method_helpers import one_thread  # noqa: F401 (autouse fixture)

from unlearn.unlearning.features import (cosine_similarity_matrix, extract_features, most_similar,
                              nearest_counts, penultimate)
from unlearn.training.model import build_model
from unlearn.training.train import logits_of


def test_resnet18_features_are_fc_input():
    torch.manual_seed(0)
    model = build_model(8)
    images = torch.randint(0, 256, (5, 3, 16, 16), dtype=torch.uint8)
    model.train()
    feats = extract_features(model, images, torch.device("cpu"), batch_size=2)
    assert feats.shape == (5, 512)
    assert model.training                                    # mode restored
    logits = logits_of(model, images, torch.device("cpu"))   # eval mode, as features
    with torch.no_grad():
        assert torch.allclose(model.fc(feats), logits, atol=1e-5)


def test_penultimate_returns_logits_too():
    torch.manual_seed(0)
    model = build_model(8).eval()
    x = torch.rand(3, 3, 16, 16)
    feats, logits = penultimate(model, x)
    assert torch.allclose(model.fc(feats), logits, atol=1e-6)
    # hook removed afterwards
    assert not model.fc._forward_pre_hooks


def test_no_fc_is_an_error():
    with pytest.raises(ValueError):
        extract_features(torch.nn.Linear(2, 2), torch.zeros(1, 3, 2, 2, dtype=torch.uint8),
                         torch.device("cpu"))


def test_cosine_matrix_by_hand():
    a = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    b = torch.tensor([[1.0, 1.0], [3.0, 0.0]])
    s = 2 ** -0.5
    assert torch.allclose(cosine_similarity_matrix(a, b), torch.tensor([[s, 1.0], [s, 0.0]]),
                          atol=1e-6)


def test_nearest_counts_and_most_similar():
    # 2 forget rows × 4 retain columns
    sim = torch.tensor([[0.9, 0.8, 0.1, 0.0],
                        [0.2, 0.7, 0.6, 0.0]])
    # k = 2: row 0 picks {0, 1}; row 1 picks {1, 2}
    assert nearest_counts(sim, 2).tolist() == [1, 2, 1, 0]
    assert nearest_counts(sim, 0).tolist() == [0, 0, 0, 0]
    # column scores (max over rows): .9, .8, .6, 0
    assert most_similar(sim, 3).tolist() == [0, 1, 2]
