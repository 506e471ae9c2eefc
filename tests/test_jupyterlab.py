"""The primary notebook as people use it: JupyterLab on 127.0.0.1, opened in a real headless Chromium.

Prepares a small-parameter copy of the notebook (papermill --prepare-only), runs all cells through
JupyterLab's own Run menu, and checks what the page shows: every code cell executed, no error, the
figures rendered as images, the exploration widget answering a change of the number, and the drawing pad reading
digits drawn with the mouse. Saves screenshots (images/jupyterlab.png and images/draw.png for the README with
REFRESH_IMAGES=1). The server is shut down in every case, by its process id last.
"""
import json
import math
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request

import nbformat
import papermill
import pytest

from helpers.core.paths import NOTEBOOK

from conftest import ROOT, figure_path, free_port

pytestmark = pytest.mark.slow  # trains, executes notebooks or starts servers: not in the quick loop

CHROMIUM = "/usr/lib/chromium/chromium"  # Debian's browser; /usr/bin/chromium is a shell wrapper
SMALL = dict(epochs=1, train_size=2000, eval_size=500, log_interval=5, min_joint_acc=0.0)
FIGURES = 6  # architecture, training loss, test metrics, predictions, mistakes, exhaustive


def need_chromium():
    if os.access(CHROMIUM, os.X_OK):
        return
    message = f"Chromium is not installed at {CHROMIUM}: apt-get install -y chromium (as .ci/run does)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def api(port: int, token: str, path: str, method: str = "GET"):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                     headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.status


