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
