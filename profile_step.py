"""Where the training time goes: torch.profiler on the reference's and the project's training steps.

    python profile_step.py                   # prints the top operators and a seconds-per-epoch comparison
    python profile_step.py --device cuda     # the same on a GPU (the profiler then records its kernels too)

Profiles 100 training batches of each pipeline, in one run on the same machine:
  reference          DataLoader + per-sample ToTensor/Normalize, classic CNN, Adam (the original's pipeline)
  bn, NCHW           the project's tensor pipeline and default backbone, default memory layout
  bn, channels-last  the same in channels-last layout (the project's default), then in bf16 autocast
  classic            the original's CNN on the project's pipeline, in fp32 and in bf16 autocast
  mid, wide          the three-conv backbones (strong's, and the wider one), in fp32 and in bf16 autocast
"""
import argparse
import dataclasses
import time

from torch.profiler import ProfilerActivity, profile

import helpers

BATCHES = 100


def project_steps(data, device, channels_last: bool = True, backbone: str = "bn", precision: str = "fp32"):
    """`train(batches)` on the project's pipeline with the notebook's defaults, on `device` (the data already there)."""
    config = helpers.Config(epochs=1, log_interval=10**9, device=str(device), backbone=backbone,
                            precision=precision).resolved()
    model, optimizer, scheduler = helpers.make_training(config, len(data.train_x), channels_last, device)

    def train(batches):
        subset = dataclasses.replace(data, train_x=data.train_x[:batches * 128], train_y=data.train_y[:batches * 128])
        helpers.train_epoch(model, subset, optimizer, scheduler, 1, config, log=lambda line: None)
        helpers.synchronize(device)
    return train


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu", help="'cpu' (default), 'auto', 'cuda', 'cuda:1', ...")
    args = parser.parse_args()
    device = helpers.resolve_device(args.device)
    data = helpers.prepare_data().to(device)
    reference = helpers.reference_pipeline(device=device)[1]
    pipelines = {"reference": lambda batches: (reference(batches), helpers.synchronize(device)),
                 "bn, NCHW": project_steps(data, device, False), "bn, channels-last": project_steps(data, device),
                 "bn, channels-last, bf16": project_steps(data, device, precision="bf16")}
    for backbone in ("classic", "mid", "wide"):
        pipelines[backbone] = project_steps(data, device, backbone=backbone)
        pipelines[f"{backbone}, bf16"] = project_steps(data, device, backbone=backbone, precision="bf16")
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    per_epoch = {}
    for name, run in pipelines.items():
        run(5)  # warm up
        start = time.perf_counter()
        run(BATCHES)
        per_epoch[name] = (time.perf_counter() - start) / (BATCHES * 128) * 60_000
        with profile(activities=activities) as prof:
            run(BATCHES)
        print(f"\n=== {name}: {per_epoch[name]:.1f} s per 60,000 images ===")
        sort = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
        print(prof.key_averages().table(sort_by=sort, row_limit=12, max_name_column_width=40))
    print("\n| pipeline | s per epoch (60,000 images) | vs reference |\n|---|---|---|")
    for name, seconds in per_epoch.items():
        print(f"| {name} | {seconds:.1f} | {seconds / per_epoch['reference']:.2f} |")


if __name__ == "__main__":
    main()
