"""Provenance: the library versions, the device and the git commit a run records beside its results."""
from __future__ import annotations

import platform
import subprocess

import torch
import torchvision

from .device import device_name
from .paths import ROOT


def code_version(root=ROOT) -> dict | None:
    """The git commit of the code a run ran and whether the tree had changes (results/, runs/ and images/ aside,
    which runs write to); None outside a git checkout."""
    def git(*args):
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=True).stdout.strip()
    try:
        commit = git("rev-parse", "HEAD")
        changes = git("status", "--porcelain", "--", ".", ":(exclude)results", ":(exclude)runs",
                      ":(exclude)images")
    except (OSError, subprocess.CalledProcessError):
        return None
    return {"commit": commit, "dirty": bool(changes)}


def versions(device="cpu") -> dict:
    """Library versions, the name of the device a run used, and the code's git commit (`code_version`)."""
    return {"torch": str(torch.__version__), "torchvision": str(torchvision.__version__), "python": platform.python_version(),
            "device": device_name(torch.device(device)), "code": code_version()}


__all__ = ["code_version", "versions"]
