"""Screenshot of tools/demo.py for the README: draw a small facade with the label brushes, translate, save a PNG.

    python docs/make_demo_screenshot.py --checkpoint output/facades/netG.pdparams docs/demo.png

Needs Playwright (pip install -e ".[test]") and the system's chromium. The server runs in this process on a free
port; the drawing is made with mouse strokes, as a user would. The PNG is reduced to 256 colours to stay small.
"""
import argparse
import io
import os
import shutil
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from ppix2pix.cli.demo import build_parser as demo_parser  # noqa: E402
from ppix2pix.cli.demo_run import start_server  # noqa: E402

# (facades label, rectangle x0, y0, x1, y1 on the 256 x 256 canvas), painted in order over the facade colour.
FACADE = [("label_2", 0, 0, 255, 28)] + [("label_10", 0, 44, 255, 52)] + [
    ("label_4", x, y, x + 26, y + 36) for y in (70, 126) for x in (22, 76, 150, 204)] + [
    ("label_7", x, 70, x + 26, 82) for x in (22, 76, 150, 204)] + [
    ("label_12", 0, 190, 255, 255), ("label_5", 104, 196, 150, 255)]
FACADE_COLOR = "label_3"


def paint_rectangle(page, brush, x0, y0, x1, y1, size=8):
    """Fill a rectangle (canvas pixels) with zigzag strokes of one brush."""
    page.click(f"#brushes button[title^='{brush} ']")
    box = page.locator("#canvas").bounding_box()
    scale = box["width"] / 256

    def at(x, y):
        return box["x"] + (x + 0.5) * scale, box["y"] + (y + 0.5) * scale
    inset = size // 2
    left, right = x0 + inset, x1 - inset
    rows = list(range(y0 + inset, y1 - inset, size - 2)) + [y1 - inset]
    page.mouse.move(*at(left, rows[0]))
    page.mouse.down()
    x = left
    for y in rows:  # down one row on this side, then across
        page.mouse.move(*at(x, y), steps=2)
        x = right if x == left else left
        page.mouse.move(*at(x, y), steps=6)
    page.mouse.up()


def draw_and_shoot(url, output, chromium):
    from PIL import Image
    from playwright.sync_api import sync_playwright
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=chromium)
        page = browser.new_page(viewport={"width": 900, "height": 600})
        page.goto(url)
        page.wait_for_function("document.querySelector('#output').dataset.serial === '1'", timeout=120000)
        page.uncheck("#auto")
        page.click(f"#brushes button[title^='{FACADE_COLOR} ']")
        page.click("#fill")
        page.evaluate("document.querySelector('#size').value = 8")
        for brush, *rectangle in FACADE:
            paint_rectangle(page, brush, *rectangle)
        page.click("#translate")
        page.wait_for_function("document.querySelector('#output').dataset.serial === '2'", timeout=120000)
        page.check("#auto")  # as the page opens (unticked above so that the strokes queue no translations)
        shot = page.screenshot(full_page=True)
        browser.close()
    image = Image.open(io.BytesIO(shot)).convert("RGB").quantize(256, method=Image.Quantize.FASTOCTREE)
    image.save(output, optimize=True)
    print(f"wrote {output}: {image.width}x{image.height}, {os.path.getsize(output) // 1024} KB")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True, help="a facades labels -> photo checkpoint (BtoA)")
    parser.add_argument("output", help="PNG file to write")
    args = parser.parse_args(argv)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        parser.error("no chromium executable found")
    server = start_server(demo_parser().parse_args(["--checkpoint", args.checkpoint, "--port", "0",
                                                    "--palette", "facades", "--canvas-size", "256"]))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        draw_and_shoot(f"http://127.0.0.1:{server.server_address[1]}/", args.output, chromium)
    finally:
        server.shutdown()
        server.server_close()


if __name__ == "__main__":
    main()