@pytest.fixture(scope="module")
def jupyterlab(tmp_path_factory):
    """A JupyterLab server on a free port with a fresh token and its own config folders; stopped after."""
    need_chromium()
    tmp_path = tmp_path_factory.mktemp("jupyterlab")
    port, token = free_port(), secrets.token_hex(16)
    config = tmp_path / "jupyter-config"
    settings = config / "lab" / "user-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(config), "JUPYTER_RUNTIME_DIR": str(tmp_path / "jupyter-runtime"),
           "JUPYTER_DATA_DIR": str(tmp_path / "jupyter-data")}
    log = open(tmp_path / "jupyterlab.log", "wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", "--ServerApp.ip=127.0.0.1",
         f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
         f"--ServerApp.root_dir={ROOT}", "--LabApp.expose_app_in_browser=True"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                pytest.fail(f"JupyterLab exited with {server.returncode}:\n{(tmp_path / 'jupyterlab.log').read_text()[-3000:]}")
            try:
                if api(port, token, "/api/status") == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("JupyterLab did not answer /api/status within 60 s")
            time.sleep(0.2)
        yield port, token
    finally:
        stop(server, port, token)
        log.close()


def stop(server: subprocess.Popen, port: int, token: str) -> None:
    """POST /api/shutdown (stops the kernels too), then SIGTERM and SIGKILL to the server's own process group."""
    try:
        api(port, token, "/api/shutdown", "POST")
        server.wait(timeout=15)
    except (OSError, subprocess.TimeoutExpired):
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(server.pid, sig)  # the server leads its own session: its kernels go with it
                server.wait(timeout=10)
                break
            except (ProcessLookupError, subprocess.TimeoutExpired):
                continue
    assert server.poll() is not None, "the JupyterLab server is still running"


@pytest.fixture(scope="module")
def small_notebook(tmp_path_factory):
    """A copy of the primary notebook with small parameters and no stored outputs, inside the server's root."""
    tmp_path = tmp_path_factory.mktemp("notebook")
    folder = ROOT / "runs" / f"jupyterlab-test-{secrets.token_hex(4)}"
    folder.mkdir(parents=True)
    path = folder / "notebook.ipynb"
    papermill.execute_notebook(str(NOTEBOOK), str(path), prepare_only=True, progress_bar=False, parameters={
        **SMALL, "output_dir": str(tmp_path / "run"), "image_dir": str(tmp_path / "images")})
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None  # --prepare-only keeps the stored ones
    nbformat.write(notebook, path)
    yield path
    shutil.rmtree(folder, ignore_errors=True)


# The notebook panel's state, read in the page: the prompts the user sees, and the kernel.
PANEL_STATE = """() => {
    const panel = window.jupyterapp.shell.currentWidget;
    const kernel = panel && panel.sessionContext && panel.sessionContext.session && panel.sessionContext.session.kernel;
    const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')].map(e => e.textContent.trim());
    const indicator = document.querySelector('.jp-Notebook-ExecutionIndicator');
    return {kernel: kernel ? kernel.status : null, prompts, indicator: indicator && indicator.dataset.status};
}"""


def wait_for(page, condition, timeout: float, what: str):
    """Poll the panel's state until `condition(state)` holds; fail with the last state after `timeout` s."""
    deadline, state = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        state = page.evaluate(PANEL_STATE)
        if condition(state):
            return state
        page.wait_for_timeout(250)
    pytest.fail(f"timed out waiting for {what}; last state {state}")


@pytest.fixture(scope="module")
def page(jupyterlab, small_notebook):
    """Headless Chromium with the small notebook open in JupyterLab, after Run All from the Run menu."""
    from playwright.sync_api import sync_playwright

    port, token = jupyterlab
    url = f"http://127.0.0.1:{port}/lab/tree/{small_notebook.relative_to(ROOT).as_posix()}?token={token}"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[
            "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--no-first-run"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(url)
            page.wait_for_function("() => window.jupyterapp !== undefined", timeout=60_000)
            page.evaluate("async () => { await window.jupyterapp.started; await window.jupyterapp.restored; }")
            wait_for(page, lambda s: s["kernel"] == "idle" and s["prompts"], 60, "the notebook and an idle kernel")
            page.locator(".lm-MenuBar-item", has_text=re.compile(r"^Run$")).click()
            page.locator(".lm-Menu-item[data-command='runmenu:run-all']").click()
            wait_for(page, lambda s: any(p != "[ ]:" for p in s["prompts"]), 30, "Run All to start")
            page.run_all_state = wait_for(page, lambda s: s["kernel"] == "idle" and s["indicator"] == "idle"
                                          and not any("*" in p for p in s["prompts"]), 240, "Run All to finish")
            yield page
        finally:
            browser.close()


def test_run_all_in_jupyterlab_in_chromium(page):
    cells = page.evaluate("() => window.jupyterapp.shell.currentWidget.content.model.toJSON().cells")
    code = [c for c in cells if c["cell_type"] == "code"]
    errors = [o for c in code for o in c["outputs"] if o["output_type"] == "error"]
    assert not errors, f"error output in the page: {errors[0]['ename']}: {errors[0]['evalue']}"
    assert [c["execution_count"] for c in code] == list(range(1, len(code) + 1))
    assert page.run_all_state["prompts"] == [f"[{n}]:" for n in range(1, len(code) + 1)]
    # the training cell logged each epoch once, in the original design's format
    logged = "".join("".join(o.get("text", "")) for c in code if "fit(config, data)" in "".join(c["source"])
                     for o in c["outputs"])
    assert len(re.findall(r"^Test set: Avg\. loss: [\d.]+, Accuracy: \d+/500 \(\d+%\)$", logged, re.M)) == SMALL["epochs"]
    images = page.evaluate("""() => [...document.querySelectorAll('.jp-RenderedImage img')]
                                  .map(img => img.complete && img.naturalWidth > 0)""")
    assert len(images) >= FIGURES and all(images), f"rendered figures: {images}"


def test_the_exploration_panel_follows_the_number(page, tmp_path):
    answer = page.locator(".explore-answer")
    answer.scroll_into_view_if_needed()
    before = answer.text_content()
    assert re.search(r"true (\d+) \+ 7 = (\d+)", before), before
    widget_image = page.locator(".explore-picture")
    image_before = widget_image.get_attribute("src")
    page.locator(".explore-number button", has_text=re.compile(r"^3$")).click()
    page.wait_for_function("el => /\\+ 3 = /.test(el.textContent)", arg=answer.element_handle(), timeout=30_000)
    after = answer.text_content()
    digit = int(re.search(r"true (\d+) \+", after).group(1))
    assert f"true {digit} + 3 = {digit + 3}" in after and f"+ 7 = {digit + 7}" in before
    assert re.search(r"predicted digit .+, sum .+: (right|wrong)", after)
    page.wait_for_function("([el, old]) => el.getAttribute('src') !== old",
                           arg=[widget_image.element_handle(), image_before], timeout=30_000)
    page.wait_for_timeout(300)
    page.screenshot(path=str(figure_path(tmp_path, "jupyterlab.png")))


# Digits as mouse strokes in the pad's own pixels (280 x 280), at different sizes and places: (digit, strokes).
STROKES = [
    (1, [[(150, 40), (146, 120), (140, 240)]]),  # tall, in the middle
    (7, [[(40, 50), (120, 48), (150, 50)], [(150, 50), (120, 110), (95, 170)]]),  # medium, top left
    (0, [[(200 + 38 * math.sin(2 * math.pi * t / 24), 190 - 55 * math.cos(2 * math.pi * t / 24)) for t in range(25)]]),
]


def test_the_drawing_pad_reads_digits_drawn_with_the_mouse(page, tmp_path):
    pad, answer = page.locator(".draw-pad"), page.locator(".draw-answer")
    pad.scroll_into_view_if_needed()
    assert "Draw a digit on the pad: the shipped robust model adds 7 to it." in answer.text_content()
    for digit, strokes in STROKES:
        box = pad.bounding_box()  # map the pad's pixels through its box on the page: never assume 1:1

        def at(x, y):
            return box["x"] + x * box["width"] / 280, box["y"] + y * box["height"] / 280

        for stroke in strokes:
            page.mouse.move(*at(*stroke[0]))
            page.mouse.down()
            for point in stroke[1:]:
                page.mouse.move(*at(*point), steps=4)
            page.mouse.up()
        expected = f"digit {digit}, sum {digit + 7} ({digit} + 7 = {digit + 7})"
        page.wait_for_function("([el, text]) => el.textContent.includes(text)", arg=[answer.element_handle(), expected],
                               timeout=30_000)
        assert "does not know" not in answer.text_content()
        if digit == 7:
            page.wait_for_timeout(300)
            pad.locator("xpath=ancestor::div[contains(@class, 'jp-OutputArea-output')]").screenshot(
                path=str(figure_path(tmp_path, "draw.png")))
        page.locator(".draw-clear").click()
        page.wait_for_function("el => el.textContent.includes('Draw a digit on the pad')", arg=answer.element_handle(),
                               timeout=30_000)
