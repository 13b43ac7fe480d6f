"""tools/demo.py without a browser: the canvas each checkpoint gets, the HTTP answers (good and bad requests, the
server living on after each), and the command line's one-line errors. tests/test_demo_browser.py drives the page."""
import base64
import contextlib
import http.client
import json
import os
import re
import socket
import struct
import threading
import zlib

import numpy as np
import pytest
from conftest import ROOT, make_tiny_checkpoint

from ppix2pix.cli.demo import build_parser, main
from ppix2pix.cli.demo_run import PAGE, default_palette, drawing_tools, start_server
from ppix2pix.config import load_config
from ppix2pix.data.image_io import PNG_SIGNATURE, decode_image, encode_png
from ppix2pix.errors import CliError
from ppix2pix.metrics import FACADES_COLORS

FACADES_LABELS = ["model.direction=BtoA", "dataset.train.dataroot=data/facades/train", "dataset.test.crop_size=64"]


@contextlib.contextmanager
def running(argv):
    """A demo server on a free port, serving from a thread; yields (server, connect) where ``connect()`` opens an
    HTTP connection to it."""
    server = start_server(build_parser().parse_args(argv + ["--port", "0"]))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server, lambda: http.client.HTTPConnection(*server.server_address[:2], timeout=60)
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """A running demo of a tiny facades-like labels -> photo checkpoint, with a 100-pixel --max-side."""
    path = make_tiny_checkpoint(tmp_path_factory.mktemp("demo") / "g.pdparams", FACADES_LABELS)
    with running(["--checkpoint", path, "--max-side", "100", "--max-upload-mb", "0.5"]) as (server, connect):
        yield server, connect


def request(connect, method, path, body=None, headers=None):
    """(status, JSON answer) of one request; only ``headers`` are sent, plus Content-Length when there is a body."""
    connection = connect()
    connection.putrequest(method, path)
    for name, value in dict(headers or {}, **({"Content-Length": str(len(body))} if body else {})).items():
        connection.putheader(name, value)
    connection.endheaders(body)
    response = connection.getresponse()
    answer = response.status, json.loads(response.read()) if "json" in response.getheader("Content-Type") else None
    connection.close()
    return answer


def picture(data_url):
    assert data_url.startswith("data:image/png;base64,")
    return decode_image(base64.b64decode(data_url.split(",", 1)[1]), "answer")


def noise(height, width, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3)).astype(np.uint8)


def test_info_describes_the_model_and_its_canvas(demo):
    status, info = request(demo[1], "GET", "/api/info")
    assert status == 200
    assert (info["direction"], info["multiple"], info["test_mode"], info["canvas"]) == ("BtoA", 64, "paper", 64)
    assert info["auto_seconds"] == 1.0  # --live-seconds' default
    tools = info["tools"]
    assert (tools["kind"], tools["palette"], len(tools["brushes"])) == ("labels", "facades", 12)
    assert tools["brushes"][0][1] == tools["background"] == "#%02x%02x%02x" % FACADES_COLORS[0]


def test_an_upload_is_translated_at_its_own_size_and_sent_back_as_the_input(demo):
    image = noise(48, 80)
    status, answer = request(demo[1], "POST", "/api/translate?ab=auto&name=a.png", encode_png(image))
    assert status == 200, answer
    assert (answer["width"], answer["height"], answer["note"]) == (80, 48, "")
    assert np.array_equal(picture(answer["input"]), image)
    assert picture(answer["output"]).shape == (48, 80, 3)


def test_the_same_input_gives_the_same_output_so_a_change_shows_a_changed_input(demo):
    outputs = [request(demo[1], "POST", "/api/translate", encode_png(noise(64, 64, seed)))[1]["output"]
               for seed in (0, 0, 1)]
    assert outputs[0] == outputs[1] != outputs[2]


def test_an_ab_pair_gives_the_half_the_model_reads_unless_told_otherwise(demo):
    pair = noise(40, 80)
    status, answer = request(demo[1], "POST", "/api/translate?ab=auto", encode_png(pair))
    assert status == 200 and "right half (B, direction BtoA)" in answer["note"]
    assert np.array_equal(picture(answer["input"]), pair[:, 40:])
    status, answer = request(demo[1], "POST", "/api/translate?ab=no", encode_png(pair))
    assert (answer["width"], answer["height"], answer["note"]) == (80, 40, "")


def png_header_only(width, height):
    """A PNG claiming width x height whose pixel data is a few bytes: only a header check can tell its size."""
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    return (PNG_SIGNATURE + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b""))


BAD_REQUESTS = {
    "not an image": ("POST", "/api/translate?name=notes.txt", b"just some text", {}, 400,
                     "notes.txt is not an image in a format ppix2pix reads"),
    "too many pixels": ("POST", "/api/translate?name=big.png", png_header_only(5000, 60), {}, 400,
                        "image big.png is 5000x60 pixels; this demo takes images up to 100 pixels a side"),
    "a decompression bomb": ("POST", "/api/translate", png_header_only(100000, 100000), {}, 400,
                             "image upload is far too large"),
    "truncated": ("POST", "/api/translate?name=cut.png", encode_png(noise(32, 32))[:-200], {}, 400,
                  "image cut.png is corrupt"),
    "too many bytes": ("POST", "/api/translate", None, {"Content-Length": str(10 ** 9)}, 413,
                       "the upload is 953.7 MB; this demo takes up to 0.5 MB (--max-upload-mb)"),
    "no length": ("POST", "/api/translate", None, {}, 411, "needs a Content-Length"),
    "unknown page": ("GET", "/secrets", None, {}, 404, "no such page: /secrets"),
}


