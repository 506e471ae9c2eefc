"""MNIST addition: the pairs as the protocol builds them, the exact program against brute-force enumeration, the
learned cell's likelihood likewise, the methods' shapes, digit labels that never reach training, a small run in
which the exact method learns digits from sums alone, and the relabelled epochs (the constrained reading against brute
force, the program's values, the model they end with)."""
import dataclasses
import itertools
import json
import math
from unittest.mock import ANY

import pytest
import torch
import torch.nn.functional as F

from helpers.core.checkpoints import read_checkpoint
from helpers.core.paths import ADDITION_NOTEBOOK, ROOT
from helpers.core.settings import parameter_table, parameters_cell
from helpers.mnist_addition.data import AdditionData, prepare_addition, sum_digits
from helpers.mnist_addition.evaluation import evaluate_addition
from helpers.mnist_addition.model import (CHECKPOINT_FORMAT, AdditionModel, LearnedCell, exact_log_likelihood,
                                          load_addition_model)
from helpers.mnist_addition.recipes import RECIPES
from helpers.mnist_addition.relabel import constrained_labels, program_values
from helpers.mnist_addition.results import addition_summary, beyond_shared, load_addition_results
from helpers.mnist_addition.settings import AdditionConfig
from helpers.mnist_addition.train import cell_report, fit, part_trained, relabel


def every_assignment(digits: int) -> torch.Tensor:
    """All 10^(2N) digit assignments of two N-digit numbers: (10^(2N), 2, N)."""
    return torch.cartesian_prod(*[torch.arange(10)] * (2 * digits)).view(-1, 2, digits)


def brute_force(probabilities: torch.Tensor, sums: torch.Tensor, lowest: int | None = None) -> float:
    """P(sum) for one pair: the probability of every digit assignment whose numbers add up to `sums` (in its
    `lowest` digits, if given), summed."""
    assignments = every_assignment(probabilities.shape[1])
    places = 10 ** torch.arange(probabilities.shape[1] - 1, -1, -1)
    modulus = 10 ** (lowest or len(sums))
    matches = ((assignments * places).sum((1, 2)) % modulus == (sums * 10 ** torch.arange(len(sums) - 1, -1, -1)).sum() % modulus)
    weights = probabilities[torch.arange(2)[:, None], torch.arange(probabilities.shape[1]), assignments].flatten(1).prod(1)
    return weights[matches].sum().item()


def brute_force_cell(probabilities: torch.Tensor, sums: torch.Tensor, cell: torch.Tensor) -> float:
    """P(sum) through a learned cell for one pair: every digit assignment and every carry path, summed by hand."""
    digits, total = probabilities.shape[1], 0.0
    for assignment in every_assignment(digits).tolist():
        weight = math.prod(probabilities[n, i, d].item() for n in range(2) for i, d in enumerate(assignment[n]))
        paths = {0: 1.0}  # carry -> probability of the sum digits so far, from the least significant
        for i in reversed(range(digits)):
            step = {}
            for carry, p in paths.items():
                for out in (0, 1):
                    step[out] = step.get(out, 0.0) + p * cell[assignment[0][i], assignment[1][i], carry, sums[i + 1], out].item()
            paths = step
        total += weight * paths.get(sums[0].item(), 0.0)
    return total


@pytest.mark.parametrize("digits", [1, 2, 3])
def test_the_carry_program_is_exactly_the_sum_over_every_digit_assignment(digits):
    torch.manual_seed(digits)
    logits = torch.randn(4, 2, digits, 10, dtype=torch.float64) * 2
    numbers = torch.randint(0, 10, (4, 2, digits))
    sums = sum_digits(numbers)
    sums[3] = sum_digits(torch.randint(0, 10, (2, digits)))  # another pair's sum: a sum these digits rarely make
    fast = exact_log_likelihood(logits, sums).exp()
    for i in range(4):
        assert fast[i].item() == pytest.approx(brute_force(logits[i].softmax(-1), sums[i]), abs=1e-6, rel=1e-6)


