"""The two tasks as `sweep.py` runs them, in one small table (`TASKS`): each one's notebook, settings and recipes,
where its runs go unless told, what every sweep run of it sets, whether a run finished, how an older metrics.json is
read, what of a kept model is worth keeping, and a results folder's summary. sweep.py reads this table instead of
asking which task a run is."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..core.paths import ADDITION_NOTEBOOK, NOTEBOOK
from ..digit_and_sum import recipes as digit_and_sum_recipes
from ..digit_and_sum.model import export_model
from ..digit_and_sum.results import load_results, upgrade_metrics
from ..digit_and_sum.settings import Config
from ..mnist_addition import recipes as mnist_addition_recipes
from ..mnist_addition import results as mnist_addition_results
from ..mnist_addition.settings import AdditionConfig
from .holdout import summary as holdout_summary


@dataclass(frozen=True)
class Task:
    name: str  # what its metrics.json and model.pt say in `task`
    notebook: Path
    settings: type
    recipes: dict
    results: str  # where its runs go unless told, relative to the repository
    fixed: dict  # what every sweep run of it sets: no failing assertion (a poor run is a result too)
    finished: Callable[[dict], bool]  # whether a metrics.json holds what the run writes at its end
    summary: Callable[[Path, str], str | None]  # a results folder's summary.md (None: no finished run there)
    upgrade: Callable[[dict], dict] = lambda metrics: metrics  # an older metrics.json in today's schema
    export: Callable | None = None  # (model.pt, path) -> the kept model without what only training needs


def digit_and_sum_summary(results: Path, command: str) -> str | None:
    """results/summary.md: every recipe's row, the held-out curve and the fresh draws (`holdout.summary`)."""
    groups = load_results(results)
    return holdout_summary(groups) if groups else None


TASKS = {task.name: task for task in (
    Task("digit_and_sum", NOTEBOOK, Config, digit_and_sum_recipes.RECIPES, "results",
         {"min_joint_acc": 0.0, "image_dir": None}, lambda metrics: bool(metrics.get("exhaustive")),
         digit_and_sum_summary, upgrade_metrics, export_model),
    Task("mnist_addition", ADDITION_NOTEBOOK, AdditionConfig, mnist_addition_recipes.RECIPES, "results/mnist_addition",
         {"min_sum_acc": 0.0}, lambda metrics: bool(metrics.get("final")), mnist_addition_results.summary),
)}


def task_of(recipe: str) -> Task:
    """The task whose recipes name `recipe`."""
    return next(task for task in TASKS.values() if recipe in task.recipes)


__all__ = ["Task", "TASKS", "task_of"]
