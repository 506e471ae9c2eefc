"""Where the training time goes: torch.profiler on the reference's and the project's training steps.

    python profile_step.py            # prints the top operators and a seconds-per-epoch comparison

Profiles 100 training batches of each pipeline, in one run on the same machine (the CPU):
  reference          DataLoader + per-sample ToTensor/Normalize, classic CNN, Adam (the original's pipeline)
  bn, NCHW           the project's tensor pipeline and default backbone, default memory layout
  bn, channels-last  the same in channels-last layout (the project's default), then in bf16 autocast
  classic            the original's CNN on the project's pipeline, in fp32 and in bf16 autocast
  mid, wide          the three-conv backbones (strong's, and the wider one), in fp32 and in bf16 autocast
"""
import dataclasses
import time

from torch.profiler import ProfilerActivity, profile

import helpers

BATCHES = 100


def project_steps(data, channels_last: bool = True, backbone: str = "bn", precision: str = "fp32"):
    """`train(batches)` on the project's pipeline with the notebook's defaults, on the CPU."""
    config = helpers.Config(epochs=1, log_interval=10**9, device="cpu", backbone=backbone, precision=precision).resolved()
    model, optimizer, scheduler = helpers.make_training(config, len(data.train_x), channels_last=channels_last)

    def train(batches):
        subset = dataclasses.replace(data, train_x=data.train_x[:batches * 128], train_y=data.train_y[:batches * 128])
        helpers.train_epoch(model, subset, optimizer, scheduler, 1, config, log=lambda line: None)
    return train


def main():
    data = helpers.prepare_data()
    pipelines = {"reference": helpers.reference_pipeline()[1], "bn, NCHW": project_steps(data, False),
                 "bn, channels-last": project_steps(data), "bn, channels-last, bf16": project_steps(data, precision="bf16")}
    for backbone in ("classic", "mid", "wide"):
        pipelines[backbone] = project_steps(data, backbone=backbone)
        pipelines[f"{backbone}, bf16"] = project_steps(data, backbone=backbone, precision="bf16")
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
