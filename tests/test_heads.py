"""The heads: what they keep of the interface, what the checkpoints record, and whether a head learns addition
(answers pairs it never trained on) or memorizes the table."""
import json

import pytest
import torch

from helpers.core.mnist import prepare_data
from helpers.core.paths import RESULTS, ROOT
from helpers.core.checkpoints import read_checkpoint
from helpers.digit_and_sum.model import CHECKPOINT_FORMAT, load_checkpoint
from helpers.digit_and_sum.encoding import bits_to_int, decode_outputs, encode_targets, int_to_bits
from helpers.digit_and_sum.evaluation import cell_metrics, evaluate_exhaustive, pair_logits, unseen_numbers
from helpers.digit_and_sum.heads import ADDER_HEADS, CELL_INPUTS, FULL_ADDER, HEADS, SymmetricAdderHead
from helpers.digit_and_sum.inference import predict
from helpers.digit_and_sum.pairs import cell_coverage, held_out_pairs
from helpers.digit_and_sum.settings import Config
from helpers.digit_and_sum.train import fit


@pytest.mark.slow
def test_a_checkpoint_records_its_head_and_loads_it(small_run):
    path = small_run["symadder"]["dir"] / "model.pt"
    assert read_checkpoint(path, CHECKPOINT_FORMAT)["head"] == "symadder"
    model = load_checkpoint(path)
    assert model.head_name == "symadder" and isinstance(model.head, SymmetricAdderHead) and model.head.symmetric
    trained = small_run["symadder"]["model"].state_dict()
    assert all(torch.equal(value, trained[key]) for key, value in model.state_dict().items())


def test_an_old_checkpoint_without_a_head_loads_as_the_mlp():
    assert load_checkpoint(ROOT / "models" / "default.pt").head_name == "mlp"
    assert "head" not in read_checkpoint(ROOT / "models" / "default.pt", CHECKPOINT_FORMAT)


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    """The best head (symadder) and the mlp head, 3 epochs on 12,000 images, 50 of the 100 pairs held out (seed 2),
    evaluated on 2,000 test images with every number."""
    data = prepare_data(train_size=12_000, eval_size=2000, download=False)
    runs = {}
    for head in ("symadder", "mlp"):
        out = tmp_path_factory.mktemp(head)
        run = fit(Config(head=head, holdout=50, seed=2, epochs=3, train_size=12_000, eval_size=2000, output_dir=str(out),
                                         device="cpu", precision="fp32", log_interval=10**6), data, log=lambda line: None)
        runs[head] = {**run["metrics"]["exhaustive"], "dir": out, "model": run["model"].cpu().eval()}
    return runs


@pytest.mark.slow
def test_the_adder_answers_pairs_it_never_saw_as_well_as_seen_ones_and_the_mlp_does_not(small_run):
    adder, mlp = small_run["symadder"], small_run["mlp"]
    assert len(adder["heldout"]) == len(mlp["heldout"]) == 50
    assert adder["seen_pairs"]["joint_acc"] > 0.9 and mlp["seen_pairs"]["joint_acc"] > 0.6  # both learned the seen pairs
    assert adder["heldout_pairs"]["joint_acc"] > adder["seen_pairs"]["joint_acc"] - 0.02  # adds
    assert mlp["heldout_pairs"]["joint_acc"] < mlp["seen_pairs"]["joint_acc"] - 0.3  # looks the answer up
    assert adder["unseen_numbers"]["joint_acc"] > 0.85 > 0.2 > mlp["unseen_numbers"]["joint_acc"]


