"""The primary task's checkpoints: what a run saves (weights, normalization, optimizer state), read safely, exported
small, loaded as a model (in the core's checkpoint format)."""
from __future__ import annotations

from pathlib import Path

from ..core.checkpoints import read_state, save_state
from ..core.device import resolve_device
from ..core.mnist import MNISTData
from .model import MODEL_SETTINGS, Net

CHECKPOINT_FORMAT = "neural-network-on-steroids/1"
TASK = "digit_and_sum"  # metrics.json and model.pt say which task wrote them


def save_checkpoint(path: Path, model, data: MNISTData, config, epoch: int, history: list,
                    train_log: list, optimizer=None, scheduler=None, versions: dict | None = None) -> None:
    """Everything needed to predict (weights, normalization) and to resume (optimizer, schedule), and where it came
    from (`versions`: the libraries, device and git commit of the run, as its metrics.json records them)."""
    state = {
        "format": CHECKPOINT_FORMAT, "task": TASK, **model.settings(), "mean": data.mean, "std": data.std,
        "model": model.state_dict(), "params": config.to_dict(), "versions": versions, "epoch": epoch,
        "history": history, "train_log": train_log,
        "optimizer": optimizer.state_dict() if optimizer else None,
        "scheduler": scheduler.state_dict() if scheduler else None,
    }
    save_state(path, state)


def read_checkpoint(path) -> dict:
    """A primary-task checkpoint's contents, read safely (`read_state`: it can never run code)."""
    return read_state(path, CHECKPOINT_FORMAT)


def export_model(checkpoint, path) -> Path:
    """Write the weights and normalization of a training checkpoint, without optimizer state (small), to `path`
    (relative to the working directory)."""
    state = read_checkpoint(checkpoint)
    state.update(optimizer=None, scheduler=None, train_log=[])
    path = Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    save_state(path, state)
    return path


def load_checkpoint(path, device="cpu") -> Net:
    """The trained model of a checkpoint, in eval mode, with its normalization (`mean`, `std`), on `device`.

    A checkpoint trained on any device and in any precision loads here: weights are kept in fp32 and
    read onto the CPU first.
    """
    state = read_checkpoint(path)
    model = Net(**{k: state[k] for k in MODEL_SETTINGS if k in state})  # older ones lack some: Net's defaults, which they used
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as error:
        raise ValueError(f"{path} does not match the {state['backbone']!r} network: "
                         f"{str(error).splitlines()[0]}") from None
    model.mean, model.std = state["mean"], state["std"]
    return model.to(resolve_device(device)).eval()


__all__ = ["CHECKPOINT_FORMAT", "TASK", "save_checkpoint", "read_checkpoint", "export_model",
           "load_checkpoint"]