@pytest.mark.parametrize("case", BAD_REQUESTS, ids=list(BAD_REQUESTS))
def test_a_bad_request_gets_a_clear_error_and_the_server_lives_on(demo, case):
    method, path, body, headers, expected_status, message = BAD_REQUESTS[case]
    status, answer = request(demo[1], method, path, body, headers)
    assert (status, message in answer["error"]) == (expected_status, True), answer
    assert request(demo[1], "POST", "/api/translate", encode_png(noise(16, 16)))[0] == 200


def test_an_unexpected_failure_is_an_error_answer_not_the_end_of_the_server(demo, monkeypatch, capsys):
    def broken(images):
        raise RuntimeError("planted failure")
    monkeypatch.setattr(demo[0].app.translator, "translate", broken)
    status, answer = request(demo[1], "POST", "/api/translate", encode_png(noise(16, 16)))
    assert status == 500 and answer["error"] == "the translation failed: RuntimeError: planted failure"
    assert "planted failure" in capsys.readouterr().err  # the trace is logged
    monkeypatch.undo()
    assert request(demo[1], "POST", "/api/translate", encode_png(noise(16, 16)))[0] == 200


def test_the_page_is_served_and_names_no_address_elsewhere(demo):
    connection = demo[1]()
    connection.request("GET", "/")
    response = connection.getresponse()
    page = response.read().decode("utf-8")
    assert response.status == 200 and response.getheader("Content-Type").startswith("text/html")
    with open(PAGE, encoding="utf-8") as handle:
        assert page == handle.read()
    assert re.findall(r"https?:|//[\w.-]+\.\w", page) == []  # works offline: no CDN, font or script from outside
    assert re.findall(r"""(?:src|href)=["'](?!data:|#)""", page) == []


@pytest.mark.parametrize("overrides,expected", [
    (["model.direction=BtoA", "dataset.train.dataroot=data/facades/train"], "facades"),
    (["model.direction=AtoB", "dataset.train.dataroot=data/facades/train"], "free"),  # photo -> labels
    (["model.direction=BtoA", "dataset.train.dataroot=/data/cityscapes"], "cityscapes"),
    (["model.direction=AtoB", "dataset.train.dataroot=data/edges2shoes/train"], "edges"),
    (["model.direction=BtoA", "dataset.train.dataroot=data/edges2shoes_mini/train"], "edges"),  # halves swapped
    (["model.direction=BtoA", "dataset.train.dataroot=data/maps/train"], "free"),
])
def test_the_canvas_follows_the_checkpoints_dataset(overrides, expected):
    assert default_palette(load_config(None, overrides)) == expected


def test_palette_option_names_a_built_in_a_drawing_mode_or_a_file(tmp_path):
    cfg = load_config(None, ["dataset.train.dataroot=data/facades/train"])
    assert drawing_tools("cityscapes", cfg)["brushes"][0] == ["road", "#804080"]
    assert drawing_tools("edges", cfg) == {"palette": "edges", "kind": "edges", "brushes": [["pen", "#000000"]],
                                           "background": "#ffffff"}
    palette = tmp_path / "mine.yaml"
    palette.write_text("classes:\n  sky: [0, 0, 255]\n  grass: [0, 255, 0]\n")
    assert drawing_tools(str(palette), cfg) == {"palette": "mine.yaml", "kind": "labels", "background": "#0000ff",
                                                "brushes": [["sky", "#0000ff"], ["grass", "#00ff00"]]}
    with pytest.raises(CliError, match=r"--palette facade: cannot read palette file facade: .*built in: facades, "
                                       r"cityscapes, edges, free"):
        drawing_tools("facade", cfg)


def _one_line_error(capsys, argv):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err
    return err


def test_a_taken_port_is_one_line_and_comes_before_the_model_loads(capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        err = _one_line_error(capsys, ["--checkpoint", "missing.pdparams", "--port", str(port)])
    assert err == (f"error: port {port} on 127.0.0.1 is already in use (another demo or server?); choose another "
                   f"with --port, or --port 0 for any free one")


def test_checkpoint_and_option_errors_are_one_line(tmp_path, capsys, tiny_checkpoint):
    err = _one_line_error(capsys, ["--checkpoint", str(tmp_path / "missing.pdparams"), "--port", "0"])
    assert "missing.pdparams' does not exist" in err
    (tmp_path / "junk.pdparams").write_bytes(b"not a checkpoint")
    assert "junk.pdparams" in _one_line_error(capsys, ["--checkpoint", str(tmp_path / "junk.pdparams"), "--port", "0"])
    checkpoint = tiny_checkpoint(*FACADES_LABELS)
    assert "--palette nope" in _one_line_error(capsys, ["--checkpoint", checkpoint, "--port", "0", "--palette", "nope"])
    assert "--canvas-size must be 8..2048" in _one_line_error(capsys, ["--checkpoint", checkpoint, "--port", "0",
                                                                       "--canvas-size", "4096"])
    assert "--live-seconds at least 0" in _one_line_error(capsys, ["--checkpoint", checkpoint, "--port", "0",
                                                                   "--live-seconds", "-1"])
    assert "cannot listen on no-such-host.invalid:0" in _one_line_error(
        capsys, ["--checkpoint", checkpoint, "--host", "no-such-host.invalid", "--port", "0"])


def test_the_page_ships_as_package_data():
    with open(os.path.join(ROOT, "setup.py"), encoding="utf-8") as handle:
        setup = handle.read()
    assert re.search(r'package_data=\{"ppix2pix\.cli": \[[^\]]*"%s"' % os.path.basename(PAGE), setup)