def test_unseen_numbers_are_every_image_with_10_to_15_counted_by_hand():
    """A stand-in model that answers digit 3 and sum (number + 3) for every image: right on the images of a 3 for
    every number 10..15, wrong on the others; an encoding that cannot name sums above 18 is never right."""
    class Stand(torch.nn.Module):
        encoding = "binary"

        def forward(self, images, number_bits):
            numbers = bits_to_int(number_bits)
            return encode_targets(torch.full_like(numbers, 3), numbers) * 2 - 1

    digits = torch.tensor([3, 3, 5, 3, 0])
    result = unseen_numbers(Stand(), torch.zeros(5, 1, 28, 28), digits)
    assert result == {"joint_acc": 3 / 5, "sum_acc": 3 / 5, "numbers": [10, 11, 12, 13, 14, 15]}


def test_the_shipped_adder_trained_on_19_pairs_answers_the_81_it_never_saw(mnist):
    """models/symadder-k81.pt never saw 81 of the 100 (digit, number) pairs in training (holdout 81, seed 1): every test
    image of the first 2,000 with each of the held-out numbers for its digit, and with the numbers 10..15. A fixed
    model, no training: a threshold that holds on every CPU (it reads about 99 %)."""
    path = ROOT / "models" / "symadder-k81.pt"
    params = read_checkpoint(path, CHECKPOINT_FORMAT)["params"]
    assert (params["head"], params["holdout"], params["seed"]) == ("symadder", 81, 1)
    model, held = load_checkpoint(path), held_out_pairs(81, 1)
    images, digits = mnist["test"][0][:2000], mnist["test"][1][:2000]
    pairs = [(i, n) for i, d in enumerate(digits.tolist()) for n in range(10) if held[d, n]]
    index, numbers = torch.tensor(pairs).T
    assert len(pairs) > 2000 * 7  # about 8 of each digit's 10 numbers are held out
    pred_digits, pred_sums = predict(model, images[index], numbers)
    assert ((pred_digits == digits[index]) & (pred_sums == digits[index] + numbers)).float().mean() > 0.98
    big = torch.arange(10, 16).repeat_interleave(len(images))  # the numbers the sampler never draws
    logits = pair_logits(model, ((images.float() / 255 - model.mean) / model.std).unsqueeze(1).repeat(6, 1, 1, 1),
                                 big)
    pred_digits, pred_sums = decode_outputs("binary", logits.cpu())
    assert ((pred_digits == digits.repeat(6)) & (pred_sums == digits.repeat(6) + big)).float().mean() > 0.98


def test_the_shipped_adder_is_the_committed_run():
    """models/symadder-k81.pt is results/symadder-k81-seed1's model: the same commit, settings and history as the
    run's metrics.json (what the README's numbers and cell figure come from)."""
    shipped = read_checkpoint(ROOT / "models" / "symadder-k81.pt", CHECKPOINT_FORMAT)
    metrics = json.loads((RESULTS / "symadder-k81-seed1" / "metrics.json").read_text())
    assert shipped["versions"]["code"] == metrics["versions"]["code"] and not metrics["versions"]["code"]["dirty"]
    assert shipped["history"] == metrics["history"]
    assert {k: shipped["params"][k] for k in ("head", "holdout", "seed")} == {"head": "symadder", "holdout": 81, "seed": 1}


def test_the_arithmetic_alone_is_the_sum_over_the_images_whose_digit_was_read_right():
    """A stand-in that reads every image as a 3 and adds 3 to numbers 0..4 (4 to the others): over the images of a
    3 it is right for numbers 0..4 and wrong for 5..9; the images of other digits, never read right, do not count.
    Held out: (3, 7) and (3, 8), both wrong (0); seen: (3, 0..4) right, (3, 5), (3, 6), (3, 9) wrong: 5 / 8."""
    class Stand(torch.nn.Module):
        encoding = "binary"

        def forward(self, images, number_bits):
            numbers = bits_to_int(number_bits)
            return encode_targets(torch.full_like(numbers, 3), numbers + (numbers > 4).long()) * 2 - 1

    held = torch.zeros(10, 10, dtype=torch.bool)
    held[3, 7] = held[3, 8] = True
    result = evaluate_exhaustive(Stand(), torch.zeros(5, 1, 28, 28), torch.tensor([3, 3, 5, 3, 0]), held)
    assert result["heldout_pairs"]["sum_given_digit"] == 0.0
    assert result["seen_pairs"]["sum_given_digit"] == 5 / 8
    assert "cell" not in result and "cell_exact" not in result  # no learned cell


