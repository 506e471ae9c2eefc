"""How far two correct training runs drift apart, step by step: the spread behind the tolerances of
tests/test_histories.py (tests/README.md). Records that file's runs three ways, each in a process of its own, and prints
the largest difference from the first, per step and per number, in fp64 and in fp32:

    base    this machine as it is
    1 thread  torch.set_num_threads(1): other work splits, other summation orders
    AVX2    torch, oneDNN and MKL held to AVX2 kernels (ATEN_CPU_CAPABILITY and friends), as on an AVX2-only AMD EPYC

python tools/measure_spread.py (a few minutes on 2 cores; nothing else should train meanwhile).
python tools/measure_spread.py --fixture: across CPUs, this machine as it is against the committed fixture
(tests/fixtures/histories.json, recorded on the machine it names): about 5 minutes."""
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

VARIANTS = {"base": ({}, []), "1 thread": ({}, ["1"]),
            "AVX2": ({"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2"}, [])}


def record_in_a_process(out: Path, threads: list, env: dict) -> dict:
    script = ("import sys, json, tempfile, torch; from pathlib import Path\n"
              "if len(sys.argv) > 2: torch.set_num_threads(int(sys.argv[2]))\n"
              "import test_histories as t; from helpers.core.mnist import prepare_data\n"
              "with tempfile.TemporaryDirectory() as tmp:\n"
              "    r = t.record(prepare_data(train_size=t.TRAIN_SIZE, eval_size=t.EVAL_SIZE, download=False), Path(tmp))\n"
              "Path(sys.argv[1]).write_text(json.dumps(r))\n")
    root = Path(__file__).resolve().parents[1]
    subprocess.run([sys.executable, "-c", script, str(out), *threads], check=True, cwd=root,
                   env={**os.environ, **env, "PYTHONPATH": f"{root / 'tests'}{os.pathsep}{root}"})
    return json.loads(out.read_text())


def spread(a: dict, b: dict) -> dict:
    """The largest difference of b from a over the configurations: relative for each step's loss and each epoch's
    losses, in pairs for the accuracies (of the test pairs; of the exhaustive evaluation's, ten times as many)."""
    worst = {"steps": [0.0] * len(next(iter(a.values()))["steps"]), "losses": 0.0, "test pairs": 0, "exhaustive pairs": 0}
    for name in a:
        x, y = a[name], b[name]
        worst["steps"] = [max(w, abs(p - q) / abs(p)) for w, p, q in zip(worst["steps"], x["steps"], y["steps"])]
        for h, k in zip(x["history"], y["history"]):
            worst["losses"] = max(worst["losses"], *(abs(h[key] - k[key]) / h[key] for key in h if key.endswith("_loss")))
            worst["test pairs"] = max(worst["test pairs"], *(round(abs(h[key] - k[key]) * x["exhaustive"]["pairs"] / 10)
                                                             for key in h if key.endswith("_acc")))
        worst["exhaustive pairs"] = max(worst["exhaustive pairs"], *(
            round(abs(x["exhaustive"][key] - y["exhaustive"][key]) * x["exhaustive"]["pairs"])
            for key in x["exhaustive"] if key.endswith("_acc")))
    return worst


if __name__ == "__main__":
    against_fixture = sys.argv[1:] == ["--fixture"]
    variants = {"base": VARIANTS["base"]} if against_fixture else VARIANTS
    with tempfile.TemporaryDirectory() as tmp:
        runs = {name: record_in_a_process(Path(tmp) / f"{i}.json", threads, env)
                for i, (name, (env, threads)) in enumerate(variants.items())}
    if against_fixture:  # the recording's machine is the base, this one the variant
        runs = {"base": json.loads((Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "histories.json").read_text()),
                "this machine": runs["base"]}
    print("machines:", json.dumps({name: run["machine"] for name, run in runs.items()}))
    print("| precision | against base | step 1 | step 2 | step 3 | step 5 | step 10 | epoch losses | test pairs | exhaustive pairs |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for precision in ("fp64", "fp32"):
        for name in list(runs)[1:]:
            s = spread(runs["base"][precision], runs[name][precision])
            steps = " | ".join(f"{s['steps'][i - 1]:.1e}" for i in (1, 2, 3, 5, 10))
            print(f"| {precision} | {name} | {steps} | {s['losses']:.1e} | {s['test pairs']} | {s['exhaustive pairs']} |")
