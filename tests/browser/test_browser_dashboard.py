"""The dashboard in a real browser: JupyterLab on loopback, driven by Playwright with Debian's
chromium, runs a notebook that starts the word count on the embedded broker with a steady
input and shows ``%stream dashboard``. Two screenshots seconds apart; the state table, the
windowed plot (its caption; Bokeh itself draws on a canvas) and the lag widget must have
rendered and changed between them, compared by DOM text.

Screenshots go to ``$STREAMNB_ARTIFACTS/browser`` (or a temp folder); the test prints where.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
if not Path(CHROMIUM).exists():
    pytest.skip(f"Debian's chromium is not installed at {CHROMIUM} (apt-get install chromium)",
                allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api",
                               reason="the playwright package is not installed")
pytest.importorskip("jupyterlab", reason="jupyterlab is not installed")
nbformat = pytest.importorskip("nbformat")

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
SECONDS_APART = 4.0

SETUP = """\
import os, random, threading, time
os.environ["BOKEH_RESOURCES"] = "inline"  # offline: BokehJS from the package, not a CDN
%load_ext streamnb
from streamnb import Materialized, TimeWindows
from streamnb.runtime.clients import TopicProducer"""

BUILD = """\
%%stream wc
words = builder.stream("lines").flat_map_values(lambda line: line.lower().split())
by_word = words.group_by(lambda _key, word: word)
by_word.count(materialized=Materialized.as_("counts-store")).to_stream().to("counts")
by_word.windowed_by(TimeWindows.of_size_and_grace(2_000, 60_000)).count(
    materialized=Materialized.as_("counts-per-2s"))"""

START = """\
streams = %stream start wc --state.dir={state_dir}
stop_feed = threading.Event()

def feed():  # a steady input: 50 lines of 5 words every 100 ms
    producer = TopicProducer(streams)
    rng = random.Random(7)
    vocab = ["kafka", "streams", "python", "jupyter", "window", "table", "lag", "state"]
    while not stop_feed.is_set():
        producer.send("lines", [" ".join(rng.choices(vocab, k=5)) for _ in range(50)])
        time.sleep(0.1)
    producer.flush()

