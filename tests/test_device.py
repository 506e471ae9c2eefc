"""Devices and precision: "auto" and explicit devices, clear errors, bf16 runs that repeat, resume and load anywhere."""
import json
import warnings

import pytest
import torch

from helpers.core import device as core_device
from helpers.core.backbones import DEFAULT_PRECISION
from helpers.core.device import available_devices, choose_precision, device_name, full_fp32, resolve_device
from helpers.core.mnist import prepare_data
from helpers.digit_and_sum import train as digit_runs
from helpers.digit_and_sum.model import load_checkpoint
from helpers.digit_and_sum.recipes import RECIPES
from helpers.digit_and_sum.evaluation import pair_logits
from helpers.digit_and_sum.heads import HEADS
from helpers.digit_and_sum.inference import predict
from helpers.digit_and_sum.settings import Config
from helpers.digit_and_sum.train import fit
from helpers.mnist_addition.recipes import RECIPES as ADDITION_RECIPES
from helpers.mnist_addition.settings import AdditionConfig

from conftest import Interrupt, interrupt_at, outcome, params


@pytest.fixture
def two_gpus(monkeypatch):
    """Make torch report two usable CUDA devices (nothing runs on them)."""
    monkeypatch.setattr(torch.accelerator, "is_available", lambda: True)
    monkeypatch.setattr(torch.accelerator, "current_accelerator", lambda check_available=False: torch.device("cuda"))
    monkeypatch.setattr(torch.accelerator, "device_count", lambda: 2)


def test_auto_is_the_cpu_without_an_accelerator(monkeypatch):
    monkeypatch.setattr(torch.accelerator, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    assert available_devices() == ["cpu"]


def test_auto_takes_the_accelerator_when_one_is_reported(two_gpus):
    assert resolve_device("auto") == torch.device("cuda")
    assert available_devices() == ["cpu", "cuda:0", "cuda:1"]
    assert resolve_device("cuda:1") == torch.device("cuda", 1)
    assert resolve_device(torch.device("cuda")) == torch.device("cuda")
    assert resolve_device("cpu") == torch.device("cpu")


@pytest.mark.parametrize("device", ["cuda:2", "mps", "xpu"])
def test_an_unavailable_device_names_what_is_available(two_gpus, device):
    with pytest.raises(ValueError, match=rf"device '{device}' is not available on this machine; "
                                         r"available here: cpu, cuda:0, cuda:1"):
        resolve_device(device)


def test_asking_for_a_gpu_on_a_machine_without_one_fails_at_once(monkeypatch):
    monkeypatch.setattr(torch.accelerator, "is_available", lambda: False)
    with pytest.raises(ValueError, match="device 'cuda' is not available on this machine; available here: cpu"):
        resolve_device("cuda")


@pytest.mark.parametrize("device", ["gpu", "cuda:x", "", 3, None, "cuda:-1"])
def test_a_malformed_device_is_a_clear_error(device):
    with pytest.raises(ValueError, match="device must be 'auto' or a device name like 'cpu'"):
        resolve_device(device)


def test_the_notebook_parameters_reject_a_bad_device_before_training():
    with pytest.raises(ValueError, match="device must be 'auto' or a device name"):
        Config(device="tpu:7").resolve()


def test_precision_auto_takes_the_backbones_measured_default(monkeypatch):
    cpu = torch.device("cpu")
    monkeypatch.setattr(core_device, "cpu_has_native_bf16", lambda: True)
    for backbone, precision in DEFAULT_PRECISION.items():
        assert choose_precision("auto", cpu, DEFAULT_PRECISION[backbone])[0] == precision
    assert choose_precision("fp32", cpu, DEFAULT_PRECISION["wide"])[0] == "fp32"
    with pytest.raises(ValueError, match="precision must be 'auto', 'fp32', 'bf16', 'fp64' or 'bf16|fp32', got 'fp16'"):
        choose_precision("fp16", cpu, DEFAULT_PRECISION["bn"])[0]


def test_bf16_on_a_gpu_without_it_is_refused_when_asked_and_avoided_by_auto(two_gpus, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: False)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *args: (7, 0))
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *args: "Tesla V100")
    with pytest.raises(ValueError, match=r"precision 'bf16' is not supported on cuda \(Tesla V100\)"):
        choose_precision("bf16", torch.device("cuda"), DEFAULT_PRECISION["bn"])[0]
    assert choose_precision("auto", torch.device("cuda"), DEFAULT_PRECISION["wide"])[0] == "fp32"


