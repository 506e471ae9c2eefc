"""Studies of the primary task: the held-out pairs, the robustness benchmark, the named sweeps."""