def test_a_cell_is_exact_when_every_answer_is_on_the_full_adders_side():
    class Cell(torch.nn.Module):
        def __init__(self, table):
            super().__init__()
            self.head = type("Head", (), {"truth_table": lambda _: table[None]})()

    near = FULL_ADDER * 0.9 + 0.05  # every answer 0.05 from the truth
    assert cell_metrics(Cell(near))["cell_exact"]
    wrong = near.clone()
    wrong[7, 0] = 0.45  # 1 + 1 + carry 1: the sum bit should be 1
    result = cell_metrics(Cell(wrong))
    assert not result["cell_exact"] and result["cell"]["inputs"][7] == [1, 1, 1]


def test_the_cells_truth_table_is_its_step_on_the_8_exact_inputs():
    for name in ("symadder", "symadder-unshared"):
        head = HEADS[name]()
        table = head.truth_table()
        assert table.shape == (1 if head.shared else 4, 8, 2)
        assert torch.allclose(table[-1], head.step(CELL_INPUTS, head.bits - 1).sigmoid())


def test_coverage_is_what_the_kept_pairs_show_the_cell_counted_by_hand():
    """Kept: (0, 0) and (9, 9) only. 0 + 0 shows (0, 0, 0) at every bit. 9 + 9 = 1001 + 1001 from the least
    significant bit: (1, 1, 0) -> carry 1; (0, 0, 1) -> carry 0; (0, 0, 0); (1, 1, 0). Counts of ones: 0, 1, 2."""
    held = torch.ones(10, 10, dtype=torch.bool)
    held[0, 0] = held[9, 9] = False
    assert cell_coverage(held) == {"triples": [[0, 0, 0], [0, 0, 1], [1, 1, 0]], "counts": [0, 1, 2]}
    assert cell_coverage(torch.zeros(10, 10, dtype=torch.bool))["counts"] == [0, 1, 2, 3]
    assert 3 not in cell_coverage(held_out_pairs(81, 111))["counts"]  # a draw that never shows three 1s


@pytest.mark.parametrize("name", ADDER_HEADS)
def test_the_batched_adder_computes_its_cells_position_by_position(name):
    """The head's forward (orderings and positions batched) against the cell run one position after the other with
    `step`, the reference: the same logits and the same gradients, to float rounding."""
    torch.manual_seed(0)
    head = HEADS[name]()
    features, number = torch.randn(64, 320, requires_grad=True), int_to_bits(torch.randint(0, 16, (64,)), 4)

    def by_hand():
        digit_logits = head.digit_logits(features)
        digit_bits = (digit_logits.detach() if head.detach else digit_logits).sigmoid()
        carry, sums = torch.zeros_like(digit_bits[:, :1]), []
        for i in reversed(range(head.bits)):
            out = head.step(torch.cat([digit_bits[:, i:i + 1], number[:, i:i + 1], carry], 1), i)
            sums.insert(0, out[:, :1])
            carry = out[:, 1:].sigmoid()
        return torch.cat([digit_logits, out[:, 1:], *sums], 1)

    weights = torch.randn(64, 9)
    results = []
    for forward in (lambda: head(features, number), by_hand):
        logits = forward()
        results.append((logits, torch.autograd.grad((logits * weights).sum(), [features, *head.parameters()])))
    (fast, fast_grads), (slow, slow_grads) = results
    assert torch.allclose(fast, slow, atol=1e-6)
    assert all(torch.allclose(a, b, atol=1e-5, rtol=1e-4) for a, b in zip(fast_grads, slow_grads))

