"""A rejected idea for `adds`' speed, kept so its numbers can be re-measured (docs/speed.md, the `adds` goal).

The symadder head's carry chain as one hand-written autograd function: the forward without autograd, the backward
by hand with every weight's gradient as one product over the bit positions (about half the eager operators). It
computes the same function (checked here against the head's own forward and backward), and it was slower.

    python probes/carry_chain.py        # check it against the head, then time mlp, symadder and this, alternating
"""
import time

import torch
import torch.nn.functional as F

from helpers.digit_and_sum.encoding import NUMBER_BITS
from helpers.digit_and_sum.heads import HEADS, AdderHead


class CarryChain(torch.autograd.Function):
    """pre (P, B, K*H): the cell's first layer on (digit bit, number bit) per position, least significant first;
    w_c (K*H): its carry weights; w2, b2: the middle layer; last (2, K*H), b_last: the last layer, the mean over
    the K orderings folded in (`AdderHead.ordered`). Returns (P, B, 2): (sum bit, carry out) logits per position."""

    @staticmethod
    def forward(ctx, pre, w_c, w2, b2, last, b_last):
        (positions, batch, width), hidden = pre.shape, w2.shape[0]
        carry, h1s, h2s, outs = None, [], [], []
        for t in range(positions):
            h1 = pre[t].relu() if carry is None else torch.addcmul(pre[t], carry, w_c).relu_()
            h2 = torch.addmm(b2, h1.view(-1, hidden), w2.t()).relu_().view(batch, width)
            out = torch.addmm(b_last, h2, last.t())
            carry = out[:, 1:].sigmoid()
            h1s.append(h1), h2s.append(h2), outs.append(out)
        outs = torch.stack(outs)
        ctx.save_for_backward(torch.stack(h1s), torch.stack(h2s), outs, w_c, w2, last)
        return outs

    @staticmethod
    def backward(ctx, grad):
        h1s, h2s, outs, w_c, w2, last = ctx.saved_tensors
        hidden, width = w2.shape[0], h1s.shape[-1]
        carries, grad = outs[:, :, 1:].sigmoid(), grad.clone()
        g1s, g2s = [None] * len(h1s), [None] * len(h1s)
        for t in reversed(range(len(h1s))):
            g2s[t] = (grad[t] @ last).mul_(h2s[t] > 0)
            g1s[t] = (g2s[t].view(-1, hidden) @ w2).view(-1, width).mul_(h1s[t] > 0)
            if t:  # into the carry that came in, through its sigmoid
                grad[t - 1, :, 1:] += (g1s[t] @ w_c).unsqueeze(1) * carries[t - 1] * (1 - carries[t - 1])
        g1, g2 = torch.stack(g1s), torch.stack(g2s)
        return (g1, (g1[1:] * carries[:-1]).sum((0, 1)), g2.view(-1, hidden).t() @ h1s.view(-1, hidden),
                g2.view(-1, hidden).sum(0), grad.view(-1, 2).t() @ h2s.view(-1, width), grad.view(-1, 2).sum(0))


def chain_forward(head: AdderHead, features: torch.Tensor, number: torch.Tensor) -> torch.Tensor:
    """`head`'s forward (shared cell) with its carry chain in `CarryChain`."""
    digit_logits = head.digit(features)
    inputs = torch.stack([(digit_logits.detach() if head.detach else digit_logits).sigmoid(), number], -1)
    first, bias, last = head.ordered(head.cell)
    pre = F.linear(inputs, first[:, :2], bias).flip(1).transpose(0, 1).contiguous()  # least significant first
    outs = CarryChain.apply(pre, first[:, 2], head.cell[2].weight, head.cell[2].bias, last, head.cell[4].bias)
    return torch.cat([digit_logits, outs[-1, :, 1:], outs.flip(0)[:, :, 0].t()], dim=1)


def head_and_grads(run, head, features, number, weights):
    head.zero_grad()
    out = run(features, number)
    (out * weights).sum().backward()
    return out.detach(), {name: p.grad.clone() for name, p in head.named_parameters()}


def main(batch: int = 128, steps: int = 300, rounds: int = 3):
    torch.manual_seed(0)
    bits = NUMBER_BITS
    mlp, head = HEADS["mlp"](bits, 2 * bits + 1), HEADS["symadder"](bits, 2 * bits + 1)
    features, number = torch.randn(batch, 320), torch.randint(0, 2, (batch, bits)).float()
    weights = torch.randn(batch, 2 * bits + 1)
    out, grads = head_and_grads(head, head, features, number, weights)
    chain_out, chain_grads = head_and_grads(lambda f, n: chain_forward(head, f, n), head, features, number, weights)
    worst = max((chain_grads[name] - grads[name]).abs().max().item() for name in grads)
    print(f"outputs equal: {torch.equal(out, chain_out)}; largest gradient difference {worst:.1e}")
    runs = {"mlp": mlp, "symadder": head, "symadder, carry chain by hand": lambda f, n: chain_forward(head, f, n)}
    for r in range(rounds):
        times = {}
        for name, run in runs.items():
            run(features, number).sum().backward()
            start = time.perf_counter()
            for _ in range(steps):
                run(features, number).sum().backward()
            times[name] = (time.perf_counter() - start) / steps * 1e3
        print(f"round {r + 1} ({torch.get_num_threads()} threads), ms per forward and backward: "
              + ", ".join(f"{name} {ms:.2f}" for name, ms in times.items()))


if __name__ == "__main__":
    main()
