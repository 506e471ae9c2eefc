"""The front door: every relative link and image in the Markdown files resolves, the README stays short, and nothing
committed names one machine's folders."""
import json
import re
import subprocess

import pytest

from conftest import ROOT

MARKDOWN = sorted(p for p in ROOT.rglob("*.md") if not any(part in {"runs", "data", ".git", ".pytest_cache"}
                                                            for part in p.relative_to(ROOT).parts))
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def anchors(path):
    """The anchors GitHub makes of a Markdown file's headings."""
    return {re.sub(r"[^\w\- ]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
            for line in path.read_text().splitlines() if line.startswith("#")}


@pytest.mark.parametrize("path", MARKDOWN, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_and_images_resolve(path):
    broken = []
    for target in LINK.findall(path.read_text()):
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
