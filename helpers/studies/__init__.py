"""Studies: of the primary task (the held-out pairs, the robustness benchmark), and the named sweeps of both tasks."""
