"""The front door: every relative link and image in the Markdown files and the notebooks' text resolves, the README
stays short, its quick start does what it says in a fresh clone, and nothing committed names one machine's folders."""
import ast
import json
import os
import re
import shlex
import subprocess
import sys
from importlib.metadata import version

import nbformat
import pytest
from packaging.version import Version

from conftest import ROOT

MARKDOWN = sorted(p for p in ROOT.rglob("*.md") if not any(part in {"runs", "data", ".git", ".pytest_cache"}
                                                            for part in p.relative_to(ROOT).parts))
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def anchors(path):
    """The anchors GitHub makes of a Markdown file's headings."""
    return {re.sub(r"[^\w\- ]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
            for line in path.read_text().splitlines() if line.startswith("#")}


NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def text_of(path) -> str:
    """A Markdown file's text, or a notebook's Markdown cells."""
    if path.suffix == ".ipynb":
        return "\n".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "markdown")
    return path.read_text()


@pytest.mark.parametrize("path", MARKDOWN + NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_and_images_resolve(path):
    broken = []
    for target in LINK.findall(text_of(path)):
        if re.match(r"[a-z]+:", target):  # http:, https:, mailto:
            continue
        file, _, anchor = target.partition("#")
        resolved = (path.parent / file).resolve() if file else path
        if not resolved.exists():
            broken.append(target)
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            broken.append(target)
    assert not broken, f"{path.relative_to(ROOT)}: {broken}"


def test_the_readme_is_a_five_minute_read():
    assert len((ROOT / "README.md").read_bytes()) <= 7 * 1024  # a project page: the long story lives in docs/
    assert len(MARKDOWN) > 5  # the README, docs/, results/ summaries were all found


def quick_start() -> list[tuple[str, str]]:
    """The README's quick start: (command, its comment) per line of its bash block."""
    block = re.search(r"## Quick start\s+```bash\n(.*?)```", (ROOT / "README.md").read_text(), re.S).group(1)
    return [tuple(part.strip() for part in line.partition("#")[::2]) for line in block.splitlines() if line.strip()]


@pytest.mark.slow
def test_the_readme_quick_start_does_what_it_says_in_a_fresh_clone(tmp_path):
    """Each line of the README's quick start, in a fresh clone of the committed repository: the install line names
    requirements.txt, whose every pin is what this environment runs (CI installs it the same way) and which installs
    the helpers package; the notebook line runs papermill there (one epoch on 2,000 images: the full run is nbval's)
    and writes the executed notebook and the run where the README says; predict.py answers what the comment says;
    the test lines are what .ci/run and pytest.ini define. A command this test does not know fails it."""
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    env = {**os.environ, "PYTHONPATH": str(clone)}  # the clone's helpers, not the installed checkout's
    commands = quick_start()
    assert [shlex.split(c)[0] for c, _ in commands] == ["pip", "papermill", "python", "pytest"]
    for command, comment in commands:
        words = shlex.split(command)
        if words[:3] == ["pip", "install", "-r"]:
            pins = [line.split("#")[0].strip() for line in (clone / words[3]).read_text().splitlines()]
            pins = [pin for pin in pins if pin]
            assert "-e ." in pins
            installed = {name: Version(version(name)).public for name, _ in (p.split("==") for p in pins if "==" in p)}
            assert installed == dict(p.split("==") for p in pins if "==" in p)
        elif words[0] == "papermill":
            notebook, executed = clone / words[1], clone / words[2]
            assert notebook.is_file() and not executed.exists()
            subprocess.run([sys.executable, "-m", *words, "-p", "epochs", "1", "-p", "train_size", "2000", "-p", "eval_size", "500",
                            "-p", "min_joint_acc", "0.0",
                            "--no-progress-bar"], cwd=clone, env=env, check=True, capture_output=True)
            cells = json.loads(executed.read_text())["cells"]
            assert not [o for c in cells for o in c.get("outputs", []) if o["output_type"] == "error"]
            assert (clone / "runs" / "latest" / "model.pt").is_file()
            assert (clone / "runs" / "latest" / "metrics.json").is_file()
        elif words[:2] == ["python", "predict.py"]:
            answer = subprocess.run([sys.executable, *words[1:]], cwd=clone, env=env, check=True, capture_output=True,
                                    text=True).stdout
            assert answer.startswith(comment), (answer, comment)
        elif words[0] == "pytest":
            assert command in (clone / ".ci" / "run").read_text().splitlines()
            assert "not slow" not in comment or "slow:" in (clone / "pytest.ini").read_text()
        else:
            pytest.fail(f"the README's quick start runs {command!r}, which this test does not know")


ABSOLUTE_PATH = re.compile(r"""(?:^|[\s'"(=])(/(?:[\w.-]+/)+[\w.-]*)""")  # /home/me/repo/runs/latest, '/tmp/x/'


def test_what_the_repository_commits_names_no_machine_path():
    """Results, documents and notebook outputs record paths relative to the repository: an absolute path names one
    machine's folders (notebooks: their outputs only; the code may spell a path)."""
    files = subprocess.run(["git", "ls-files", "results", "docs", "notebooks", "README.md"], cwd=ROOT, check=True,
                           capture_output=True, text=True).stdout.split()
    found = {}
    for name in files:
        path = ROOT / name
        if path.suffix == ".ipynb":
            text = "".join("".join(o.get("text", "")) + "".join(o.get("data", {}).get("text/plain", ""))
                           for cell in json.loads(path.read_text())["cells"] for o in cell.get("outputs", []))
        elif path.suffix in {".json", ".md"}:
            text = path.read_text()
        else:
            continue
        if paths := ABSOLUTE_PATH.findall(text):
            found[name] = paths[:3]
    assert len(files) > 100 and not found


DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def documented_commands() -> list[tuple[str, str]]:
    """Every command the README and docs/ give a reader: each `python <script>.py ...` and `papermill ...` in a bash
    block (continued lines joined, comments cut) or in a code span (wrapped lines joined); none with a placeholder."""
    found = []
    for path in DOCUMENTS:
        text = path.read_text()
        blocks = re.findall(r"```bash\n(.*?)```", text, re.S)
        lines = [line.split(" #")[0].strip() for block in blocks for line in re.sub(r"\\\n\s*", " ", block).splitlines()]
        spans = [" ".join(span.split()) for span in re.findall(r"`([^`]+)`", re.sub(r"```.*?```", "", text, flags=re.S))]
        for command in [*lines, *spans]:
            if re.match(r"(python \S+\.py|papermill )", command) and not re.search(r"<|\.\.\.|…", command):
                found.append((path.relative_to(ROOT).as_posix(), command))
    return sorted(set(found))


class Parsed(Exception):
    """Raised by the stand-in `parse_args` once a script's command line has parsed."""


def test_the_documents_give_commands():
    assert len(documented_commands()) > 10 and {page for page, _ in documented_commands()} >= {"README.md"}


@pytest.mark.parametrize("page, command", documented_commands(), ids=lambda value: value)
def test_every_documented_command_names_what_exists(page, command, monkeypatch):
    """Each command in the README and docs/ names a script, recipes, studies, flags and notebook parameters that exist:
    sweep.py's command line is planned as it would run (`sweep.plan`: recipes, studies, parameters, the runs already
    there); every other script's is parsed by its own parser (then stopped); a papermill command's notebook exists
    and each parameter it sets is one of its task's settings (or of its parameters cell); predict.py runs for real (it is quick)."""
    import argparse
    import importlib.util

    from helpers.studies.tasks import TASKS
    words = shlex.split(command)
    monkeypatch.chdir(ROOT)
    if words[0] == "papermill":
        notebook = ROOT / words[1]
        task = next((task for task in TASKS.values() if task.notebook == notebook), None)
        if task is not None:
            names = {f.name for f in __import__("dataclasses").fields(task.settings)}
        else:  # a notebook of no task (experiments): the names its parameters cell assigns
            cell = next(c for c in nbformat.read(notebook, as_version=4).cells if "parameters" in c.metadata.get("tags", []))
            names = {node.targets[0].id for node in ast.parse(cell.source).body if isinstance(node, ast.Assign)}
        given = [words[i + 1] for i, word in enumerate(words) if word == "-p"]
        given += [words[i + 1].split(":")[0] for i, word in enumerate(words) if word == "-y"]
        assert set(given) <= names, set(given) - names
        return
    script = ROOT / words[1]
    assert script.is_file(), f"{page}: {words[1]} does not exist"
    if words[1] == "predict.py":
        subprocess.run([sys.executable, *words[1:]], cwd=ROOT, check=True, capture_output=True)
        return
    spec = importlib.util.spec_from_file_location(script.stem, script)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, script.stem, module)
    spec.loader.exec_module(module)
    if words[1] == "sweep.py":
        module.plan(words[2:])  # exits with the parser's message on an unknown recipe, study or parameter
        return
    parse = argparse.ArgumentParser.parse_args

    def parse_then_stop(self, args=None, namespace=None):
        parse(self, args, namespace)
        raise Parsed
    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", parse_then_stop)
    monkeypatch.setattr(sys, "argv", words[1:])
    with pytest.raises(Parsed):
        module.main(words[2:]) if "argv" in module.main.__code__.co_varnames else module.main()
