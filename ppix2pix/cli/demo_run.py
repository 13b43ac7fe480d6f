"""The work of tools/demo.py (ppix2pix/cli/demo.py parses its arguments first): load the generator, serve the page.

Python's standard library serves one HTML file (``demo_page.html`` beside this module: no other asset, nothing from
the internet) and two requests: ``GET /api/info`` describes the model and the canvas, ``POST /api/translate``
takes image bytes and answers JSON with the image the network read and its output as PNG data URLs. Requests run in
threads; translations one at a time. A bad request gets an error answer, never the server's end.
"""
import base64
import errno
import http.server
import json
import os
import threading
import time
import traceback
from urllib.parse import parse_qs, urlparse

from ..data.dataset import split_ab
from ..data.image_io import decode_image, encode_png, header_size, to_uint8, to_unit_float
from ..device import select_device
from ..direction import input_and_target, input_side
from ..errors import CliError, DataError, ImageError
from ..metrics import BUILT_IN_PALETTES, named_palette
from ..translator import MIN_SIDE, Translator
from .common import checkpoint_generator
from .infer_run import dataset_name, default_title

PAGE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "demo_page.html")
UNNAMED_UPLOAD = "upload"
MAX_NAME = 100  # characters of an upload's file name kept for messages
MEGABYTE = 1 << 20
DRAWING_MODES = ("edges", "free")  # --palette values besides the built-in palettes and palette files


def _hex(color):
    return "#" + "".join(f"{int(value):02x}" for value in color)


def default_palette(cfg):
    """The canvas for a checkpoint: edges2* datasets draw edges; facades and Cityscapes (labels on the right, B)
    their palette when the model reads the labels (BtoA); anything else a free brush."""
    name = (dataset_name(cfg) or "").lower()
    if name.startswith("edges2"):
        return "edges"
    reads_labels = input_side(cfg["model"]["direction"]) == "B"
    return next((palette for palette in BUILT_IN_PALETTES if reads_labels and palette in name), "free")


def drawing_tools(spec, cfg):
    """What the canvas paints with: ``{'palette', 'kind': 'labels'|'edges'|'free', 'brushes': [[name, '#rrggbb']],
    'background'}``; ``spec`` is --palette (None: :func:`default_palette`)."""
    spec = spec or default_palette(cfg)
    if spec in DRAWING_MODES:
        brushes = [["pen", "#000000"]] if spec == "edges" else []
        return {"palette": spec, "kind": spec, "brushes": brushes, "background": "#ffffff"}
    try:
        palette = named_palette(spec)
    except ValueError as error:
        choices = ", ".join([*BUILT_IN_PALETTES, *DRAWING_MODES])
        raise CliError(f"--palette {spec}: {error} (built in: {choices})") from None
    brushes = [[name, _hex(color)] for name, color in zip(palette.names, palette.colors)]
    name = spec if spec in BUILT_IN_PALETTES else os.path.basename(spec)
    return {"palette": name, "kind": "labels", "brushes": brushes, "background": brushes[0][1]}


def data_url(image):
    """An H x W x C image as a PNG data URL."""
    return "data:image/png;base64," + base64.b64encode(encode_png(image)).decode("ascii")


class RequestError(Exception):
    """A request the server refuses, with its HTTP status."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


class DemoApp:
    """The model behind the page: describes itself (``info``) and translates uploaded image bytes one at a time."""

    def __init__(self, translator, info, max_side, max_bytes):
        self.translator, self.info, self.max_side, self.max_bytes = translator, info, max_side, max_bytes
        self.lock = threading.Lock()

    def read_upload(self, data, name, split):
        """Image bytes -> (image, note): too large a header is refused before decoding; with ``split``, an AB pair
        (twice as wide as tall) gives the half the generator reads. ``name`` names the image in errors."""
        width, height = header_size(data, name)
        if max(width, height) > self.max_side:
            raise ImageError(f"image {name} is {width}x{height} pixels; this demo takes images up to "
                             f"{self.max_side} pixels a side (--max-side)")
        image = decode_image(data, name)
        if not split or image.shape[1] != 2 * image.shape[0]:
            return image, ""
        direction = self.translator.cfg["model"]["direction"]
        side = input_side(direction)
        note = (f"AB pair: translated its {'left' if side == 'A' else 'right'} half ({side}, direction {direction}); "
                f"untick 'AB pairs' to translate the whole image")
        return input_and_target(direction, *split_ab(image, name))[0], note

    def translate(self, data, name, split):
        """Image bytes -> the answer: the network's input and output as PNG data URLs, size, seconds, note."""
        image, note = self.read_upload(data, name, split)
        with self.lock:
            start = time.perf_counter()
            output = self.translator.translate([image])[0]
            seconds = time.perf_counter() - start
        height, width = image.shape[:2]
        return {"input": data_url(to_uint8(to_unit_float(image))), "output": data_url(output), "width": width,
                "height": height, "seconds": round(seconds, 3), "note": note}


