"""The package's shape, as helpers/__init__.py draws it: a ladder of folders (the core at the bottom, knowing no
task; the two tasks on it, never importing each other; the studies above the task they study; the notebooks' figures
and widgets above what they draw), each module short enough to read top to bottom, no star imports."""
import ast
from pathlib import Path

import pytest

import helpers

from conftest import ROOT

PACKAGE = ROOT / "helpers"
RUNGS = {"core": 0, "digit_and_sum": 1, "mnist_addition": 1, "studies": 2, "figures": 3}
TASKS = ("digit_and_sum", "mnist_addition")
SHAPE = {"settings.py", "recipes.py", "train.py", "results.py"}  # what every task's folder holds
MAX_LINES = 300


def modules():
    return sorted(p for p in PACKAGE.rglob("*.py") if p.parent != PACKAGE)


def folder_of(path: Path) -> str:
    return path.relative_to(PACKAGE).parts[0]


def imported_folders(path: Path, source: str | None = None) -> set[str]:
    """The folders of helpers/ that the module at `path` (its text, or `source`) imports, absolute (helpers.core...)
    or relative (from ..core ...)."""
    found = set()
    for node in ast.walk(ast.parse(source if source is not None else path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module and node.module.split(".")[0] == "helpers":
                parts = node.module.split(".")[1:]
            elif node.level > 0:
                here = list(path.relative_to(PACKAGE).parent.parts)
                base = here[:len(here) - (node.level - 1)] if node.level > 1 else here
                parts = [*base, *(node.module.split(".") if node.module else [])]
            else:
                continue
            found.add(parts[0] if parts else node.names[0].name)
        elif isinstance(node, ast.Import):
            found |= {alias.name.split(".")[1] for alias in node.names
                      if alias.name.startswith("helpers.") and len(alias.name.split(".")) > 1}
    return found


def test_every_module_lives_in_a_folder_of_the_ladder():
    assert {folder_of(p) for p in modules()} == set(RUNGS)
    assert sorted(p.name for p in PACKAGE.glob("*.py")) == ["__init__.py"]


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_run_down_the_ladder_only(path):
    """A module imports its own folder and the rungs below it: never a rung above, never the other task."""
    here = folder_of(path)
    for folder in imported_folders(path) - {here}:
        assert RUNGS[folder] < RUNGS[here], f"{path.relative_to(ROOT)} imports helpers.{folder}"


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_a_module_reads_top_to_bottom(path):
    lines = path.read_text().splitlines()
    assert len(lines) <= MAX_LINES, f"{len(lines)} lines"
    stars = [node for node in ast.walk(ast.parse(path.read_text()))
             if isinstance(node, ast.ImportFrom) and any(alias.name == "*" for alias in node.names)]
    assert not stars, "a star import"


def test_the_ladder_test_sees_a_wrong_import():
    """The checker itself: an import from the other task and one from a rung above are found, relative or absolute;
    the module's own folder and the core are what a task may import."""
    where = PACKAGE / "digit_and_sum" / "train.py"
    source = ("from ..mnist_addition import train\nimport helpers.figures.explore\nfrom . import model\n"
              "from ..core.device import autocast\n")
    assert imported_folders(where, source) == {"mnist_addition", "figures", "digit_and_sum", "core"}


def test_import_helpers_names_its_folders_and_nothing_else_and_the_docstring_draws_them():
    assert {name for name in dir(helpers) if not name.startswith("_")} == set(RUNGS)
    for folder in RUNGS:
        assert f"{folder}/" in helpers.__doc__


def test_both_tasks_have_one_shape():
    """Each task's folder holds settings.py, recipes.py, train.py and results.py: its settings on the core's (a
    subclass of `core.settings.Settings`), its recipes in one table `RECIPES`, its `fit` and `train_epoch`."""
    import importlib

    from helpers.core.settings import Settings
    for task in TASKS:
        assert SHAPE <= {p.name for p in (PACKAGE / task).glob("*.py")}, task
        train = importlib.import_module(f"helpers.{task}.train")
        assert callable(train.fit) and callable(train.train_epoch)
        settings = importlib.import_module(f"helpers.{task}.settings")
        assert any(isinstance(v, type) and issubclass(v, Settings) and v is not Settings for v in vars(settings).values())
        assert isinstance(importlib.import_module(f"helpers.{task}.recipes").RECIPES, dict)


def test_every_named_recipe_has_one_name():
    """No two names of a task's `RECIPES` resolve to the same settings: an alias would split one recipe's runs and
    citations over two names."""
    from helpers.studies.tasks import TASKS as TABLE
    for task in TABLE.values():
        names = {}
        for name, overrides in task.recipes.items():
            names.setdefault(tuple(sorted(task.settings(**overrides).to_dict().items(), key=str)), []).append(name)
        assert [group for group in names.values() if len(group) > 1] == []
    assert not set(TABLE["digit_and_sum"].recipes) & set(TABLE["mnist_addition"].recipes)  # a name means one task


SCRIPTS = sorted([*ROOT.glob("*.py"), *(ROOT / "tools").glob("*.py")])


def imported_scripts(path: Path, source: str | None = None) -> set[str]:
    """The repository's scripts (its top-level and tools/ .py files) that the file at `path` imports."""
    names = {p.stem for p in SCRIPTS}
    found = set()
    for node in ast.walk(ast.parse(source if source is not None else path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
    return found & names


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_script_imports_another(path):
    """A script's reusable part lives in the package; a script imports helpers, never another script."""
    assert imported_scripts(path) == set()


def test_the_script_check_sees_a_script_imported():
    assert imported_scripts(ROOT / "tools" / "gpu_check.py", "import benchmark\nfrom sweep import main\n") == \
        {"benchmark", "sweep"}
    assert {"benchmark.py", "sweep.py", "predict.py"} <= {p.name for p in SCRIPTS}
