"""Settings: the base of each task's typed, checked settings. Every field is a `setting` with its default and a
one-line description, from which the notebooks' parameters cells and the docs' tables are written (tests hold them
equal). The settings both tasks have are declared here, once, each with one description; a task's class adds its own,
gives a shared one its own default with `shared`, adds its checks and says which precision "auto" means for it."""
from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

from .device import choose_precision, resolve_device
from .paths import RUNS

_NEW = object()


def setting(default, doc: str, *, computes: bool = True, before=_NEW, read_with: str | None = None):
    """A field of a task's settings: its default; `doc`, its description in one line (the notebook's parameters cell
    and the docs' table repeat it); `computes`: whether it changes what a run computes (a resumed run must match it);
    `before`: for a field newer than some committed runs and checkpoints, the value those ran with; `read_with`: the
    setting without which a run never reads this one (when to restart: `restarts`)."""
    metadata = ({"doc": doc, "computes": computes} | ({} if before is _NEW else {"before": before})
                | ({"read_with": read_with} if read_with else {}))
    return field(default=default, metadata=metadata)


def check_fields(settings, *, positive=(), non_negative=(), ranges=None, flags=(), paths=(), optional_positive=()) -> None:
    """The checks every class of settings shares, each failing with one message that names the setting: ints that
    must be positive or non-negative (or None, `optional_positive`), numbers in [0, below) (`ranges`: name -> (below,
    what to say)), True/False `flags`, and `paths` (or None)."""
    for key in (*positive, *non_negative):
        value, low = getattr(settings, key), 0 if key in non_negative else 1
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{key} must be a {'non-negative' if low == 0 else 'positive'} int, got {value!r}")
    for key in optional_positive:
        value = getattr(settings, key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ValueError(f"{key} must be None or a positive int, got {value!r}")
    for key, (below, wanted) in (ranges or {}).items():
        value = getattr(settings, key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < below:
            raise ValueError(f"{key} must be {wanted}, got {value!r}")
    for key in flags:
        if not isinstance(getattr(settings, key), bool):
            raise ValueError(f"{key} must be True or False, got {getattr(settings, key)!r}")
    for key in paths:
        value = getattr(settings, key)
        if not (value is None or isinstance(value, (str, os.PathLike))):
            raise ValueError(f"{key} must be a path or None, got {value!r}")


NON_NEGATIVE = (math.inf, "a non-negative number")


@dataclass(frozen=True)
class Settings:
    """What both tasks' settings share: the fields below (a task's class lists its own after them), reading a
    notebook's parameters, resolving "auto", the output folder, JSON-ready values."""

    seed: int = setting(1, "seeds every draw of a run: initialisation, order, augmentation, numbers or pairs, dropout")
    epochs: int = setting(10, "training epochs")
    batch_size: int = setting(128, "images per training step")
    lr: float = setting(0.01, "peak learning rate of the one-cycle schedule (AdamW)")
    weight_decay: float = setting(0.01, "AdamW's weight decay (never on a learned addition table)")
    precision: str = setting("auto", '"fp32", "bf16" (autocast), "bf16|fp32" (bf16 where native), "auto" (the '
                             'network\'s default; both fall back to fp32 without native bf16) or "fp64" (reference runs)',
                             before="fp32")
    device: str = setting("auto", '"auto": the accelerator if there is one, else the CPU; or "cpu", "cuda:1", "mps" ...',
                          computes=False)
    val_size: int = setting(0, "> 0: evaluate on a validation split of this size carved from the training images")
    log_interval: int = setting(100, "training steps between log lines", computes=False)
    data_dir: str | None = setting(None, "MNIST's folder; None: $MNIST_DATA_DIR, else data/ in the repository",
                                   computes=False)
    output_dir: str | None = setting(None, "where model.pt and metrics.json go; None: the task's folder under runs/ in "
                                           "the repository", computes=False)

    DEFAULT_OUTPUT = "latest"  # the output folder under runs/ when output_dir is None

    def __post_init__(self):
        check_fields(self, positive=("epochs", "batch_size", "log_interval"), non_negative=("seed", "val_size"),
                     ranges={"lr": NON_NEGATIVE, "weight_decay": NON_NEGATIVE}, paths=("data_dir", "output_dir"))

    @classmethod
    def from_namespace(cls, namespace: dict):
        """The notebook's parameters (its `globals()` after papermill's injection), checked; a setting the notebook's
        cell does not hold (and papermill did not inject) takes its default."""
        return cls(**{f.name: namespace[f.name] for f in fields(cls) if f.name in namespace})

    def preferred_precision(self) -> tuple[str, str]:
        """The precision "auto" means for this run, and whose preference that is (in words)."""
        return "fp32", "the default"

    def resolve(self):
        """The same settings with "auto" (or a device alias) replaced by the device and precision the run uses, and
        why that precision, in words (`choose_precision`: by what the device computes)."""
        device = resolve_device(self.device)
        precision, why = choose_precision(self.precision, device, *self.preferred_precision())
        return replace(self, device=str(device), precision=precision), why

    @property
    def output_path(self) -> Path:
        """`output_dir` (relative to the working directory), or runs/<DEFAULT_OUTPUT> in the repository."""
        return Path(self.output_dir).expanduser() if self.output_dir else RUNS / self.DEFAULT_OUTPUT

    def to_dict(self) -> dict:
        """The settings as JSON-ready values (paths as strings), for metrics.json and checkpoints."""
        return {k: (str(v) if isinstance(v, os.PathLike) else v) for k, v in asdict(self).items()}


def shared(name: str, default):
    """A field of `Settings` with a task's own default: the same description, declared once (above)."""
    return field(default=default, metadata=Settings.__dataclass_fields__[name].metadata)


def literal(value) -> str:
    """A default as Python source, strings in double quotes."""
    return json.dumps(value) if isinstance(value, str) else repr(value)


def parameters_cell(settings, names: tuple[str, ...] | None = None) -> str:
    """A notebook's `parameters` cell: the settings `names` of the class `settings` in that order (None: every one)
    as literals (papermill injects over them) with their descriptions (a test holds each notebook's cell equal to
    it). Every other setting still works as a papermill parameter (`from_namespace`)."""
    by_name = {f.name: f for f in fields(settings)}
    shown = [by_name[name] for name in (names or by_name)]
    lines = [f"{f.name} = {literal(f.default)}" for f in shown]
    width = max(map(len, lines)) + 2
    return "\n".join(f"{line:<{width}}# {f.metadata['doc']}" for line, f in zip(lines, shown))


def parameter_table(settings) -> str:
    """The table of the class `settings` in docs/ (a test holds each page's table equal to it)."""
    rows = [f"| `{f.name}` | `{literal(f.default)}` | {f.metadata['doc']} |" for f in fields(settings)]
    return "\n".join(["| parameter | default | meaning |", "|---|---|---|", *rows])


__all__ = ["setting", "check_fields", "NON_NEGATIVE", "Settings", "shared", "literal", "parameters_cell",
           "parameter_table"]
