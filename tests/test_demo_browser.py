"""tools/demo.py in a real headless browser: the system's Chromium, driven by Playwright (no browser download).

Skipped when Playwright (pip install -e ".[test]") or a chromium executable is missing; .ci/run installs both.
"""
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT

from ppix2pix.data.image_io import write_image
from ppix2pix.metrics import FACADES_COLORS

sync_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium executable (apt-get install chromium)")

FACADES_LABELS = ["model.direction=BtoA", "dataset.train.dataroot=data/facades/train", "dataset.test.crop_size=64"]


@pytest.fixture
def demo_url(tiny_checkpoint, tmp_path):
    """Start tools/demo.py as a user would (any free port) and yield the address it prints."""
    log = open(tmp_path / "demo_stderr.log", "w+", encoding="utf-8")
    process = subprocess.Popen([sys.executable, os.path.join(ROOT, "tools", "demo.py"), "--checkpoint",
                                tiny_checkpoint(*FACADES_LABELS), "--port", "0",
                                "--live-seconds", "1000"], stdout=subprocess.PIPE,
                               stderr=log, text=True, cwd=tmp_path, env={**os.environ, "PYTHONPATH": ROOT})
    try:
        for line in process.stdout:
            found = re.search(r"serving the demo on (http://127\.0\.0\.1:\d+/)", line)
            if found:
                yield found.group(1)
                break
        else:
            log.seek(0)
            pytest.fail(f"the demo did not start: {log.read()}")
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


@pytest.fixture
def page():
    with sync_api.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM)
        yield browser.new_page(viewport={"width": 900, "height": 640})
        browser.close()


def wait_for_output(page, serial):
    """Wait until the page has shown its ``serial``-th output; returns the output's data URL."""
    page.wait_for_function(f"document.querySelector('#output').dataset.serial === '{serial}'")
    return page.get_attribute("#output", "src")


def canvas_colors(page):
    """The distinct colours on the canvas, as '#rrggbb'."""
    return set(page.evaluate("""() => {
        const c = document.querySelector('#canvas'), d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        const seen = new Set();
        for (let i = 0; i < d.length; i += 4) seen.add('#' + [d[i], d[i + 1], d[i + 2]].map(
            (v) => v.toString(16).padStart(2, '0')).join(''));
        return [...seen];
    }"""))


def stroke(page, points):
    """Drag the mouse through ``points`` given in canvas pixels."""
    box = page.locator("#canvas").bounding_box()
    width, height = page.evaluate("[document.querySelector('#canvas').width, document.querySelector('#canvas').height]")
    at = [(box["x"] + (x + 0.5) * box["width"] / width, box["y"] + (y + 0.5) * box["height"] / height)
          for x, y in points]
    page.mouse.move(*at[0])
    page.mouse.down()
    for point in at[1:]:
        page.mouse.move(*point, steps=4)
    page.mouse.up()


def hex_color(rgb):
    return "#%02x%02x%02x" % rgb


def test_the_page_translates_drawings_and_uploads(demo_url, page, tmp_path):
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(demo_url)
    blank = wait_for_output(page, 1)  # the blank canvas is translated as the page opens
    shown = page.inner_text("#model")
    assert "direction BtoA" in shown and "size multiple 64" in shown and "test mode paper" in shown
    background, brush = hex_color(FACADES_COLORS[0]), hex_color(FACADES_COLORS[8])
    assert canvas_colors(page) == {background}

    page.click("#brushes button[title^='label_9 ']")
    stroke(page, [(8, 8), (40, 30), (56, 50)])
    drawn = wait_for_output(page, 2)  # the stroke updates the output by itself
    assert drawn != blank
    assert canvas_colors(page) == {background, brush}  # crisp strokes: no blended colours in a label map

    page.click("#undo")
    assert canvas_colors(page) == {background}
    page.click("#translate")
    assert wait_for_output(page, 3) == blank  # same canvas, same output (the paper-mode dropout is seeded)

    upload = tmp_path / "labels.png"
    write_image(str(upload), np.random.default_rng(0).integers(0, 256, (48, 80, 3)).astype(np.uint8))
    page.set_input_files("#file", str(upload))
    output = wait_for_output(page, 4)
    assert page.evaluate("[document.querySelector('#output').naturalWidth, "
                         "document.querySelector('#output').naturalHeight]") == [80, 48]
    assert page.evaluate("[document.querySelector('#canvas').width, document.querySelector('#canvas').height]") == [
        80, 48]  # the upload became the canvas
    assert page.get_attribute("#download", "href") == output and page.is_visible("#download")
    page.screenshot(path=str(tmp_path / "demo.png"))

    (tmp_path / "notes.txt").write_text("not an image")
    page.set_input_files("#file", str(tmp_path / "notes.txt"))
    page.wait_for_function("document.querySelector('#error').textContent !== ''")
    assert "notes.txt is not an image" in page.inner_text("#error")
    assert page.get_attribute("#output", "data-serial") == "4"  # the last output stays
    assert (tmp_path / "demo.png").stat().st_size > 0
    assert [url for url in requested if not url.startswith((demo_url, "data:"))] == []  # nothing from elsewhere
