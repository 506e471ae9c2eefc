"""What a run on a GPU needs, shown on the CPU: no host sync and no blocking copy in the training step or the forward
pass, and every function that takes a model working on the model's device. No GPU has run this project's tests so
far (the CUDA test at the end is skipped without one); the stand-ins below would catch the mistakes it would."""
import pytest
import torch

from helpers.core import augment as core_augment
from helpers.core import training as core_training
from helpers.core.mnist import prepare_data
from helpers.digit_and_sum import corruptions as robust
from helpers.digit_and_sum import train as digit_training
from helpers.digit_and_sum.evaluation import eval_numbers, evaluate, evaluate_exhaustive
from helpers.digit_and_sum.heads import HEADS
from helpers.digit_and_sum.inference import predict
from helpers.digit_and_sum.model import Net
from helpers.digit_and_sum.corruptions import robust_augment
from helpers.digit_and_sum.settings import Config
from helpers.digit_and_sum.train import make_training, train_epoch


class OnDevice(torch.Tensor):
    """A stand-in for a tensor on an accelerator: every op on it gives one again, and each call that would make the
    host wait for the device (read a value, a shape that depends on the values, a check) is written down."""

    syncs: list[str] = []

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", str(func))
        waits = name in {"item", "tolist", "cpu", "numpy", "__bool__", "__int__", "__float__", "__index__", "nonzero",
                         "unique", "masked_select", "repeat_interleave", "inv", "linalg_inv", "inv_ex"}
        if name in {"__getitem__", "__setitem__"}:  # a boolean mask: the result's size is read from the device
            index = args[1] if isinstance(args[1], tuple) else (args[1],)
            waits = any(isinstance(i, torch.Tensor) and i.dtype == torch.bool for i in index)
        if name == "to" and any(str(a).startswith("cpu") for a in (*args[1:], *(kwargs or {}).values())):
            waits = True
        if waits:
            cls.syncs.append(name)
        return super().__torch_function__(func, types, args, kwargs or {})


class Transfers:
    """A stand-in for `to_device`: counts the host-to-device copies and makes their tensors OnDevice."""

    def __init__(self):
        self.calls = 0

    def __call__(self, tensor, device):
        assert type(tensor) is torch.Tensor and tensor.device.type == "cpu"  # only CPU draws travel
        self.calls += 1
        return tensor.as_subclass(OnDevice)


@pytest.fixture
def on_device(monkeypatch):
    """to_device replaced by the stand-in; any other `Tensor.to(device)` (a blocking copy) written down."""
    transfers, blocking = Transfers(), []
    real_to = torch.Tensor.to

    def watched_to(self, *args, **kwargs):
        if type(self) is torch.Tensor and (any(isinstance(a, (str, torch.device)) for a in args) or "device" in kwargs):
            blocking.append((tuple(self.shape), args, kwargs))
        return real_to(self, *args, **kwargs)

    for module in (digit_training, robust, core_augment, core_training):
        monkeypatch.setattr(module, "to_device", transfers)
    monkeypatch.setattr(torch.Tensor, "to", watched_to)
    OnDevice.syncs = []
    yield transfers, blocking


@pytest.fixture(scope="module")
def images():
    return prepare_data(train_size=512, download=False)


@pytest.mark.parametrize("augment_kind, centre_input", [(True, False), ("robust", True), (False, True)])
def test_an_epoch_waits_for_the_device_only_at_its_log_lines(on_device, images, augment_kind, centre_input):
    """4 steps of 128 images, a log line every 3 steps (steps 0 and 3): two `item()`s, nothing else (the steps' losses
    stay on the device for the caller)."""
    transfers, blocking = on_device
    data = images.to("cpu")
    data = type(data)(**{**data.__dict__, "train_x": data.train_x.as_subclass(OnDevice),
                         "train_y": data.train_y.as_subclass(OnDevice)})
    config = Config(epochs=1, batch_size=128, augment=augment_kind, centre_input=centre_input, holdout=30,
                            device="cpu", precision="fp32", log_interval=3)
    model, optimizer, scheduler = make_training(config, len(data.train_x))
    blocking.clear()  # building the model on the CPU is not the step
    train_epoch(model, data, optimizer, scheduler, 1, config, log=lambda line: None)
    assert OnDevice.syncs == ["item", "item"]
    assert blocking == []
    if augment_kind is not True:
        return
    assert transfers.calls == 2 + 4 * 2  # the order, the held-out mask; per step the draws, the numbers