@pytest.mark.parametrize("lowest", [1, 2, 3])
def test_the_likelihood_of_the_lowest_digits_is_the_sum_over_every_assignment_that_makes_them(lowest):
    torch.manual_seed(lowest)
    logits = torch.randn(3, 2, 3, 10, dtype=torch.float64)
    sums = sum_digits(torch.randint(0, 10, (3, 2, 3)))
    fast = exact_log_likelihood(logits, sums, lowest).exp()
    for i in range(3):
        assert fast[i].item() == pytest.approx(brute_force(logits[i].softmax(-1), sums[i], lowest), rel=1e-6)


def test_lowest_first_grows_from_4_digits_to_all():
    config = AdditionConfig(digits=100, lowest_first=6, epochs=20)
    assert [part_trained(config, 100, epoch) for epoch in range(1, 8)] == [4, 23, 42, 62, 81, None, None]
    assert part_trained(AdditionConfig(digits=2, lowest_first=6), 2, 1) is None  # 3 digits: all


def test_adjacent_first_scores_adjacent_digits_before_its_epoch_then_the_whole_sum():
    config = AdditionConfig(digits=100, adjacent_first=4, epochs=20)
    assert [part_trained(config, 100, epoch) for epoch in range(1, 6)] == ["adjacent"] * 3 + [None, None]
    with pytest.raises(ValueError, match="one of them"):
        AdditionConfig(digits=100, adjacent_first=4, lowest_first=6)


