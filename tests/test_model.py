import ast
import json
import re

import pytest
import torch

from helpers.core.backbones import BACKBONES
from helpers.core.paths import NOTEBOOK, ROOT
from helpers.core.settings import parameter_table, parameters_cell
from helpers.digit_and_sum.encoding import decode_logits, int_to_bits
from helpers.digit_and_sum.heads import HEADS
from helpers.digit_and_sum.model import MODEL_SETTINGS, Net
from helpers.digit_and_sum.settings import ADDED_PARAMS, PARAMS, TRAINING_PARAMS, Config
from helpers.digit_and_sum.train import fit


@pytest.mark.parametrize("backbone", sorted(BACKBONES))
def test_shapes(backbone):
    model = Net(backbone=backbone).eval()
    images, bits = torch.randn(7, 1, 28, 28), torch.zeros(7, 4)
    assert model.backbone(images).shape == (7, 320)
    assert model(images, bits).shape == (7, 9)
    linears = [m for m in model.head if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(324, 128), (128, 64), (64, 9)]


def test_the_number_changes_the_output():
    model = Net().eval()
    image = torch.randn(1, 1, 28, 28)
    outputs = {tuple(model(image, int_to_bits(torch.tensor([n]), 4)).flatten().tolist()) for n in range(10)}
    assert len(outputs) == 10


def test_unknown_backbone():
    with pytest.raises(ValueError, match="classic"):
        Net(backbone="resnet1000")


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
    ("head", "transformer", r"head must be one of \['adder', 'classadder', 'digitbits-mlp', 'line', 'mlp', 'symadder', "),
    ("train_size", 0, "train_size must be None or a positive int"),
    ("min_joint_acc", 1.5, r"min_joint_acc must be a number in \[0, 1\]"),
    ("output_dir", 3, "output_dir must be a path or None"),
])
def test_bad_settings_fail_clearly(key, bad, words):
    with pytest.raises(ValueError, match=words):
        Config(**{key: bad})
    with pytest.raises(ValueError, match=words):  # the notebook's way in: its namespace after papermill's injection
        Config.from_namespace({**Config().to_dict(), key: bad})


def test_a_structured_head_needs_the_binary_code_and_number_bits():
    with pytest.raises(ValueError, match="head 'adder' reads the number's 4 bits and writes the 9-bit code"):
        Config(head="adder", encoding="softmax")
    with pytest.raises(ValueError, match="head 'line' .* got 'binary' and 'onehot'"):
        Net(head="line", number_input="onehot")


def test_the_notebooks_parameters_cell_is_the_configs():
    """papermill needs literals in the notebook; every setting, its default and its description live in
    Config: the notebook's cell is the one Config writes for the settings a reader changes, its literals Config's
    defaults; the settings it leaves out take their defaults, or papermill's values (tests/test_notebook.py)."""
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    source = next("".join(c["source"]) for c in cells if "parameters" in c["metadata"].get("tags", []))
    assert source == parameters_cell(Config, Config.NOTEBOOK_CELL)
    literals = {node.targets[0].id: ast.literal_eval(node.value) for node in ast.parse(source).body}
    assert literals == {k: v for k, v in Config().to_dict().items() if k in Config.NOTEBOOK_CELL}
    assert len(literals) == len(Config.NOTEBOOK_CELL) == 8
    assert Config.from_namespace(literals) == Config()
    assert Config.from_namespace({**literals, "elastic": 2.0}).elastic == 2.0


@pytest.mark.parametrize("notebook", sorted((ROOT / "notebooks").glob("*.ipynb")), ids=lambda path: path.stem)
def test_the_code_a_notebook_shows_is_the_code_as_it_is(notebook):
    """`explore.show_code` displays functions and classes read from helpers/: in a committed notebook each one it
    displays must still be there, character for character (an output from before a change to the code fails)."""
    source = "\n".join(path.read_text() for path in sorted((ROOT / "helpers").rglob("*.py")))
    cells = [c for c in json.loads(notebook.read_text())["cells"] if "show_code" in "".join(c.get("source", ""))]
    for cell in cells:
        shown = "".join(next(o["data"]["text/plain"] for o in cell["outputs"] if "text/plain" in o.get("data", {})))
        blocks = re.split(r"\n\n(?=(?:def |class |@))", shown)
        assert blocks and all(block.strip() in source for block in blocks), "".join(cell["source"])


