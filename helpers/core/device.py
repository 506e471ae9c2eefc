"""Device and precision: where a run computes, and in which floating-point format."""
from __future__ import annotations

import contextlib
import platform
import time
import warnings
from pathlib import Path

import torch
from torch import nn


def available_devices() -> list[str]:
    """What this machine can train on: "cpu" and each usable accelerator, e.g. ["cpu", "cuda:0"]."""
    devices = ["cpu"]
    if torch.accelerator.is_available():  # current_accelerator() alone names "cuda" even where none is usable
        kind = torch.accelerator.current_accelerator().type
        devices += [f"{kind}:{i}" for i in range(torch.accelerator.device_count())]
    return devices


def resolve_device(device="auto") -> torch.device:
    """"auto": the current accelerator (CUDA, MPS, XPU, ...) when one is usable, else the CPU.

    An explicit name ("cpu", "cuda", "cuda:1", "mps") is honoured if it is usable here; anything
    else fails at once with a message that names what is available.
    """
    if device == "auto":
        return torch.device(torch.accelerator.current_accelerator().type if torch.accelerator.is_available() else "cpu")
    available = available_devices()
    try:
        if not isinstance(device, (str, torch.device)):
            raise TypeError
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"device must be 'auto' or a device name like 'cpu', 'cuda' or 'cuda:1', got {device!r}; "
                         f"available here: {', '.join(available)}") from None
    usable = resolved.type == "cpu" or f"{resolved.type}:{resolved.index or 0}" in available
    if not usable:
        raise ValueError(f"device {str(device)!r} is not available on this machine; "
                         f"available here: {', '.join(available)} (or 'auto')")
    return resolved


