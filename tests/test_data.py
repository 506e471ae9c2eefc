import shutil

import pytest
import torch
import torchvision
from torchvision import transforms

from helpers.core.mnist import MNIST_FILES, MNISTDataError, data_root, load_mnist, prepare_data


def test_splits_as_tensors(mnist):
    (train_x, train_y), (test_x, test_y) = mnist["train"], mnist["test"]
    assert train_x.shape == (60_000, 28, 28) and test_x.shape == (10_000, 28, 28)
    assert train_x.dtype == torch.uint8 and train_y.dtype == torch.int64 and len(train_y) == 60_000 and len(test_y) == 10_000


def test_mean_and_std_of_the_training_set(data):
    assert data.mean == pytest.approx(0.1307, abs=5e-5)
    assert data.std == pytest.approx(0.3081, abs=5e-5)
    assert data.train_x.mean().item() == pytest.approx(0, abs=1e-4)
    assert data.train_x.std().item() == pytest.approx(1, abs=1e-4)


def test_tensor_path_matches_torchvisions_transforms(data):
    dataset = torchvision.datasets.MNIST(data_root(), train=False, transform=transforms.Compose(
        [transforms.ToTensor(), transforms.Normalize((data.mean,), (data.std,))]))
    for i in (0, 1, 4321, 9999):
        image, label = dataset[i]
        assert torch.allclose(data.eval_x[i], image, atol=1e-6)
        assert data.eval_y[i].item() == label


def test_validation_split_is_carved_from_the_training_set(mnist):
    split = prepare_data(val_size=5000, download=False)
    assert split.eval_name == "validation"
    assert len(split.train_x) == 55_000 and len(split.eval_x) == 5000
    assert not torch.equal(split.eval_images, mnist["test"][0][:5000])
    # disjoint from the training images, and together they are the training set: no image in both
    train_images = mnist["train"][0]
    key = lambda images: {bytes(image.numpy()) for image in images}  # noqa: E731
    used = key(((split.train_x[:, 0] * split.std + split.mean) * 255).round().to(torch.uint8))
    held = key(split.eval_images)
    assert not (used & held) and used | held == key(train_images)


def fake_root(tmp_path, change=None):
    """A copy of the MNIST root; `change(raw)` damages it."""
    raw = tmp_path / "MNIST" / "raw"
    shutil.copytree(data_root() / "MNIST" / "raw", raw)
    if change:
        change(raw)
    return tmp_path


def test_missing_files_name_the_folder_the_files_and_the_variable(tmp_path):
    with pytest.raises(MNISTDataError) as error:
        load_mnist(tmp_path, download=False)
    message = str(error.value)
    assert str(tmp_path / "MNIST" / "raw") in message and "MNIST_DATA_DIR" in message
    assert all(name in message for name in MNIST_FILES)


def test_a_failed_download_gives_the_same_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(torchvision.datasets.MNIST, "mirrors", ["http://127.0.0.1:9/"])  # refuses at once
    monkeypatch.setenv("MNIST_DATA_DIR", str(tmp_path))
    with pytest.raises(MNISTDataError, match="download failed") as error:
        load_mnist()
    assert str(tmp_path) in str(error.value) and "t10k-labels-idx1-ubyte" in str(error.value)


def test_truncated_file(tmp_path):
    def truncate(raw):
        path = raw / "t10k-images-idx3-ubyte"
        path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(MNISTDataError, match="truncated"):
        load_mnist(fake_root(tmp_path, truncate), download=False)


def test_corrupt_file(tmp_path):
    def flip_a_pixel(raw):
        path = raw / "train-labels-idx1-ubyte"
        content = bytearray(path.read_bytes())
        content[100] ^= 1
        path.write_bytes(bytes(content))
    with pytest.raises(MNISTDataError, match="corrupt"):
        load_mnist(fake_root(tmp_path, flip_a_pixel), download=False)
