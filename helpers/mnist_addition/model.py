"""MNIST addition, the field's benchmark for networks that add digits (DeepProbLog, NeurIPS 2018): two N-digit
numbers, each digit an MNIST image, go in; their sum comes out; only the sum supervises.

The data follow DeepProbLog's protocol (`data.py`). A perception maps each image to 10 digit logits; a method turns
the 2N digit distributions into the likelihood of the observed sum:

    exact    the addition program, computed exactly: a dynamic program over the carry (2 states) along the positions
    learned  the program learned too: one cell, shared by the positions, maps (digit, digit, carry in) to
             (sum digit, carry out) with learned probabilities; built in are only the decimal positions, a carry of
             two states passed from each position to the next, and the last carry as the sum's top digit
    neural   no program: a network reads the 2N images and predicts the sum's digits

The digit labels of the training images are never read in training (tests/test_addition.py scrambles them).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..core.backbones import BACKBONES
from ..core.checkpoints import read_checkpoint
from ..core.device import at_least_fp32
from .data import sum_digits

# ------------------------------------------------------------------------------------------------ perception

def lenet() -> nn.Sequential:
    """DeepProbLog's MNIST network, the perception of the published table: conv 1 -> 6 5x5, max-pool, conv 6 -> 16
    5x5, max-pool (ReLU after each), 256 -> 120 -> 84 -> 10."""
    return nn.Sequential(nn.Conv2d(1, 6, 5), nn.MaxPool2d(2), nn.ReLU(), nn.Conv2d(6, 16, 5), nn.MaxPool2d(2), nn.ReLU(),
                         nn.Flatten(), nn.Linear(256, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


def perception(name: str) -> nn.Sequential:
    """An image -> 10 digit logits: "lenet" (DeepProbLog's), or one of the project's backbones ("bn", "mid", ...) with
    a linear layer from its 320 features."""
    if name == "lenet":
        return lenet()
    return nn.Sequential(BACKBONES[name](), nn.Linear(320, 10))


PERCEPTIONS = ("lenet", *BACKBONES)


class Ensemble(nn.Module):
    """Perceptions with the same classes read as one: the log of their mean class probabilities (its argmax is the
    class the members together find most probable)."""

    def __init__(self, members):
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        log_p = torch.stack([at_least_fp32(m(images)).log_softmax(-1) for m in self.members])
        return log_p.logsumexp(0) - math.log(len(self.members))

# -------------------------------------------------------------------------------------------------- methods
# Each method maps the digit logits of a batch of pairs, (B, 2, N, 10), and the observed sums (B, N + 1) to the log
# likelihood of each sum, (B,); and predicts sums from the logits.


SUM_OF_TWO = torch.arange(10)[:, None] + torch.arange(10)  # [a, b] -> a + b
SUM_ONE_HOT = F.one_hot(SUM_OF_TWO.flatten(), 19).float()  # (100, 19): the pair (a, b) at row 10 a + b -> a + b


def needed_sums(sums: torch.Tensor) -> torch.Tensor:
    """The carry's algebra: for each position of the observed sums (B, N + 1), most significant first, the value a + b
    of its two digits that gives the sum's digit there with carry in c_in and carry out c_out, a + b = s - c_in + 10
    c_out: (B, N, c_in, c_out) (outside 0..18 where no two digits can)."""
    carry = torch.arange(2, device=sums.device)
    return sums[:, 1:, None, None] - carry[:, None] + 10 * carry


def carry_chain(steps: torch.Tensor, top: torch.Tensor | None) -> torch.Tensor:
    """log P(sum) from each position's carry transitions: `steps` (B, N, 2, 2), most significant position first,
    [c_in, c_out] = P(this position's sum digit, carry out c_out | carry in c_in); `top` (B,) the sum's top digit,
    which must be the last carry (None: the last carry is not observed, as for the lowest digits of a longer sum).
    The forward algorithm from the least significant position, with no carry into it, rescaled at every step (the
    probability of a 100-digit sum underflows any float): O(N) small products per pair."""
    alpha = torch.zeros_like(steps[:, 0, 0])
    alpha[:, 0] = 1
    log_scale = torch.zeros_like(alpha[:, 0])
    for i in reversed(range(steps.shape[1])):
        alpha = torch.bmm(alpha[:, None], steps[:, i])[:, 0]
        norm = alpha.sum(-1, keepdim=True).clamp(min=1e-30)
        alpha, log_scale = alpha / norm, log_scale + norm[:, 0].log()
    last = alpha.sum(-1) if top is None else alpha.gather(1, top[:, None].long())[:, 0]
    return log_scale + last.clamp(min=1e-30).log()


def lowest_digits(steps: torch.Tensor, sums: torch.Tensor, lowest: int | None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The carry transitions and top digit for the likelihood of the sum's `lowest` digits only (None or more than
    the sum has: all of them): the positions below, with the carry out of the highest of them unobserved."""
    if lowest is None or lowest > steps.shape[1]:
        return steps, sums[:, 0]
    return steps[:, steps.shape[1] - lowest:], None


def adjacent_digits(steps: torch.Tensor) -> torch.Tensor:
    """Half the sum, over every two adjacent positions of the sum, of log P(their two sum digits), with the carry into
    the lower one unknown (1/2 each) and the carry out of the upper one unobserved: a stand-in for log P(sum) (about
    as large) in which each position's digits are scored against their neighbour alone. The upper digit depends on
    the lower position's carry out, so no relabelling of the digits fits it; (a + b) mod 10 alone fits d + 5 as well
    as d. Needs N >= 2."""
    lower = steps.new_tensor([0.5, 0.5]) @ steps[:, 1:]  # (B, N - 1, 2): P(lower digit, carry out)
    both = (lower[..., None, :] @ steps[:, :-1])[..., 0, :].sum(-1)  # (B, N - 1)
    return both.clamp(min=1e-30).log().sum(1) / 2


def sum_log_likelihood(steps: torch.Tensor, sums: torch.Tensor, part: int | str | None = None) -> torch.Tensor:
    """The log likelihood training scores, from the carry transitions: of the whole sum (`part` None), of its `part`
    lowest digits (an int), or "adjacent" (`adjacent_digits`; the whole sum where N = 1)."""
    if part == "adjacent":
        return adjacent_digits(steps) if steps.shape[1] > 1 else carry_chain(steps, sums[:, 0])
    return carry_chain(*lowest_digits(steps, sums, part))


def exact_steps(probabilities: torch.Tensor, sums: torch.Tensor) -> torch.Tensor:
    """The addition program's carry transitions (B, N, 2, 2): at each position the distribution of a + b (0..18,
    from the two digits' distributions) read where a + b + c_in gives the observed sum digit with carry out c_out,
    that is a + b = s - c_in + 10 c_out."""
    pair = (probabilities[:, 0, :, :, None] * probabilities[:, 1, :, None, :]).flatten(-2) @ SUM_ONE_HOT.to(probabilities)
    needed = needed_sums(sums)  # (B, N, c_in, c_out)
    valid = (needed >= 0) & (needed <= 18)
    return pair.gather(2, needed.clamp(0, 18).flatten(2)).view_as(needed) * valid


def digit_probabilities(logits: torch.Tensor) -> torch.Tensor:
    """Softmax over the 10 digits, in fp32 at least (bf16 logits from autocast are widened; fp64 stays fp64)."""
    return at_least_fp32(logits).softmax(-1)


def exact_log_likelihood(logits: torch.Tensor, sums: torch.Tensor, part: int | str | None = None) -> torch.Tensor:
    """log P(observed sum) under the addition program, exactly (`exact_steps`, `carry_chain`); of its `part` only, if
    given (`sum_log_likelihood`)."""
    return sum_log_likelihood(exact_steps(digit_probabilities(logits), sums), sums, part)


class LearnedCell(nn.Module):
    """The program learned: one table of logits, shared by the positions, for P(sum digit, carry out | digit a,
    digit b, carry in): 10 x 10 x 2 inputs, 10 x 2 outputs. Started uniform (`init` 0) or with logits drawn from a
    normal of std `init`; nothing in it adds."""

    def __init__(self, init: float = 0.0):
        super().__init__()
        self.table = nn.Parameter(torch.randn(10, 10, 2, 10, 2) * init)  # [a, b, c_in, s, c_out]

    def probabilities(self) -> torch.Tensor:
        return self.table.flatten(3).softmax(-1).view_as(self.table)

    @torch.no_grad()
    def best(self) -> torch.Tensor:
        """The table's most probable answer for each input, as a code: [a, b, c_in] -> s * 2 + c_out (10, 10, 2)."""
        return self.probabilities().flatten(3).argmax(-1)

    def steps(self, probabilities: torch.Tensor, sums: torch.Tensor) -> torch.Tensor:
        """Carry transitions (B, N, 2, 2) as `exact_steps` gives them, through the learned table."""
        pair = (probabilities[:, 0, :, :, None] * probabilities[:, 1, :, None, :]).flatten(-2)  # (B, N, 100)
        table = self.probabilities().view(100, 2, 10, 2).to(pair.dtype)  # [ab, c_in, s, c_out]
        steps = (pair @ table.flatten(1)).view(*pair.shape[:2], 2, 10, 2)  # (B, N, c_in, s, c_out)
        index = sums[:, 1:, None, None, None].expand(-1, -1, 2, 1, 2)
        return steps.gather(3, index)[:, :, :, 0]

    def log_likelihood(self, logits: torch.Tensor, sums: torch.Tensor, part: int | str | None = None) -> torch.Tensor:
        return sum_log_likelihood(self.steps(digit_probabilities(logits), sums), sums, part)

    @torch.no_grad()
    def add(self, digits: torch.Tensor) -> torch.Tensor:
        """The learned program's answer for digits (B, 2, N): the most probable (sum digit, carry out) at each position
        from the least significant, the last carry as the top digit, on the digits' device."""
        best = self.best().to(digits.device)  # [a, b, c_in] -> s * 2 + c_out
        carry, out = torch.zeros_like(digits[:, 0, 0]), []
        for i in reversed(range(digits.shape[-1])):
            code = best[digits[:, 0, i], digits[:, 1, i], carry]
            out.append(code // 2)
            carry = code % 2
        return torch.stack([carry, *reversed(out)], -1)


class NeuralAdder(nn.Module):
    """The baseline without a program: each image's perception features (shared network) squeezed to 32 numbers,
    all 2N concatenated in order, then an MLP to the N + 1 sum digits as 10-way logits each."""

    def __init__(self, digits: int, features: nn.Module, width: int):
        super().__init__()
        self.features, self.digits = features, digits
        self.squeeze = nn.Linear(width, 32)
        self.mlp = nn.Sequential(nn.Linear(2 * digits * 32, 256), nn.ReLU(), nn.Linear(256, (digits + 1) * 10))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(B * 2N, 1, 28, 28), pair by pair -> (B, N + 1, 10) sum-digit logits."""
        codes = self.squeeze(self.features(images)).view(-1, 2 * self.digits * 32)
        return self.mlp(codes).view(-1, self.digits + 1, 10)


METHODS = ("exact", "learned", "neural")


class AdditionModel(nn.Module):
    """A perception and a method: `loss(images, sums)` for training (images: (B, 2, N, 1, 28, 28)), and
    `predict(images)` -> (digit logits or None, predicted sums (B, N + 1))."""

    def __init__(self, digits: int, method: str, perception_name: str, channels_last: bool = True, cell_init: float = 0.0):
        super().__init__()
        if method not in METHODS or perception_name not in PERCEPTIONS:
            raise ValueError(f"method must be one of {METHODS} and perception one of {PERCEPTIONS}, "
                             f"got {method!r} and {perception_name!r}")
        self.digits, self.method = digits, method
        network = perception(perception_name)
        if method == "neural":  # the perception's features, without its digit layer
            width = network[-1].in_features
            network = NeuralAdder(digits, network[:-1], width)
        self.network = network
        self.cell = LearnedCell(cell_init) if method == "learned" else None
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.network.to(memory_format=self.memory_format)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Digit logits (B, 2, N, 10), or for "neural" the sum-digit logits (B, N + 1, 10)."""
        batch = images.shape[0]
        out = self.network(images.flatten(0, 2).contiguous(memory_format=self.memory_format))
        return out if self.method == "neural" else out.view(batch, 2, self.digits, 10)

    @torch.no_grad()
    def digit_logits(self, images: torch.Tensor, batch: int = 2048) -> torch.Tensor:
        """The perception's 10 logits for each image (M, 1, 28, 28) -> (M, 10), in eval mode (a class then does not
        depend on the batch), in chunks of `batch` images."""
        self.eval()
        return torch.cat([self.network(images[i:i + batch].contiguous(memory_format=self.memory_format))
                          for i in range(0, len(images), batch)])

    def log_likelihood(self, out: torch.Tensor, sums: torch.Tensor, part: int | str | None = None) -> torch.Tensor:
        """log P(observed sum) per pair from the network's outputs `self(images)` (for "neural", each sum digit's own,
        added); of its `part` only, if given: its lowest digits (an int) or "adjacent" (`sum_log_likelihood`;
        "neural" scores each digit on its own, so "adjacent" is all of them)."""
        if self.method == "neural":
            out, sums = (out, sums) if not isinstance(part, int) else (out[:, -part:], sums[:, -part:])
            return -F.cross_entropy(out.float().flatten(0, 1), sums.flatten(), reduction="none").view_as(sums).sum(1)
        return (exact_log_likelihood if self.method == "exact" else self.cell.log_likelihood)(out, sums, part)

    def loss(self, images: torch.Tensor, sums: torch.Tensor, balance: float = 0.0, part: int | str | None = None):
        """Training's loss: -log P(observed sum), mean over the pairs (of its `part` only, if given); with
        `balance` > 0 (a method with a digit perception), plus that weight times the divergence KL(mean || uniform) of
        the step's mean digit distribution: a prior that the 10 digits are about equally frequent, which keeps a
        learned cell's perception from merging two digits into one class. Neither adds."""
        out = self(images)
        loss = -self.log_likelihood(out, sums, part).float().mean()
        if balance and self.method != "neural":
            mean = digit_probabilities(out).flatten(0, 2).mean(0)
            loss = loss + balance * (mean * (10 * mean).clamp(min=1e-12).log()).sum()
        return loss

    @torch.no_grad()
    def predict(self, images: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor]:
        out = self(images)
        if self.method == "neural":
            return None, out.argmax(-1)
        return out, self.add(out.argmax(-1))

    @torch.no_grad()
    def add(self, digits: torch.Tensor) -> torch.Tensor:
        """The method's program on digit classes (B, 2, N) -> the sums (B, N + 1), at any N: exact addition, or the
        learned table (`LearnedCell.add`). The neural baseline has no program to apply."""
        if self.method == "neural":
            raise ValueError("the neural baseline has no program: it maps 2N images to N + 1 digits at its own N")
        return sum_digits(digits) if self.method == "exact" else self.cell.add(digits)


# ------------------------------------------------------------------------------------------ checkpoints

CHECKPOINT_FORMAT = "neural-network-on-steroids/mnist-addition/1"


def load_addition_model(path) -> tuple[AdditionModel, dict]:
    """A trained MNIST-addition model from its model.pt (read safely), in eval mode on the CPU, and its settings. Its
    perception is the one model.pt names (files from before it named one: the settings' `perception`, or after
    relabelled epochs `relabel_perception`), `members` of them read as one where it has several."""
    state = read_checkpoint(path, CHECKPOINT_FORMAT)
    params = state["params"]
    perception_name = state.get("perception")
    if perception_name is None:  # a model.pt from before it named its perception
        perception_name = params["relabel_perception"] if params.get("relabel_epochs") else params["perception"]
    model = AdditionModel(params["digits"], params["method"], perception_name, cell_init=params["cell_init"])
    if state.get("members", 1) > 1:
        model.network = Ensemble([perception(perception_name) for _ in range(state["members"])])
        model.network.to(memory_format=model.memory_format)
    model.load_state_dict(state["model"])
    return model.eval(), params


__all__ = ["lenet", "perception", "PERCEPTIONS", "Ensemble",
           "SUM_OF_TWO", "SUM_ONE_HOT", "needed_sums", "carry_chain", "lowest_digits", "adjacent_digits", "sum_log_likelihood", "exact_steps",
           "digit_probabilities", "exact_log_likelihood", "LearnedCell",
           "NeuralAdder", "METHODS", "AdditionModel", "CHECKPOINT_FORMAT", "load_addition_model"]
