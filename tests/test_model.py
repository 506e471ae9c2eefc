import pytest
import torch

import helpers


@pytest.mark.parametrize("backbone", sorted(helpers.BACKBONES))
def test_shapes(backbone):
    model = helpers.Net(backbone).eval()
    images, bits = torch.randn(7, 1, 28, 28), torch.zeros(7, 4)
    assert model.backbone(images).shape == (7, 320)
    assert model(images, bits).shape == (7, 9)
    linears = [m for m in model.head if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(324, 128), (128, 64), (64, 9)]


def test_the_number_changes_the_output():
    model = helpers.Net().eval()
    image = torch.randn(1, 1, 28, 28)
    outputs = {tuple(model(image, helpers.int_to_bits(torch.tensor([n]), 4)).flatten().tolist()) for n in range(10)}
    assert len(outputs) == 10


def test_unknown_backbone():
    with pytest.raises(ValueError, match="classic"):
        helpers.Net("resnet1000")


@pytest.mark.parametrize("key, bad, words", [
    ("epochs", 0, "epochs must be a positive int"),
    ("batch_size", 12.5, "batch_size must be a positive int"),
    ("seed", -1, "seed must be a non-negative int"),
    ("lr", "fast", "lr must be a non-negative number"),
    ("lr", float("nan"), "lr must be a non-negative number"),
    ("weight_decay", float("inf"), "weight_decay must be a non-negative number"),
    ("encoding", "gray", "encoding must be one of"),
    ("augment", "yes", "augment must be one of"),
    ("augment", 1, "augment must be one of"),
    ("centre_input", "yes", "centre_input must be True or False"),
    ("label_smoothing", 1.0, r"label_smoothing must be a number in \[0, 1\)"),
    ("label_smoothing", -0.1, "label_smoothing must be a number in"),
    ("label_smoothing", True, "label_smoothing must be a number in"),
    ("recalibrate_bn", 1, "recalibrate_bn must be True or False"),
])
def test_bad_notebook_parameters_fail_clearly(key, bad, words):
    namespace = {**helpers.notebook_defaults(), key: bad}
    with pytest.raises(ValueError, match=words):
        helpers.collect_params(namespace)
    assert helpers.collect_params(helpers.notebook_defaults())["epochs"] == 10