class DemoHandler(http.server.BaseHTTPRequestHandler):
    """GET / (the page), GET /api/info, POST /api/translate?ab=auto|no&name=FILE (image bytes in the body)."""

    server_version = "ppix2pix-demo"
    timeout = 60  # a client that stops sending mid-request frees its thread

    def do_GET(self):  # noqa: N802  (http.server's naming)
        path = urlparse(self.path).path
        if path == "/":
            self._send(200, self.server.page, "text/html; charset=utf-8")
        elif path == "/api/info":
            self._send_json(200, self.server.app.info)
        else:
            self._send_json(404, {"error": f"no such page: {path}"})

    def do_POST(self):  # noqa: N802
        url = urlparse(self.path)
        if url.path != "/api/translate":
            return self._send_json(404, {"error": f"no such page: {url.path}"})
        try:
            data = self._body()
            query = parse_qs(url.query)
            name = os.path.basename(query.get("name", [UNNAMED_UPLOAD])[0])[:MAX_NAME] or UNNAMED_UPLOAD
            split = query.get("ab", ["auto"])[0] != "no"
            self._send_json(200, self.server.app.translate(data, name, split))
        except RequestError as error:
            self._send_json(error.status, {"error": str(error)})
        except (ImageError, DataError) as error:
            self._send_json(400, {"error": str(error)})
        except Exception as error:  # noqa: BLE001  (the server outlives any one request; the trace goes to stderr)
            traceback.print_exc()
            self._send_json(500, {"error": f"the translation failed: {type(error).__name__}: {error}"})

    def _body(self):
        """The request body, refused (unread) without a length or over the upload limit."""
        length = self.headers.get("Content-Length", "")
        if not length.isdigit():
            self.close_connection = True
            raise RequestError(411, "the request needs a Content-Length header")
        limit = self.server.app.max_bytes
        if int(length) > limit:
            self.close_connection = True
            raise RequestError(413, f"the upload is {int(length) / MEGABYTE:.1f} MB; this demo takes up to "
                                    f"{limit / MEGABYTE:g} MB (--max-upload-mb)")
        return self.rfile.read(int(length))

    def _send(self, status, body, content_type):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def _send_json(self, status, payload):
        self._send(status, json.dumps(payload).encode("utf-8"), "application/json")

    def log_request(self, code="-", size="-"):
        """Only refused and failed requests are logged."""
        if isinstance(code, int) and code >= 400:
            super().log_request(code, size)


class DemoServer(http.server.ThreadingHTTPServer):
    """The HTTP server; ``app`` (a :class:`DemoApp`) and ``page`` (the HTML bytes) are set once the model loads."""

    daemon_threads = True
    app = page = None


def bind(host, port):
    """A :class:`DemoServer` listening on host:port (port 0: any free port); a taken port is a one-line error."""
    if not 0 <= port <= 65535:
        raise CliError(f"--port must be 0..65535, got {port}")
    try:
        return DemoServer((host, port), DemoHandler)
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise CliError(f"port {port} on {host} is already in use (another demo or server?); choose another "
                           f"with --port, or --port 0 for any free one") from None
        raise CliError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None


def load_app(args):
    """The :class:`DemoApp` for the arguments: the checkpoint's translator and what the page shows of it."""
    if args.max_side < MIN_SIDE or args.max_upload_mb <= 0 or args.live_seconds < 0:
        raise CliError(f"--max-side must be at least {MIN_SIDE}, --max-upload-mb positive and --live-seconds at "
                       f"least 0")
    device = select_device(args.device or "auto")
    net, cfg = checkpoint_generator(args.checkpoint, args.config)
    tools = drawing_tools(args.palette, cfg)
    translator = Translator.from_network(net, cfg, args.size_mode, args.test_mode, args.seed)
    canvas = args.canvas_size or cfg["dataset"]["test"]["crop_size"]
    if not MIN_SIDE <= canvas <= args.max_side:
        raise CliError(f"--canvas-size must be {MIN_SIDE}..{args.max_side} (--max-side), got {canvas}")
    generator = cfg["model"]["generator"]
    info = {"title": default_title(translator, args.checkpoint), "direction": cfg["model"]["direction"],
            "multiple": translator.multiple, "test_mode": translator.test_mode, "seed": args.seed,
            "size_mode": args.size_mode, "generator": generator["name"], "input_nc": translator.input_nc,
            "output_nc": translator.output_nc, "color_space": translator.color_space, "device": device,
            "canvas": canvas, "max_side": args.max_side, "max_bytes": int(args.max_upload_mb * MEGABYTE),
            "auto_seconds": args.live_seconds, "tools": tools}
    return DemoApp(translator, info, args.max_side, info["max_bytes"])


def describe(info):
    tools = info["tools"]
    drawing = (f"the {tools['palette']} palette ({len(tools['brushes'])} brushes)" if tools["kind"] == "labels"
               else {"edges": "a black pen on white (edges)", "free": "a free colour brush"}[tools["kind"]])
    mode = info["test_mode"] + (f" (seed {info['seed']})" if info["test_mode"] == "paper" else "")
    return (f"{info['title']}: generator {info['generator']} {info['input_nc']}->{info['output_nc']} channels, "
            f"direction {info['direction']}, size multiple {info['multiple']}, test mode {mode}, size mode "
            f"{info['size_mode']}, on {info['device']}; canvas {info['canvas']}x{info['canvas']} with {drawing}")


def start_server(args):
    """A listening :class:`DemoServer` with its model loaded, not yet serving. It listens first, so that a taken
    port fails before the model loads."""
    server = bind(args.host, args.port)
    try:
        server.app = load_app(args)
        with open(PAGE, "rb") as handle:
            server.page = handle.read()
    except BaseException:
        server.server_close()
        raise
    return server


def serve(args):
    """Serve the demo until Ctrl-C."""
    server = start_server(args)
    try:
        host, port = server.server_address[:2]
        print(describe(server.app.info), flush=True)
        print(f"serving the demo on http://{host}:{port}/ (Ctrl-C stops it)", flush=True)
        server.serve_forever()
    except KeyboardInterrupt:
        print("demo stopped")
    finally:
        server.server_close()