def test_the_robust_corruptions_send_each_draw_they_use_once(on_device, images):
    transfers, blocking = on_device
    generator = torch.Generator().manual_seed(3)
    again = torch.Generator().set_state(generator.get_state())
    robust_augment(images.train_x[:128].as_subclass(OnDevice), generator, images.mean, images.std)
    draws = robust.draw_corruptions(128, again)
    used = sum(bool((draws["corrupt"] & (draws["choice"] == k)).any()) for k in range(len(robust.CORRUPTIONS)))
    assert transfers.calls == len(draws) - len(robust.PER_BATCH) + used  # the draws, and each corruption's images
    assert OnDevice.syncs == [] and blocking == []


@pytest.mark.parametrize("head", sorted(HEADS))
def test_the_forward_pass_never_waits_for_the_device(on_device, images, head):
    transfers, blocking = on_device
    model = Net(head=head, centre_input=True, backbone="mid").eval()
    blocking.clear()
    with torch.no_grad():
        model(images.eval_x[:16].as_subclass(OnDevice), torch.zeros(16, 4).as_subclass(OnDevice))
    assert OnDevice.syncs == [] and blocking == []


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU; the stand-ins above check the same on the CPU")
def test_an_epoch_on_cuda_syncs_only_for_its_log_lines():
    """torch reports every host sync: 8 steps with a log line every 3 (steps 0, 3 and 6) make 3 `item()`s."""
    import warnings

    data = prepare_data(train_size=1024, download=False).to("cuda")
    config = Config(epochs=1, augment="robust", centre_input=True, holdout=30, device="cuda",
                            log_interval=3).resolve()[0]
    model, optimizer, scheduler = make_training(config, len(data.train_x), device="cuda")
    torch.cuda.set_sync_debug_mode("warn")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            train_epoch(model, data, optimizer, scheduler, 1, config, log=lambda line: None)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    syncs = [w for w in caught if "synchroniz" in str(w.message)]
    assert len(syncs) == 3, [str(w.message) for w in syncs]


# ------------------------------------------------------------------------ functions that take a model, on its device

@pytest.fixture
def meta(monkeypatch):
    """The meta device as a stand-in accelerator: a model there computes shapes only, an input left on the CPU fails
    as it would on a GPU, and reading a result back (`.cpu()`, `.item()`, `.tolist()`) gives zeros of its shape."""
    for name, zeros in (("cpu", lambda t: torch.zeros(t.shape, dtype=t.dtype)), ("item", lambda t: 0),
                        ("tolist", lambda t: torch.zeros(t.shape, dtype=t.dtype).tolist())):
        real = getattr(torch.Tensor, name)
        monkeypatch.setattr(torch.Tensor, name, lambda self, *a, real=real, zeros=zeros, **k:
                            zeros(self) if self.is_meta else real(self, *a, **k))
    return torch.device("meta")


@pytest.fixture(scope="module")
def trained():
    """A model as `fit` builds it (the symadder head: it has a cell to draw), with a checkpoint's normalization."""
    config = Config(head="symadder", centre_input=True, device="cpu")
    model = make_training(config, 128)[0].eval()
    model.mean, model.std = 0.1307, 0.3081
    return model


def test_every_function_that_takes_a_model_runs_it_on_its_device(meta, trained, images):
    import matplotlib.pyplot as plt

    from helpers.figures import digit_and_sum as figures
    from helpers.figures import explore
    from helpers.figures import studies as study_figures
    model = trained.to(meta)
    digits, numbers = images.eval_y[:50], eval_numbers(50)
    plt.close(figures.plot_architecture(model))
    plt.close(study_figures.plot_adder_cell(model))
    assert predict(model, images.eval_images[:50], numbers, confidence=True)[0].shape == (50,)
    assert evaluate(model, images.eval_x[:50], digits, numbers)["pred_digits"].device.type == "cpu"
    assert evaluate_exhaustive(model, images.eval_x[:50], digits)["pairs"] == 500
    small = type(images)(**{**images.__dict__, "eval_x": images.eval_x[:50], "eval_y": digits,
                            "eval_images": images.eval_images[:50]})
    explorer = explore.Explorer(model, small)
    explorer.number.value = 3
    assert "+ 3 = " in explorer.answer.value


def test_the_drawing_pad_runs_its_model_on_its_device(meta, trained):
    from helpers.figures.draw import DrawPad
    pad = DrawPad({"trained": trained.to(meta)})
    pad.start(100, 60), pad.move(140, 200), pad.finish(150, 220)
    state = pad.state()
    assert not state["blank"] and state["pixels"].shape == (28, 28)