def device_name(device: torch.device) -> str:
    """A person's name for the device: the GPU's model, or the CPU's."""
    if device.type == "cpu":
        models = [line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")] if Path("/proc/cpuinfo").exists() else []
        return models[0] if models else (platform.processor() or platform.machine())
    module = getattr(torch, device.type, None)
    return module.get_device_name(device) if hasattr(module, "get_device_name") else device.type


def model_device(model: nn.Module) -> torch.device:
    """Where a model's weights live (the CPU for a model without any)."""
    return next(model.parameters(), torch.empty(0)).device


def synchronize(device: torch.device) -> None:
    """Wait for the accelerator's queued work, so a clock read after it measures the work itself."""
    if device.type != "cpu":
        torch.accelerator.synchronize(device)


def stopwatch(device: torch.device):
    """Start a clock for work on `device`: `elapsed = stopwatch(device)`, then `elapsed()` is the seconds since, each
    read taken once the device has finished the work queued before it (`synchronize`)."""
    synchronize(device)
    start = time.perf_counter()

    def elapsed() -> float:
        synchronize(device)
        return time.perf_counter() - start
    return elapsed


def to_device(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """A CPU tensor on `device` without a host sync: on CUDA pinned, then copied asynchronously (the pinned buffer
    is kept until the copy is done by torch's caching host allocator); on the CPU the tensor itself."""
    if device.type == "cpu":
        return tensor
    if device.type == "cuda":
        tensor = tensor.pin_memory()
    return tensor.to(device, non_blocking=True)


# "bf16" runs the forward pass under bfloat16 autocast (the loss in fp32); "fp32" is fp32 throughout (TF32 off on
# CUDA, `full_fp32`); "fp64" is float64 throughout, weights and data too: slow, for reference runs whose numbers
# another CPU reproduces (tests/README.md). "auto" takes the run's preferred precision (a backbone's, chosen on the
# validation split: docs/speed.md), and "bf16|fp32" asks for bf16: both fall back to fp32 where the device does not
# compute bf16 natively.
PRECISIONS = ("fp32", "bf16", "fp64")
BF16_OR_FP32 = "bf16|fp32"
EMULATED_BF16_COST = "about 12x slower than fp32"  # measured on a 2-core AMD EPYC with AVX2 only (docs/speed.md)


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bfloat16 in hardware (x86 AVX512-BF16 or AMX, Arm BF16); without it, CPU
    autocast to bf16 is emulated and slower than fp32."""
    info = Path("/proc/cpuinfo")
    flags = set(info.read_text().split()) if info.exists() else set()
    return bool(flags & {"avx512_bf16", "amx_bf16", "bf16"})


def bf16_supported(device: torch.device, native: bool = False) -> bool:
    """Whether autocast to bf16 works on `device` (`native`: and runs at hardware speed), asked of that very device
    (on a machine with several GPUs, `cuda:1` answers for itself)."""
    if device.type == "cuda":
        if native:
            return torch.cuda.get_device_capability(device) >= (8, 0)  # Ampere and newer
        return torch.cuda.is_bf16_supported(including_emulation=True)
    if device.type == "cpu":
        return not native or cpu_has_native_bf16()
    return True  # MPS and XPU compute bfloat16


def choose_precision(precision: str, device: torch.device, preferred: str = "fp32",
                     whose: str = "the default") -> tuple[str, str]:
    """The precision a run computes in, and why, in words (the benchmark records both), by what `device` computes:
    "auto" -> `preferred` (`whose` preference it is, for the words), and "bf16|fp32" -> bf16, each where the device
    computes bf16 natively, else fp32; "fp32" / "bf16" / "fp64" as asked, if the device can run it at all. bf16
    asked for where it is only emulated warns, once, what it costs."""
    where = f"{device} ({device_name(device)})"
    if precision in ("auto", BF16_OR_FP32):
        wanted = preferred if precision == "auto" else "bf16"
        source = f"auto: {whose}" if precision == "auto" else BF16_OR_FP32
        if wanted == "fp32":
            return "fp32", f"{source} is fp32"
        if bf16_supported(device, native=True):
            return "bf16", f"{source}, bf16, computed natively on {where}"
        return "fp32", f"{source}; fp32, as {where} computes bf16 only by emulation"
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be 'auto', 'fp32', 'bf16', 'fp64' or {BF16_OR_FP32!r}, got {precision!r}")
    if precision == "fp64" and device.type == "mps":
        raise ValueError(f"precision 'fp64' is not supported on {where} (MPS has no float64); use 'fp32'")
    if precision == "bf16" and not bf16_supported(device):
        raise ValueError(f"precision 'bf16' is not supported on {where}; use 'fp32'")
    if precision == "bf16" and not bf16_supported(device, native=True):
        warnings.warn(f"bf16 on {where} is emulated, {EMULATED_BF16_COST}: precision 'auto' or "
                      f"{BF16_OR_FP32!r} would run fp32 here", stacklevel=2)
        return "bf16", f"asked for; emulated on {where}"
    return precision, "asked for"


@contextlib.contextmanager
def full_fp32(device: torch.device, precision: str):
    """For an "fp32" run on CUDA, convolutions and matrix products in IEEE fp32: PyTorch would run convolutions in
    TF32 on Ampere and newer GPUs (10-bit mantissas) while the run records "fp32". The flags are restored after."""
    if device.type != "cuda" or precision != "fp32":
        yield
        return
    flags = (torch.backends.cudnn.conv, torch.backends.cuda.matmul)
    before = [flag.fp32_precision for flag in flags]
    for flag in flags:
        flag.fp32_precision = "ieee"
    try:
        yield
    finally:
        for flag, value in zip(flags, before):
            flag.fp32_precision = value


def weight_dtype(precision: str) -> torch.dtype:
    """The dtype of a run's weights and resident data: float64 for "fp64", else float32 (bf16 autocasts from it)."""
    return torch.float64 if precision == "fp64" else torch.float32


def at_least_fp32(tensor: torch.Tensor) -> torch.Tensor:
    """`tensor` in fp32 if it is in a narrower float (bf16 under autocast), else as it is (fp32, or an fp64 run's)."""
    return tensor.to(torch.promote_types(tensor.dtype, torch.float32))


def autocast(device: torch.device, precision: str):
    """The forward pass's precision: bfloat16 autocast for "bf16", a no-op for "fp32"."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")


__all__ = ["available_devices", "resolve_device", "device_name", "model_device", "synchronize", "stopwatch", "to_device", "PRECISIONS",
           "BF16_OR_FP32", "cpu_has_native_bf16", "bf16_supported", "choose_precision", "full_fp32", "weight_dtype", "at_least_fp32", "autocast"]