def brute_force_adjacent(probabilities: torch.Tensor, sums: torch.Tensor) -> float:
    """Half the sum over every two adjacent positions (upper i, lower i + 1, most significant first) of
    log P(sum digits i + 1 and i + 2), each the average over a carry of 0 or 1 into the lower position of every
    assignment of the four digits that makes them, enumerated."""
    total = 0.0
    for i in range(probabilities.shape[1] - 1):
        p = 0.0
        for carry in (0, 1):
            for a_hi, b_hi, a_lo, b_lo in itertools.product(range(10), repeat=4):
                low = a_lo + b_lo + carry
                if low % 10 == sums[i + 2] and (a_hi + b_hi + low // 10) % 10 == sums[i + 1]:
                    p += 0.5 * (probabilities[0, i, a_hi] * probabilities[1, i, b_hi]
                                * probabilities[0, i + 1, a_lo] * probabilities[1, i + 1, b_lo]).item()
        total += math.log(p)
    return total / 2


@pytest.mark.parametrize("method", ["exact", "learned"])
def test_the_adjacent_digits_likelihood_is_the_enumerated_one(method):
    torch.manual_seed(3)
    logits = torch.randn(3, 2, 3, 10, dtype=torch.float64)
    sums = sum_digits(torch.randint(0, 10, (3, 2, 3)))
    if method == "exact":
        fast = exact_log_likelihood(logits, sums, "adjacent")
    else:  # a cell holding the exact table gives the same
        cell = LearnedCell()
        a, b, c = torch.meshgrid(torch.arange(10), torch.arange(10), torch.arange(2), indexing="ij")
        with torch.no_grad():
            cell.table.copy_(torch.where(F.one_hot((a + b + c) % 10 * 2 + (a + b + c) // 10, 20).bool(), 0.0, -1e4)
                             .view(10, 10, 2, 10, 2).double())
        fast = cell.log_likelihood(logits, sums, "adjacent")
    for i in range(3):
        assert fast[i].item() == pytest.approx(brute_force_adjacent(logits[i].softmax(-1), sums[i]), rel=1e-6)
    one = sum_digits(torch.randint(0, 10, (3, 2, 1)))  # N = 1: no neighbours, the whole sum
    assert torch.equal(exact_log_likelihood(logits[:, :, :1], one, "adjacent"),
                       exact_log_likelihood(logits[:, :, :1], one))


def test_the_learned_cells_likelihood_is_the_sum_over_every_assignment_and_carry_path():
    torch.manual_seed(0)
    cell = LearnedCell().double()
    with torch.no_grad():
        cell.table.normal_()
    logits = torch.randn(3, 2, 2, 10, dtype=torch.float64)
    sums = sum_digits(torch.randint(0, 10, (3, 2, 2)))
    fast = cell.log_likelihood(logits, sums).exp()
    table = cell.probabilities()
    for i in range(3):
        assert fast[i].item() == pytest.approx(brute_force_cell(logits[i].softmax(-1), sums[i], table), rel=1e-6)


def test_a_cell_that_adds_in_permuted_classes_reads_as_addition_in_digits():
    """The perception may name the digits otherwise (class matching[d] is digit d); the cell's sum digit is trained by
    the observed sums, so it is a digit: a cell that adds on the permuted classes is read right in all 200 entries,
    and one entry changed is read wrong."""
    matching = [3, 7, 0, 9, 1, 5, 8, 2, 6, 4]
    cell = LearnedCell()
    with torch.no_grad():
        cell.table.fill_(-10.0)
        for a, b, carry in itertools.product(range(10), range(10), range(2)):
            total = a + b + carry
            cell.table[matching[a], matching[b], carry, total % 10, total // 10] = 10.0
    report = cell_report(cell, matching)
    assert report["right"] == report["entries"] == 200
    assert [4, 8, 1, 3, 1] in report["table"]  # 4 + 8 + 1 = 13
    with torch.no_grad():
        cell.table[matching[4], matching[8], 1, 3, 1] = -10.0
        cell.table[matching[4], matching[8], 1, 2, 1] = 10.0
    assert cell_report(cell, matching)["right"] == 199


def test_a_100_digit_sum_has_a_finite_likelihood_and_gradient():
    logits = torch.zeros(2, 2, 100, 10, requires_grad=True)  # every digit uniform: P(sum) around 1e-100
    sums = sum_digits(torch.randint(0, 10, (2, 2, 100)))
    log_p = exact_log_likelihood(logits, sums)
    log_p.sum().backward()
    assert torch.isfinite(log_p).all() and log_p.max() < -150 and torch.isfinite(logits.grad).all()


def test_sums_are_added_digit_by_digit():
    numbers = torch.tensor([[[9, 9], [0, 1]], [[4, 5], [5, 6]], [[0, 0], [0, 0]]])
    assert sum_digits(numbers).tolist() == [[1, 0, 0], [1, 0, 1], [0, 0, 0]]
    big = torch.randint(0, 10, (2, 18))  # below 2^63: check against Python's integers
    value = sum(int("".join(map(str, row.tolist()))) for row in big)
    assert int("".join(map(str, sum_digits(big).tolist()))) == value


@pytest.mark.parametrize("digits", [1, 4, 15])
def test_pairs_follow_the_protocol(mnist, digits):
    """⌊60000 / 2N⌋ training and ⌊10000 / 2N⌋ test pairs, every image at most once, the same for a seed."""
    data = prepare_addition(digits, seed=3, splits=mnist)
    assert data.train_pairs.shape == (60_000 // (2 * digits), 2, digits)
    assert data.eval_pairs.shape == (10_000 // (2 * digits), 2, digits)
    for pairs in (data.train_pairs, data.eval_pairs):
        assert len(pairs.flatten().unique()) == pairs.numel()  # no image twice
    again, other = (prepare_addition(digits, seed=seed, splits=mnist) for seed in (3, 4))
    assert torch.equal(again.train_pairs, data.train_pairs) and not torch.equal(other.train_pairs, data.train_pairs)
    labels = mnist["train"][1]
    assert torch.equal(data.train_sums, sum_digits(labels[data.train_pairs]))


def test_a_validation_split_pairs_images_training_never_sees(mnist):
    data = prepare_addition(2, seed=1, val_size=10_000, splits=mnist)
    assert data.eval_name == "validation" and len(data.train_x) == 50_000 and len(data.eval_pairs) == 2500
    key = lambda images: {bytes(((i[0] * data.std + data.mean) * 255).round().to(torch.uint8).numpy()) for i in images}  # noqa: E731
    assert not key(data.train_x[:2000]) & key(data.eval_x)


@pytest.mark.parametrize("method, perception", [("exact", "lenet"), ("learned", "bn"), ("neural", "lenet"),
                                                ("neural", "bn")])
def test_every_method_gives_a_likelihood_per_pair_and_a_sum(method, perception):
    model = AdditionModel(3, method, perception).eval()
    images, sums = torch.randn(5, 2, 3, 1, 28, 28), sum_digits(torch.randint(0, 10, (5, 2, 3)))
    assert model.log_likelihood(model(images), sums).shape == (5,)
    logits, predicted = model.predict(images)
    assert predicted.shape == (5, 4) and ((predicted >= 0) & (predicted <= 9)).all()
    assert (logits is None) == (method == "neural")


def test_the_notebooks_parameters_cell_and_the_docs_table_are_the_configs():
    cells = json.loads(ADDITION_NOTEBOOK.read_text())["cells"]
    source = next("".join(c["source"]) for c in cells if "parameters" in c["metadata"].get("tags", []))
    assert source == parameters_cell(AdditionConfig)
    assert parameter_table(AdditionConfig) in (ROOT / "docs" / "usage.md").read_text()


def test_bad_settings_fail_clearly():
    with pytest.raises(ValueError, match="method must be one of"):
        AdditionConfig(method="abductive")
    with pytest.raises(ValueError, match="digits must be a positive int"):
        AdditionConfig(digits=0)
    with pytest.raises(ValueError, match="restart_epoch must be a positive int"):
        AdditionConfig(restart_epoch=0)
    with pytest.raises(ValueError, match="restart_loss must be a non-negative number"):
        AdditionConfig(restart_loss=-0.5)
    with pytest.raises(ValueError, match="never be read"):
        AdditionConfig(epochs=3, restarts=2, restart_epoch=4)
    with pytest.raises(ValueError, match="perception must be one of"):
        AdditionConfig(perception="resnet")
    with pytest.raises(ValueError, match="lengths must be a list of positive ints"):
        AdditionConfig(lengths="[4, 15]")  # papermill's -p gives a string; -y a list
    with pytest.raises(ValueError, match="neural baseline has none"):
        AdditionConfig(method="neural", lengths=[4])
    with pytest.raises(ValueError, match="needs 1200 evaluation images; the evaluation split has 1000"):
        AdditionConfig(lengths=[4, 600], val_size=1000)
    with pytest.raises(ValueError, match="needs 10002 evaluation images; the evaluation split has 10000"):
        AdditionConfig(lengths=[5001])
    with pytest.raises(ValueError, match="members > 1 are perceptions of the relabelled epochs"):
        AdditionConfig(members=2)
    assert AdditionConfig(lengths=[4, 15]) == AdditionConfig(lengths=(4, 15))  # a tuple, however it came


def test_a_run_trained_otherwise_than_the_recipes_names_how_in_the_summary():
    """The papers' training (addition-papers-training-n4) is named in the summary's recipe; a named recipe's own
    training is not."""
    papers = {**RECIPES["add-exact-lenet-n4"], "epochs": 100, "lr": 0.001, "weight_decay": 0.0,
              "schedule": "constant", "augment": False, "batch_size": 128, "restarts": 0}
    assert beyond_shared(papers) == "batch_size 128, lr 0.001, weight_decay 0.0, schedule constant, augment False"
    assert beyond_shared(RECIPES["add-exact-lenet-n4"]) == ""
    assert beyond_shared(RECIPES["add-learned-mid-n2"]) == ("cell_init 1.0, balance 1.0, restarts 2 after epoch 8 "
                                                            "above 0.25")


def few(data: AdditionData, pairs: int = 250) -> AdditionData:
    """The same data with only its first `pairs` evaluation pairs (a test not about accuracy needs no more)."""
    return dataclasses.replace(data, eval_pairs=data.eval_pairs[:pairs], eval_sums=data.eval_sums[:pairs])


def small(tmp_path, **changes):
    return AdditionConfig(**{"digits": 2, "epochs": 2, "batch_size": 256, "lr": 0.01, "perception": "lenet",
                                     "device": "cpu", "precision": "fp32", "train_pairs": 1500, "log_interval": 10**6,
                                     "output_dir": str(tmp_path), **changes})


# Every path of training that could read a label: the default, the learned cell with its prior and a restart (forced
# by a threshold of 0), both curricula (at N = 4, where they train on part of the sum), and the relabelled epochs.
SCRAMBLE_RECIPES = {"exact": (2, {}),
                    "learned, balance, restarts": (2, {"method": "learned", "cell_init": 1.0, "balance": 1.0,
                                                       "restarts": 1, "restart_epoch": 1, "restart_loss": 0.0}),
                    "lowest_first": (4, {"lowest_first": 2, "train_pairs": 750}),
                    "adjacent_first": (4, {"adjacent_first": 2, "train_pairs": 750}),
                    "relabel": (2, {"relabel_epochs": 1, "relabel_perception": "lenet"})}


@pytest.mark.slow
@pytest.mark.parametrize("recipe", SCRAMBLE_RECIPES)
def test_digit_labels_never_reach_training(tmp_path, mnist, recipe):
    """Scrambling every training image's label (the sums kept) changes nothing, on every recipe's path: the same run,
    bit for bit, its abandoned attempts included (two runs in one process: one machine, one build, as every
    bit-for-bit test here)."""
    digits, changes = SCRAMBLE_RECIPES[recipe]
    data = few(prepare_addition(digits, seed=1, splits=mnist, train_pairs=changes.get("train_pairs", 1500)))
    scrambled = AdditionData(**{**vars(data), "train_digits": data.train_digits[torch.randperm(len(data.train_digits))]})
    strip = lambda history: [{k: v for k, v in h.items() if k != "seconds"} for h in history]  # noqa: E731
    runs = []
    for name, d in (("a", data), ("b", scrambled)):
        metrics = fit(small(tmp_path / name, digits=digits, **changes), d, log=lambda line: None)["metrics"]
        relabel = metrics.get("relabel", {})
        runs.append([strip(metrics["history"]), [strip(r["history"]) for r in metrics["restarts"]], metrics["final"],
                     strip(relabel.get("history", [])), relabel.get("changed")])
    assert runs[0] == runs[1]
    assert len(runs[0][1]) == changes.get("restarts", 0)  # the restart path really ran
    assert len(runs[0][3]) == changes.get("relabel_epochs", 0)  # and the relabelled epochs


@pytest.mark.slow
def test_the_exact_method_learns_digits_from_sums_alone(tmp_path):
    """3,000 training pairs of 2-digit numbers, 2 epochs: the perception reads digits it was never told, far above
    chance (10 %). Thresholds, so any CPU: this Xeon reads 90.7 % of digits and 68.3 % of sums, and another CPU's
    drift (tests/README.md) moves them by far less than the margin. It records its task, in metrics.json and model.pt."""
    data = few(prepare_addition(2, seed=1, download=False, train_pairs=3000), 500)
    run = fit(small(tmp_path, train_pairs=3000), data, log=lambda line: None)
    assert run["metrics"]["final"]["digit_acc"] > 0.8 and run["metrics"]["final"]["sum_acc"] > 0.4
    saved = read_checkpoint(tmp_path / "model.pt", CHECKPOINT_FORMAT)
    assert saved["params"]["digits"] == 2 and saved["task"] == run["metrics"]["task"] == "mnist_addition"


def test_the_summary_keeps_runs_of_another_recipe_in_a_row_of_their_own(tmp_path):
    def run(seed, **curriculum):
        folder = tmp_path / f"add-exact-mid-n100-seed{seed}"
        folder.mkdir()
        params = {"digits": 100, "method": "exact", "perception": "mid", "epochs": 20, "seed": seed, **curriculum}
        (folder / "metrics.json").write_text(json.dumps({
            "task": "mnist_addition", "params": params, "final": {"sum_acc": 0.1 * seed, "digit_acc": 0.9}, "train_seconds": 100.0,
            "data": {"eval_set": "test"}}))
    for seed in (1, 2, 3):
        run(seed, lowest_first=6)
    for seed in (6, 7):
        run(seed, adjacent_first=6, restarts=2)
    run(8, adjacent_first=6, restarts=2, restart_epoch=2)  # the default epoch, named or not: one recipe
    for seed in (9, 10):
        run(seed, adjacent_first=6, restarts=5, restart_epoch=1)
    groups = load_addition_results(tmp_path)
    assert {name: len(runs) for name, runs in groups.items()} == {
        "add-exact-mid-n100 (adjacent_first 6, restarts 2)": 3, "add-exact-mid-n100 (lowest_first 6)": 3,
        "add-exact-mid-n100 (adjacent_first 6, restarts 5 after epoch 1)": 2}
    text = addition_summary(groups)
    assert "| 100 | exact | mid | lowest_first 6 | 1–3 | 20 | 20.00 ± 10.00 |" in text
    assert "| 100 | exact | mid | adjacent_first 6, restarts 2 | 6–8 | 20 | 70.00 ± 10.00 |" in text
    assert "| 100 | exact | mid | adjacent_first 6, restarts 5 after epoch 1 | 9, 10 | 20 | 95.00 ± 7.07 |" in text


@pytest.mark.slow
def test_a_run_whose_loss_shows_no_digits_starts_again_and_a_run_that_learns_does_not(tmp_path):
    """The restart reads the training loss only: above `restart_loss` after epoch 2 the run starts again from a new
    initialisation (its abandoned epochs recorded and counted in the training time); below it the run is the run
    without restarts, bit for bit."""
    data = few(prepare_addition(2, seed=1, download=False, train_pairs=600))
    quiet = lambda line: None  # noqa: E731
    plain = fit(small(tmp_path / "plain", epochs=3, train_pairs=600), data, log=quiet)["metrics"]
    kept = fit(small(tmp_path / "kept", epochs=3, train_pairs=600, restarts=2, restart_loss=1e9), data,
                                log=quiet)["metrics"]  # every run "found its digits"
    strip = lambda history: [{k: v for k, v in h.items() if k != "seconds"} for h in history]  # noqa: E731
    assert kept["restarts"] == [] and strip(kept["history"]) == strip(plain["history"])
    lines = []
    again = fit(small(tmp_path / "again", epochs=3, train_pairs=600, restarts=2, restart_loss=0.0), data,
                                 log=lines.append)["metrics"]  # every run "found no digits"
    assert [r["attempt"] for r in again["restarts"]] == [0, 1] and sum("Restart" in line for line in lines) == 2
    assert all(len(r["history"]) == 2 for r in again["restarts"]) and len(again["history"]) == 3
    assert {line["epoch"] for line in again["train_log"]} == {1, 2, 3}  # the kept attempt's lines; each abandoned one
    assert all({line["epoch"] for line in r["train_log"]} == {1, 2} for r in again["restarts"])  # keeps its own
    assert strip(again["restarts"][0]["history"]) == strip(plain["history"][:2])  # the first attempt is the plain run's
    assert again["restarts"][1]["history"][0]["train_loss"] != plain["history"][0]["train_loss"]  # a new start
    every = [h["seconds"] for h in again["history"]] + [h["seconds"] for r in again["restarts"] for h in r["history"]]
    assert again["train_seconds"] == pytest.approx(sum(every))
    early = fit(small(tmp_path / "early", epochs=3, train_pairs=600, restarts=1, restart_epoch=1,
                                       restart_loss=0.0),
                                 data, log=quiet)["metrics"]  # read after epoch 1: an abandoned attempt costs 1 epoch
    assert [len(r["history"]) for r in early["restarts"]] == [1] and len(early["history"]) == 3
    assert strip(early["restarts"][0]["history"]) == strip(plain["history"][:1])


@pytest.mark.parametrize("digits", [1, 2, 3])
def test_the_constrained_reading_is_the_most_probable_digits_that_add_up(digits):
    """`constrained_labels` (a max-product over the carry) against every pair of numbers with the observed sum."""
    generator = torch.Generator().manual_seed(digits)
    log_p = torch.randn(40 * digits, 10, generator=generator).log_softmax(-1)
    pairs = torch.randperm(40 * digits, generator=generator).view(-1, 2, digits)
    sums = sum_digits(torch.randint(0, 10, (40 * digits,), generator=generator)[pairs])
    labels = constrained_labels(log_p, pairs, sums)
    places = [10 ** (digits - 1 - i) for i in range(digits)]
    for pair, total in zip(pairs, sums):
        total = sum(d * 10 ** (digits - i) for i, d in enumerate(total.tolist()))
        score = lambda a, b: sum(log_p[pair[0, i], a // p % 10] + log_p[pair[1, i], b // p % 10]  # noqa: E731
                                 for i, p in enumerate(places))
        best = max(((a, total - a) for a in range(10 ** digits) if 0 <= total - a < 10 ** digits), key=lambda n: score(*n))
        read = [sum(labels[i].item() * p for i, p in zip(number, places)) for number in pair]
        assert tuple(read) == best


def test_the_program_values_of_a_learned_table_are_its_classes_digits():
    """A table that is addition on permuted classes gives their values; one wrong entry, or the neural baseline,
    gives None (no constrained reading)."""
    values = torch.randperm(10, generator=torch.Generator().manual_seed(0))
    model = AdditionModel(2, "learned", "lenet")
    total = values[:, None, None] + values[None, :, None] + torch.arange(2)
    code = total % 10 * 2 + (total >= 10).long()  # [class a, class b, c_in] -> s * 2 + c_out
    with torch.no_grad():
        model.cell.table.copy_(F.one_hot(code, 20).float().view(10, 10, 2, 10, 2) * 10)
    assert torch.equal(program_values(model), values)
    with torch.no_grad():
        model.cell.table[3, 4, 1] = model.cell.table[3, 4, 1].roll(2)
    assert program_values(model) is None
    assert torch.equal(program_values(AdditionModel(2, "exact", "lenet")), torch.arange(10))
    assert program_values(AdditionModel(2, "neural", "lenet")) is None


@pytest.mark.slow
def test_relabelled_epochs_end_with_the_new_perception_and_the_same_program(tmp_path, mnist):
    """A run with relabelled epochs: its model.pt holds the relabelled perception, its seconds count both trainings,
    and the frozen model loads and answers as the run evaluated it. A learned model keeps its table; one whose table
    is not addition on its classes is kept as it is, and says why."""
    data = few(prepare_addition(2, seed=1, splits=mnist, train_pairs=1500))
    run = fit(small(tmp_path, relabel_epochs=2, relabel_perception="bn"), data, log=lambda line: None)
    metrics, record = run["metrics"], run["metrics"]["relabel"]
    assert record["images"] == 1500 * 4 and len(record["history"]) == 2
    assert metrics["train_seconds"] == pytest.approx(sum(h["seconds"] for h in metrics["history"] + record["history"]))
    assert metrics["final"]["sum_acc"] == record["history"][-1]["sum_acc"]
    model, params = load_addition_model(tmp_path / "model.pt")
    assert isinstance(model.network[0], torch.nn.Sequential)  # bn's backbone, not LeNet's first conv
    assert evaluate_addition(model, data)["sum_acc"] == metrics["final"]["sum_acc"]

    config = small(tmp_path, method="learned", relabel_epochs=1, relabel_perception="bn")
    learned = AdditionModel(2, "learned", "lenet", cell_init=1.0)  # a random table: no addition to read digits by
    assert relabel(learned, config, data, log=lambda line: None) == (learned, {"skipped": ANY})
    values = torch.randperm(10, generator=torch.Generator().manual_seed(1))
    total = values[:, None, None] + values[None, :, None] + torch.arange(2)
    with torch.no_grad():
        learned.cell.table.copy_(F.one_hot(total % 10 * 2 + (total >= 10).long(), 20).float().view(10, 10, 2, 10, 2))
    student, record = relabel(learned, config, data, log=lambda line: None)
    assert torch.equal(student.cell.table, learned.cell.table) and isinstance(student.network[0], torch.nn.Sequential)
    assert len(record["history"]) == 1

    with pytest.raises(ValueError, match="relabel_epochs and lengths need a program"):
        AdditionConfig(method="neural", relabel_epochs=1)
    with pytest.raises(ValueError, match="relabel_perception must be one of"):
        AdditionConfig(relabel_perception="resnet")


def test_the_figure_draws_each_named_recipe_once_at_its_key():
    """images/mnist_addition.png draws one point per (method, perception, N): the named recipe's current runs, never an
    earlier recipe's runs kept under the same key (`learned`, `mid`, N = 2: 98.32 %, not the first recipe's 34.11 %);
    two named recipes with runs at one key stop the figure with both names."""
    from helpers.figures.mnist_addition import current_rows
    from helpers.mnist_addition.results import addition_rows
    rows = addition_rows(load_addition_results(ROOT / "results" / "mnist_addition"))
    chosen = current_rows(rows)
    keys = [(r["method"], r["perception"], r["digits"]) for r in chosen]
    assert len(keys) == len(set(keys))
    learned = next(r for r in chosen if (r["method"], r["perception"], r["digits"]) == ("learned", "mid", 2))
    assert learned["config"].startswith("add-learned-mid-n2 (cell_init 1.0, balance 1.0") and learned["sum_mean"] > 98
    twice = {**RECIPES, "add-learned-mid-n2-copy": RECIPES["add-learned-mid-n2"]}  # a second name, with runs
    copy = {**learned, "config": learned["config"].replace("add-learned-mid-n2", "add-learned-mid-n2-copy")}
    with pytest.raises(ValueError, match="add-learned-mid-n2-copy .* both have runs"):
        current_rows([*rows, copy], twice)