threading.Thread(target=feed, daemon=True, name="feed").start()"""

SHOW = "%stream dashboard wc"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _write_notebook(path: Path, state_dir: Path) -> None:
    cells = [SETUP, BUILD, START.format(state_dir=state_dir), SHOW]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                 "language": "python"}
    nbformat.write(nb, path)


def _artifacts() -> Path:
    root = os.environ.get("STREAMNB_ARTIFACTS")
    base = Path(root) if root else Path(tempfile.mkdtemp(prefix="streamnb-artifacts-"))
    folder = base / "browser"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _wait_http(url: str, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"jupyter lab did not answer at {url} within {timeout} s")


@pytest.fixture()
def lab(tmp_path):
    """A JupyterLab server on loopback rooted in a temp dir, with its own config dir."""
    port = _free_port()
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(tmp_path / "jupyter-config"),
               BOKEH_RESOURCES="inline", STREAMNB_EMBEDDED_BROKER="noida")
    root = tmp_path / "root"
    root.mkdir()
    jupyter = [sys.executable, "-m", "jupyter"]
    subprocess.run([*jupyter, "labextension", "disable", "--level=user",
                    "@jupyterlab/apputils-extension:announcements"], env=env, check=True,
                   capture_output=True, timeout=60)
    log = open(tmp_path / "lab.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [*jupyter, "lab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
         "--ServerApp.token=", "--ServerApp.password=", "--allow-root",
         "--expose-app-in-browser", f"--ServerApp.root_dir={root}"],
        env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_http(f"http://127.0.0.1:{port}/api", proc, 60)
        yield f"http://127.0.0.1:{port}", root, tmp_path
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()


def _texts(page) -> dict[str, str]:
    """What each widget shows, by DOM text."""
    def text(selector: str) -> str:
        return page.locator(selector).first.inner_text(timeout=5_000)

    store_table = page.locator(".widget-vbox", has_text="store counts-store").last
    return {
        "status": text(".streamnb-status"),
        "table": store_table.locator("table").first.inner_text(timeout=5_000),
        "plot": text(".streamnb-windowed-caption"),
        "lag": page.locator(".widget-html", has_text="consumer lag").first.inner_text(
            timeout=5_000),
    }


def _dashboard(page):
    """The output holding the dashboard (its inner HTML is re-rendered on every update)."""
    return page.locator(".jp-OutputArea-output", has=page.locator(".streamnb-status")).first


def _mark(what: str, started: float) -> None:
    print(f"  {time.monotonic() - started:5.1f} s  {what}", file=sys.__stdout__)


def _processed(status: str) -> int:
    match = re.search(r"processed\s+([\d,]+)", status)
    assert match, status
    return int(match.group(1).replace(",", ""))


def test_dashboard_renders_and_updates_in_jupyterlab(lab):
    base, root, tmp = lab
    _write_notebook(root / "dashboard.ipynb", tmp / "state")
    shots = _artifacts()
    started = time.monotonic()
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1500})
            console: list[str] = []  # kept with the screenshots, for when a widget fails
            page.on("console", lambda msg: console.append(f"{msg.type}: {msg.text}"))
            page.on("pageerror", lambda exc: console.append(f"pageerror: {exc}"))
            page.goto(f"{base}/lab/tree/dashboard.ipynb")
            page.locator(".jp-StatusBar-TextItem", has_text=re.compile(
                r"ipykernel\) \| Idle")).first.wait_for(timeout=45_000)
            _mark("kernel idle", started)
            page.evaluate("() => { window.jupyterapp.commands.execute("
                          "'notebook:run-all-cells'); return 1; }")
            # Rendered: the app runs, words are counted, a window closed, lag is known.
            page.locator(".streamnb-status", has_text="RUNNING").first.wait_for(
                timeout=45_000)
            _mark("app running", started)
            page.locator(".streamnb-windowed-caption", has_text="windows, latest").first \
                .wait_for(timeout=30_000)
            page.locator("table.streamnb-lag", has_text="lines").first.wait_for(
                timeout=30_000)
            page.locator(".widget-vbox", has_text="store counts-store").last.locator(
                "td", has_text="kafka").first.wait_for(timeout=30_000)
            canvases = page.locator(".jp-OutputArea-output canvas")
            canvases.first.wait_for(timeout=30_000)  # Bokeh drew the plot
            drawn = canvases.count()
            _mark("dashboard rendered", started)
            _dashboard(page).scroll_into_view_if_needed()

            first = _texts(page)
            page.screenshot(path=str(shots / "dashboard-1.png"))
            time.sleep(SECONDS_APART)
            _dashboard(page).scroll_into_view_if_needed()
            second = _texts(page)
            page.screenshot(path=str(shots / "dashboard-2.png"))
            # The plot lies below the status line: a picture of it too, for people.
            page.locator(".widget-html", has_text="windows, latest").first \
                .scroll_into_view_if_needed()
            page.screenshot(path=str(shots / "dashboard-2-plot.png"))

            # Stop the app and the kernel cleanly (its embedded broker stops at exit).
            page.evaluate("() => window.jupyterapp.serviceManager.sessions.shutdownAll()")
        finally:
            browser.close()
            (shots / "console.log").write_text("\n".join(console) + "\n")
    print(f"\nbrowser screenshots in {shots} ({time.monotonic() - started:.1f} s)",
          file=sys.__stdout__)

    for name in ("table", "plot", "lag"):
        assert first[name] != second[name], f"the {name} did not change: {first[name]!r}"
    assert _processed(second["status"]) > _processed(first["status"])
    assert "kafka" in first["table"] and "counts-per-2s" in first["plot"]
    assert re.search(r"lines\s+0", first["lag"]), first["lag"]
    assert drawn >= 1
    for shot in ("dashboard-1.png", "dashboard-2.png"):
        assert (shots / shot).stat().st_size > 10_000