@pytest.mark.slow
def test_a_bf16_run_trains_repeats_resumes_and_loads_for_prediction_on_the_cpu(tmp_path, small):
    bf16 = dict(precision="bf16", device="cpu")
    full = fit(params(tmp_path / "full", **bf16), small, log=lambda line: None)
    again = fit(params(tmp_path / "again", **bf16), small, log=lambda line: None)
    fp32 = fit(params(tmp_path / "fp32", precision="fp32"), small, log=lambda line: None)
    assert outcome(full) == outcome(again)  # same seed, device and precision: the same history
    assert outcome(full) != outcome(fp32)  # autocast really ran in bf16
    assert full["metrics"]["history"][-1]["train_loss"] < full["metrics"]["history"][0]["train_loss"]
    metrics = json.loads((tmp_path / "full" / "metrics.json").read_text())
    assert (metrics["params"]["precision"], metrics["params"]["device"]) == ("bf16", "cpu")
    assert metrics["versions"]["device"] == device_name(torch.device("cpu"))

    with pytest.raises(Interrupt):
        fit(params(tmp_path / "cut", **bf16), small, log=interrupt_at(2))
    resumed = fit(params(tmp_path / "cut", **bf16, resume=True), small, log=lambda line: None)
    assert outcome(resumed) == outcome(full)

    model = load_checkpoint(tmp_path / "full" / "model.pt", device="cpu")
    assert all(p.dtype == torch.float32 and p.device.type == "cpu" for p in model.parameters())
    pixels = small.eval_images
    digits, sums = predict(model, pixels, full["numbers"])
    assert digits.device.type == "cpu"
    assert torch.equal(digits, full["result"]["pred_digits"]) and torch.equal(sums, full["result"]["pred_sums"])


@pytest.mark.slow
def test_resume_refuses_another_precision(tmp_path, small):
    fit(params(tmp_path, epochs=1, precision="bf16"), small, log=lambda line: None)
    with pytest.raises(ValueError, match="trained with other precision='bf16'"):
        fit(params(tmp_path, epochs=1, precision="fp32", resume=True), small, log=lambda line: None)


@pytest.mark.slow
def test_the_fp32_cpu_default_starts_as_it_did_before_devices_and_bf16_existed(tmp_path, small):
    """Seed 1 of the default (fp32 on the CPU) starts with the losses recorded with the code of commit 3780611, before
    devices and bf16 existed, on an AMD EPYC. Holds on every CPU: the first logged loss (step 1) to 1e-5 and the second
    (step 3) to 2e-3, where two correct runs differ by at most 1.7e-7 and 3.5e-4 (tests/README.md's table: another
    thread count, AVX2 kernels). Not the later steps nor the accuracies: after 10 steps two correct runs answer hundreds
    of the 10,000 test pairs differently, so a number recorded there on one CPU is not one another CPU computes. What
    the whole run computes is held in fp64 by tests/test_histories.py."""
    run = fit(params(tmp_path, epochs=2, device="cpu", precision="fp32"), small, log=lambda line: None)
    train_log = outcome(run)[1]
    losses = [entry["loss"] for entry in train_log]
    assert losses[0] == pytest.approx(0.7054160833358765, rel=1e-5)
    assert losses[1] == pytest.approx(0.6750915050506592, rel=2e-3)


@pytest.mark.slow
def test_an_fp64_run_computes_in_float64_and_its_checkpoint_loads_as_fp32(tmp_path, small):
    """precision="fp64" (the cross-CPU reference runs of tests/test_histories.py): float64 weights, data and loss;
    another run than fp32's; the checkpoint loads into the usual fp32 model, which predicts what the fp64 one did on
    all but a few images near a decision boundary. MNIST addition refuses it rather than record fp64 for fp32 work."""
    run = fit(params(tmp_path / "fp64", epochs=1, precision="fp64"), small, log=lambda line: None)
    assert all(p.dtype == torch.float64 for p in run["model"].parameters())
    fp32 = fit(params(tmp_path / "fp32", epochs=1, precision="fp32"), small, log=lambda line: None)
    assert outcome(run)[1] != outcome(fp32)[1] and outcome(run)[1][0]["loss"] == pytest.approx(outcome(fp32)[1][0]["loss"])
    loaded = load_checkpoint(tmp_path / "fp64" / "model.pt")
    assert all(p.dtype == torch.float32 for p in loaded.parameters())
    digits, sums = predict(loaded, small.eval_images, run["numbers"])
    assert (digits == run["result"]["pred_digits"]).float().mean() > 0.999
    with pytest.raises(ValueError, match="precision 'fp64' is the primary task's reference runs'"):
        AdditionConfig(precision="fp64")


