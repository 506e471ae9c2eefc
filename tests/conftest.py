import dataclasses
import hashlib
import os
import socket
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
# CI sets MNIST_DATA_DIR; beside a checkout the verified offline copy lies in ../shared/data.
if "MNIST_DATA_DIR" not in os.environ and (ROOT.parent / "shared" / "data" / "MNIST" / "raw").is_dir():
    os.environ["MNIST_DATA_DIR"] = str(ROOT.parent / "shared" / "data")

from helpers.core.device import device_name
from helpers.core.mnist import MNISTData, load_mnist, prepare_data
from helpers.digit_and_sum.settings import Config

# What CI re-executes of each committed notebook through nbval (tests/README.md): the notebook as committed, with these
# parameters injected after its parameters cell as papermill injects them. Every cell runs and means what it means at
# full size (fewer epochs of the same training, the same data and checks); the cells whose stored output nbval compares
# (`nbval-check-output`) do not depend on them. The stored outputs come from a full default run.
NBVAL_PARAMETERS = {
    "neural_network_on_steroids.ipynb": {"epochs": 2, "min_joint_acc": 0.97},
    "mnist_addition.ipynb": {"epochs": 2, "min_sum_acc": 0.9},
    "experiments.ipynb": {},
}


def pytest_configure(config):
    """nbval reads each notebook with `nbformat.read`: it reads ours with `NBVAL_PARAMETERS` injected."""
    import nbformat
    import nbval.plugin
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    class WithParameters:
        def __getattr__(self, name):
            return getattr(nbformat, name)

        @staticmethod
        def read(path, *args, **kwargs):
            parameters = NBVAL_PARAMETERS.get(Path(path).name)
            if not parameters:
                return nbformat.read(path, *args, **kwargs)
            return parameterize_notebook(load_notebook_node(str(path)), parameters)  # as papermill reads it

    nbval.plugin.nbformat = WithParameters()


def pytest_collection_modifyitems(items):
    """nbval's notebook cells train and draw: not in the quick loop (`pytest -m "not slow"`)."""
    for item in items:
        if item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def mnist():
    """Both MNIST splits as uint8 tensors, loaded once."""
    return load_mnist(download=False)


@pytest.fixture(scope="session")
def data():
    return prepare_data(download=False)


def machine() -> dict:
    """What must be the same for two training runs to agree bit for bit (PyTorch's reproducibility notes: one platform
    and build, not across): the CPU's model and instruction-set flags, the kernels torch picks for them, the torch build
    and the thread count. tests/README.md says which tests hold numbers only on the machine that recorded them."""
    info = Path("/proc/cpuinfo")
    flags = next((line.split(":", 1)[1].split() for line in info.read_text().splitlines() if line.startswith("flags")),
                 []) if info.exists() else []
    return {"cpu": device_name(torch.device("cpu")), "flags": hashlib.sha256(" ".join(sorted(flags)).encode()).hexdigest()[:16],
            "capability": torch.backends.cpu.get_cpu_capability(), "torch": torch.__version__,
            "threads": torch.get_num_threads()}


def figure_path(tmp_path: Path, name: str) -> Path:
    """Where a test saves a screenshot: its temporary folder, or images/ (the README's) when the command asks for
    it: REFRESH_IMAGES=1 pytest tests/test_jupyterlab.py. A plain `pytest` leaves the checkout as it was."""
    return (ROOT / "images" if os.environ.get("REFRESH_IMAGES") == "1" else tmp_path) / name


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now, for a server a test starts."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ------------------------------------------------------------------------------ small training runs, shared

def params(tmp_path, **changes) -> Config:
    """A small run on the CPU (where two runs compare bit for bit): 3 epochs of 600 images, a log line every 2 steps."""
    return Config(**{"epochs": 3, "batch_size": 100, "train_size": 600, "log_interval": 2, "device": "cpu",
                             "output_dir": str(tmp_path), **changes})


def outcome(run) -> tuple[list, list]:
    """Everything a run computed, timings aside."""
    metrics = run["metrics"]
    return [{k: v for k, v in h.items() if k != "seconds"} for h in metrics["history"]], metrics["train_log"]


class Interrupt(Exception):
    pass


def interrupt_at(epoch):
    """A log function that stops a run as its epoch `epoch` starts."""
    def log(line):
        if line.startswith(f"Train Epoch: {epoch} [0/"):
            raise Interrupt
    return log


EVAL_SIZE = 500  # test images of the small runs: enough to tell a model that learned from one that did not


def first(data: MNISTData, eval_size: int = EVAL_SIZE) -> MNISTData:
    """The same data with only its first `eval_size` evaluation images."""
    return dataclasses.replace(data, eval_x=data.eval_x[:eval_size], eval_y=data.eval_y[:eval_size],
                               eval_images=data.eval_images[:eval_size])


@pytest.fixture(scope="session")
def small():
    """The first 600 training images and the first 500 test images, for small runs."""
    return prepare_data(train_size=600, eval_size=EVAL_SIZE, download=False)
