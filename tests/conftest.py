import os
import socket
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# CI sets MNIST_DATA_DIR; beside a checkout the verified offline copy lies in ../shared/data.
if "MNIST_DATA_DIR" not in os.environ and (ROOT.parent / "shared" / "data" / "MNIST" / "raw").is_dir():
    os.environ["MNIST_DATA_DIR"] = str(ROOT.parent / "shared" / "data")

import helpers  # noqa: E402


def pytest_collection_modifyitems(items):
    """nbval's notebook cells train and draw: not in the quick loop (`pytest -m "not slow"`)."""
    for item in items:
        if item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def mnist():
    """Both MNIST splits as uint8 tensors, loaded once."""
    return helpers.load_mnist(download=False)


@pytest.fixture(scope="session")
def data():
    return helpers.prepare_data(download=False)


def figure_path(tmp_path: Path, name: str) -> Path:
    """Where a test saves a screenshot: its temporary folder, or images/ (the README's) when the command asks for
    it: REFRESH_IMAGES=1 pytest tests/test_jupyterlab.py. A plain `pytest` leaves the checkout as it was."""
    return (ROOT / "images" if os.environ.get("REFRESH_IMAGES") == "1" else tmp_path) / name


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now, for a server a test starts."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
