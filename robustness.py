"""Digits from outside MNIST: joint accuracy of a model under shifts it was never trained on, and on printed digits.

    python robustness.py                                  # the shipped model, models/default.pt
    python robustness.py --model runs/latest/model.pt --name latest
    python robustness.py --compare default robust         # per shift, each over its seeds: summary.md, figure

Every MNIST test image, paired with the fixed test numbers, is shifted by each of the SHIFTS below at
3 severities (built on the fly, deterministic for a seed), and the digits 0-9 are rendered from every
TrueType font on the machine and read through `image_file_to_mnist`, as `predict.py` reads a
user's file (each paired with every number). Per shift: joint accuracy, and how well the confidence that
`predict` reports flags the wrong answers (accuracy of the most and least confident tenth).
Results go to results/robustness/<name>/robustness.json (--out for another folder), the figure to
images/robustness.png (--image-dir).
"""
import argparse
import json
import tempfile
from pathlib import Path

import torch
from matplotlib import font_manager
from PIL import Image, ImageDraw, ImageFont

from helpers.core.mnist import load_mnist
from helpers.core.paths import IMAGES, MODELS, RESULTS, ROOT, relative_to_root
from helpers.core.provenance import versions
from helpers.core.shifts import SHIFTS, shift
from helpers.digit_and_sum.model import load_checkpoint
from helpers.digit_and_sum.evaluation import eval_numbers
from helpers.digit_and_sum.inference import image_file_to_mnist, predict
from helpers.studies.robustness import load_robustness, robustness_table

OUT = RESULTS / "robustness"

# ------------------------------------------------------------------------------------------------- fonts

def font_files() -> list[Path]:
    """Every TrueType (and OpenType) font on the machine, as matplotlib's font manager finds them."""
    return sorted({Path(f) for f in font_manager.findSystemFonts(fontext="ttf")})


def font_digits(folder: Path) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """Digits 0-9 drawn in each font as a dark-on-light PNG file, then read by `image_file_to_mnist`."""
    images, digits, fonts = [], [], []
    for path in font_files():
        try:
            font = ImageFont.truetype(str(path), 64)
        except OSError:  # a font file FreeType cannot read
            continue
        for digit in range(10):
            canvas = Image.new("L", (96, 96), 255)
            ImageDraw.Draw(canvas).text((48, 48), str(digit), fill=0, font=font, anchor="mm")
            file = folder / f"{path.stem}-{digit}.png"
            canvas.save(file)
            try:
                images.append(torch.from_numpy(image_file_to_mnist(file)))
            except ValueError:  # a font without this glyph draws nothing
                continue
            digits.append(digit)
            fonts.append(path.name)
    return torch.stack(images), torch.tensor(digits), fonts


# --------------------------------------------------------------------------------------------- evaluation

def joint_and_confidence(model, images: torch.Tensor, digits: torch.Tensor, numbers: torch.Tensor) -> dict:
    """Joint accuracy, and the accuracy of the most and least confident tenth of the answers."""
    pred_digits, pred_sums, confidence = predict(model, images, numbers, confidence=True)
    right = (pred_digits == digits) & (pred_sums == digits + numbers)
    order = confidence.argsort(descending=True)
    tenth = max(1, len(order) // 10)
    return {"joint_acc": right.float().mean().item(), "pairs": len(right),
            "most_confident_tenth_acc": right[order[:tenth]].float().mean().item(),
            "least_confident_tenth_acc": right[order[-tenth:]].float().mean().item(),
            "mean_confidence": confidence.mean().item()}


def benchmark(model, seed: int = 0, log=print) -> dict:
    """Every shift x severity on the MNIST test set, clean MNIST, and the font digits."""
    images, digits = load_mnist()["test"]
    numbers = eval_numbers(len(images))
    results = {"clean": joint_and_confidence(model, images, digits, numbers), "shifts": {}}
    for name in SHIFTS:
        results["shifts"][name] = [joint_and_confidence(model, shift(images, name, severity, seed), digits, numbers)
                                   for severity in (1, 2, 3)]
        log(f"{name:18s} " + "  ".join(f"{r['joint_acc']:.2%}" for r in results["shifts"][name]))
    with tempfile.TemporaryDirectory() as tmp:
        font_images, font_labels, fonts = font_digits(Path(tmp))
    every_number = torch.arange(10).repeat_interleave(len(font_images))
    results["fonts"] = {**joint_and_confidence(model, font_images.repeat(10, 1, 1), font_labels.repeat(10), every_number),
                        "fonts": sorted(set(fonts)), "digits": len(font_images)}
    log(f"{'fonts':18s} {results['fonts']['joint_acc']:.2%} ({len(set(fonts))} fonts)")
    all_shifted = [r["joint_acc"] for rs in results["shifts"].values() for r in rs]
    results["mean_shifted_joint_acc"] = sum(all_shifted) / len(all_shifted)
    results["min_middle_severity"] = min((rs[1]["joint_acc"], name) for name, rs in results["shifts"].items())
    return results


def compare(names: list[str], out: Path = OUT, image_dir: Path | None = IMAGES) -> str:
    """Write `out`/summary.md and the comparison figure (into `image_dir`, if given) for models `names`, each over its
    seeds, from their results in `out`."""
    groups = {name: load_robustness(name, out) for name in names}
    table = robustness_table(groups)
    (out / "summary.md").write_text(
        "# Robustness: joint accuracy (%) under each shift, mean ± std over seeds\n\n"
        f"Written by `python robustness.py --compare {' '.join(names)}` from results/robustness/*/robustness.json.\n\n"
        + table)
    if image_dir:
        from helpers.figures import studies as study_figures
        study_figures.plot_robustness_comparison(groups, image_dir)
    return table


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=MODELS / "default.pt", type=Path,
                        help="the checkpoint (default: models/default.pt in the repository)")
    parser.add_argument("--name", default="default", help="results go to <out>/<name>/")
    parser.add_argument("--out", type=Path, default=OUT, help="default: results/robustness in the repository")
    parser.add_argument("--seed", type=int, default=0, help="seed of the shifts' random draws")
    parser.add_argument("--image-dir", default=IMAGES, type=lambda text: Path(text) if text else None,
                        help="where robustness.png goes ('' for none; default: images/ in the repository)")
    parser.add_argument("--compare", nargs="+", metavar="NAME",
                        help="no benchmark: compare the results of these names (each over its -seed<k> runs)")
    args = parser.parse_args(argv)
    if args.compare:
        print(compare(args.compare, args.out, args.image_dir))
        return 0
    model = load_checkpoint(args.model)
    path = args.model.resolve()  # recorded relative to the repository, or by its name alone: no machine's folders
    shown = relative_to_root(path) if path.is_relative_to(ROOT) else path.name
    results = {"model": shown, "seed": args.seed, "versions": versions(), **benchmark(model, args.seed)}
    out = args.out / args.name
    out.mkdir(parents=True, exist_ok=True)
    (out / "robustness.json").write_text(json.dumps(results, indent=1))
    print(f"clean {results['clean']['joint_acc']:.2%}; mean over shifts and severities "
          f"{results['mean_shifted_joint_acc']:.2%}; worst at middle severity {results['min_middle_severity'][1]} "
          f"{results['min_middle_severity'][0]:.2%}; wrote {out / 'robustness.json'}")
    if args.image_dir:
        from helpers.figures import studies as study_figures
        study_figures.plot_robustness(results, args.image_dir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
