"""Where the training time goes: torch.profiler on the reference's and the project's training steps.

    python profile_step.py            # prints the top operators and a seconds-per-epoch comparison

Profiles 40 training batches of each pipeline, in one run on the same machine:
  reference        DataLoader + per-sample ToTensor/Normalize, classic CNN, Adam (the original's pipeline)
  bn, NCHW         the project's tensor pipeline and default backbone, default memory layout
  bn, channels-last  the same in channels-last layout (the project's default)
"""
import itertools
import time

import torch
import torch.nn.functional as F
import torchvision
from torch.profiler import ProfilerActivity, profile
from torchvision import transforms

import helpers

BATCHES = 40


def reference_steps():
    dataset = torchvision.datasets.MNIST(helpers.data_root(), train=True, transform=transforms.Compose(
        [transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))]))
    loader = torch.utils.data.DataLoader(dataset, batch_size=128, shuffle=True)
    model = helpers.Net("classic")
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    sampler = helpers.RandomSampler(128)

    def run(n):
        for images, digits in itertools.islice(loader, n):
            bits = sampler.getRandomBatch()
            loss = F.binary_cross_entropy_with_logits(model(images, bits), helpers.encode_targets(digits, helpers.bits_to_int(bits)))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return run


def project_steps(data, channels_last):
    params = {**helpers.notebook_defaults(), "epochs": 1, "log_interval": 10**9}
    model, optimizer, scheduler = helpers.make_training(params, len(data.train_x))
    if not channels_last:
        model = helpers.Net(params["backbone"], channels_last=False)
        optimizer = torch.optim.AdamW(model.parameters(), lr=params["lr"], weight_decay=params["weight_decay"])
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)

    def run(n):
        subset = helpers.MNISTData(data.train_x[:n * 128], data.train_y[:n * 128], data.eval_x, data.eval_y,
                                   data.eval_images, data.mean, data.std, data.eval_name)
        helpers.train_epoch(model, subset, optimizer, scheduler, 1, params, log=lambda line: None)
    return run


def main():
    data = helpers.prepare_data()
    pipelines = {"reference": reference_steps(), "bn, NCHW": project_steps(data, False),
                 "bn, channels-last": project_steps(data, True)}
    per_epoch = {}
    for name, run in pipelines.items():
        run(5)  # warm up
        start = time.perf_counter()
        run(BATCHES)
        per_epoch[name] = (time.perf_counter() - start) / (BATCHES * 128) * 60_000
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            run(BATCHES)
        print(f"\n=== {name}: {per_epoch[name]:.1f} s per 60,000 images ===")
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12, max_name_column_width=40))
    print("\n| pipeline | s per epoch (60,000 images) | vs reference |\n|---|---|---|")
    for name, seconds in per_epoch.items():
        print(f"| {name} | {seconds:.1f} | {seconds / per_epoch['reference']:.2f} |")


if __name__ == "__main__":
    main()