@pytest.mark.slow
@pytest.mark.parametrize("head", sorted(HEADS))
def test_every_head_trains_and_answers_in_fp64(tmp_path, head):
    """fp64 through every head (the number's code joins the features in their float) and through pair_logits, which
    reads the explorer's fp32 images in the model's own float."""
    data = prepare_data(train_size=200, val_size=1000, eval_size=200, download=False)
    run = fit(Config(head=head, epochs=1, batch_size=100, train_size=200, val_size=1000, eval_size=200, precision="fp64",
                     device="cpu", output_dir=str(tmp_path)), data, log=lambda line: None)
    assert next(run["model"].parameters()).dtype == torch.float64
    assert pair_logits(run["model"], data.eval_x[:5], torch.arange(5)).dtype == torch.float64


@pytest.mark.parametrize("native", [True, False])
def test_auto_and_bf16_or_fp32_run_bf16_only_where_it_is_native_and_say_why(monkeypatch, native):
    monkeypatch.setattr(core_device, "cpu_has_native_bf16", lambda: native)
    cpu = torch.device("cpu")
    for asked, backbone in (("auto", "wide"), ("bf16|fp32", "bn")):
        precision, why = choose_precision(asked, cpu, DEFAULT_PRECISION[backbone], f"the {backbone} backbone's default")
        assert precision == ("bf16" if native else "fp32")
        assert ("computed natively" if native else "only by emulation") in why and asked.split(":")[0] in why
    assert Config(backbone="bn", device="cpu").resolve()[1] == "auto: the bn backbone's default is fp32"


def test_bf16_asked_for_where_it_is_emulated_runs_and_says_what_it_costs(monkeypatch):
    monkeypatch.setattr(core_device, "cpu_has_native_bf16", lambda: False)
    with pytest.warns(UserWarning, match=r"bf16 on cpu .* is emulated, about 12x slower than fp32: precision 'auto'"):
        assert choose_precision("bf16", torch.device("cpu")) == ("bf16", "asked for; emulated on cpu ("
                                                                                + device_name(torch.device("cpu")) + ")")
    monkeypatch.setattr(core_device, "cpu_has_native_bf16", lambda: True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # native: not a word
        assert choose_precision("bf16", torch.device("cpu")) == ("bf16", "asked for")


def test_the_bf16_check_asks_the_runs_own_gpu(two_gpus, monkeypatch):
    """cuda:0 an Ampere, cuda:1 a Volta: each answers for itself, whichever is the current device."""
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: {0: (8, 0), 1: (7, 0)}[
        torch.device(device).index])
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *args: "a GPU")
    assert choose_precision("auto", torch.device("cuda:0"), DEFAULT_PRECISION["mid"])[0] == "bf16"
    assert choose_precision("auto", torch.device("cuda:1"), DEFAULT_PRECISION["mid"])[0] == "fp32"


def test_fp32_on_cuda_turns_tf32_off_and_back_and_fit_runs_inside_it(monkeypatch, tmp_path, small):
    flags = (torch.backends.cudnn.conv, torch.backends.cuda.matmul)
    before = [flag.fp32_precision for flag in flags]
    with full_fp32(torch.device("cuda"), "fp32"):
        assert [flag.fp32_precision for flag in flags] == ["ieee", "ieee"]
    assert [flag.fp32_precision for flag in flags] == before
    with full_fp32(torch.device("cuda"), "bf16"), full_fp32(torch.device("cpu"), "fp32"):
        assert [flag.fp32_precision for flag in flags] == before  # only fp32 runs on CUDA need it
    entered = []
    real = full_fp32
    monkeypatch.setattr(digit_runs, "full_fp32", lambda device, precision: (entered.append((device, precision)),
                                                                               real(device, precision))[1])
    monkeypatch.setattr(digit_runs, "train_epoch", lambda *args, **kwargs: [torch.tensor(0.0)] * 6)  # the plumbing alone
    monkeypatch.setattr(digit_runs, "evaluate_exhaustive", lambda *args: {})
    fit(params(tmp_path, epochs=1, precision="fp32"), small, log=lambda line: None)
    assert entered == [(torch.device("cpu"), "fp32")]


@pytest.mark.parametrize("name", sorted({*RECIPES, *ADDITION_RECIPES}))
def test_no_named_configuration_forces_a_precision_the_device_may_only_emulate(monkeypatch, name):
    """On a CPU without native bf16 (AMD EPYC with AVX2 only) every named run trains in fp32, without a warning."""
    monkeypatch.setattr(core_device, "cpu_has_native_bf16", lambda: False)
    settings = {**RECIPES, **ADDITION_RECIPES}[name]
    config = (AdditionConfig if name in ADDITION_RECIPES else Config)(**settings, device="cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        resolved, why = config.resolve()  # what the run itself asks
    assert resolved.precision == "fp32", why