def test_the_usage_pages_parameter_table_is_the_configs():
    """docs/usage.md shows the table Config writes (regenerate it with `parameter_table(Config)`)."""
    assert parameter_table(Config) in (ROOT / "docs" / "usage.md").read_text()


def test_what_a_resume_must_match_and_what_older_runs_used_come_from_the_fields():
    assert set(TRAINING_PARAMS) == set(PARAMS) - {"device", "log_interval", "data_dir", "output_dir",
                                                                     "image_dir", "resume", "min_joint_acc", "export_path"}
    assert ADDED_PARAMS == {"label_smoothing": 0.0, "recalibrate_bn": False, "precision": "fp32", "head": "mlp",
                            "number_input": "bits", "centre_input": False, "elastic": 0.0, "eval_size": None}


@pytest.mark.parametrize("head", sorted(HEADS))
def test_a_net_is_built_from_a_config_and_records_what_rebuilds_it(head):
    config = Config(head=head, backbone="mid", centre_input=True)
    model = Net.from_config(config)
    assert model.settings() == {k: getattr(config, k) for k in MODEL_SETTINGS}
    assert str(Net(**model.settings())) == str(model)


def test_fit_takes_only_a_checked_config(tmp_path):
    with pytest.raises(TypeError, match="fit needs a Config"):
        fit({**Config().to_dict(), "epochs": 0, "output_dir": str(tmp_path)}, data=None)


@pytest.mark.parametrize("head", sorted(HEADS))
def test_every_head_gives_9_logits_and_listens_to_the_number(head):
    torch.manual_seed(0)
    model = Net(head=head).eval()
    images = torch.randn(5, 1, 28, 28)
    outputs = [model(images, int_to_bits(torch.full((5,), n), 4)) for n in range(16)]
    assert all(o.shape == (5, 9) for o in outputs)
    assert len({tuple(o[0, 4:].tolist()) for o in outputs}) == 16  # the sum bits depend on the number
    digit_from_the_image_only = all(torch.equal(o[:, :4], outputs[0][:, :4]) for o in outputs)
    assert digit_from_the_image_only == (head != "mlp")  # the original's head mixes the number into every output


def test_the_symmetric_adders_cell_answers_the_same_for_its_inputs_in_any_order():
    """symadder's cell gives one answer for (a, b, c) in any order; the adder's cell (a plain MLP) does not."""
    torch.manual_seed(0)
    inputs = torch.rand(64, 3)
    for head, symmetric in (("symadder", True), ("adder", False)):
        step = Net(head=head).head.step
        answers = [step(inputs[:, list(order)]) for order in ((0, 1, 2), (1, 0, 2), (2, 1, 0), (1, 2, 0))]
        assert all(torch.allclose(answers[0], other, atol=1e-6) for other in answers[1:]) == symmetric


def test_classadders_digit_bits_are_the_marginals_of_its_ten_digit_classes():
    """classadder's digit bit logits are the log-odds of each bit under its softmax over the digits 0..9: the codes
    10..15 get no probability, and a confident class reads as its own code."""
    torch.manual_seed(0)
    head = HEADS["classadder"]()
    features, number = torch.randn(64, 320), torch.randint(0, 2, (64, 4)).float()
    probabilities = head.digit(features).softmax(-1)  # (batch, 10)
    codes = int_to_bits(torch.arange(10), 4)  # (digit, bit), most significant first
    bits = head(features, number)[:, :4].sigmoid()
    assert torch.allclose(bits, probabilities @ codes, atol=1e-5)
    with torch.no_grad():  # one class made certain: its code, whatever the others say
        head.digit[-1].bias.copy_(torch.tensor([0., 0, 0, 0, 0, 0, 0, 40, 0, 0]))
    assert (decode_logits(head(features, number))[0] == 7).all()
