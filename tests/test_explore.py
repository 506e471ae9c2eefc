"""The notebook's exploration panel and code display, driven from Python (the browser test drives them in JupyterLab)."""
import inspect

import pytest
import torch

from helpers.core.backbones import BACKBONES
from helpers.digit_and_sum.model import load_checkpoint
from helpers.digit_and_sum.encoding import target_code
from helpers.digit_and_sum.evaluation import evaluate
from helpers.digit_and_sum.heads import HEADS
from helpers.digit_and_sum.model import Net
from helpers.digit_and_sum.sampler import RandomSampler
from helpers.digit_and_sum.train import train_epoch
from helpers.figures import explore

from conftest import ROOT


@pytest.fixture(scope="module")
def explorer(data):
    return explore.Explorer(load_checkpoint(ROOT / "models" / "default.pt"), data)


def test_the_panel_answers_like_evaluate_and_follows_the_number(explorer, data):
    numbers = torch.full_like(data.eval_y, 4)
    result = evaluate(explorer.model, data.eval_x, data.eval_y, numbers)
    explorer.number.value, explorer.which.value, explorer.index.value = 4, "all images", 11
    state = explorer.state()
    assert (state["image"], state["number"], state["sum"]) == (11, 4, data.eval_y[11].item() + 4)
    assert (state["pred_digit"], state["pred_sum"]) == (result["pred_digits"][11].item(), result["pred_sums"][11].item())
    assert "+ 4 = " in explorer.answer.value and bytes(explorer.picture.value).startswith(b"\x89PNG")
    explorer.number.value = 9
    assert explorer.state()["sum"] == data.eval_y[11].item() + 9 and "+ 9 = " in explorer.answer.value


def test_mistakes_are_exactly_the_wrong_pairs_for_the_number(explorer, data):
    explorer.number.value, explorer.which.value = 2, "mistakes"
    result = evaluate(explorer.model, data.eval_x, data.eval_y, torch.full_like(data.eval_y, 2))
    wrong = torch.nonzero((result["pred_digits"] != data.eval_y) | (result["pred_sums"] != data.eval_y + 2)).flatten()
    assert explorer.shown == wrong.tolist() and explorer.index.max == len(wrong) - 1
    explorer.index.value = len(wrong) - 1
    assert not explorer.state()["right"] and "wrong" in explorer.describe()
    assert f"{len(wrong)} of {len(wrong)} mistakes" in explorer.describe()


def test_outputs_and_targets_line_up(explorer):
    five, seven = torch.tensor([5]), torch.tensor([7])
    assert target_code("binary", five, seven)[0].tolist() == [0, 1, 0, 1, 0, 1, 1, 0, 0]  # 0101, 01100
    onehot = target_code("softmax", five, seven)[0]
    assert onehot.argmax().item() == 5 and onehot[10:].argmax().item() == 12 and onehot.sum() == 2
    assert explore.output_labels("binary") == ["d8", "d4", "d2", "d1", "s16", "s8", "s4", "s2", "s1"]
    assert ((explorer.state()["probabilities"] >= 0) & (explorer.state()["probabilities"] <= 1)).all()


def test_show_code_renders_the_source_from_helpers(capsys, monkeypatch):
    shown = []
    monkeypatch.setattr(explore, "display", shown.append)
    explore.show_code(RandomSampler, train_epoch)
    (code,) = shown
    html = code._repr_html_()
    assert "getRandomBatch" in html and "train_epoch" in html and "<span" in html  # highlighted


@pytest.mark.parametrize("backbone", sorted(BACKBONES))
def test_the_code_shown_for_a_model_is_the_code_it_runs(backbone):
    """`model_code`: the backbone's function last among the backbone's pieces, every function it calls shown before
    it, and the head's class last, its bases from this package before it."""
    for head in HEADS:
        model = Net(backbone=backbone, head=head)
        code = explore.model_code(model)
        pieces = code[:len(explore.BACKBONE_CODE[backbone])]
        assert pieces[-1] is BACKBONES[backbone] and code[-1] is type(model.head)
        source = inspect.getsource(BACKBONES[backbone])
        called = {obj.__name__ for obj in pieces[:-1]}
        assert called == {name for name in ("conv_pool_bn", "to_320", "three_conv_backbone")
                          if f"{name}(" in source or any(f"{name}(" in inspect.getsource(p) for p in pieces[:-1])}
        assert all(issubclass(type(model.head), cls) for cls in code[len(pieces):])
