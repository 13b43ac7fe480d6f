"""Names the command lines offer as choices, importable without Paddle so that a tool parses its arguments (and
answers --help) before Paddle loads. The modules that implement them import them from here."""

TEST_MODES = ("paper", "eval")  # networks.inference_mode: dropout and batch statistics at test time
SIZE_MODES = ("pad", "resize")  # translator: how any image size reaches the generator's size multiple
NORM_TYPES = ("batch", "instance", "none")  # networks.norm
FRAMEWORKS = ("pytorch", "paddlegan")  # interop.layouts: foreign weight layouts tools/convert.py reads
EXPORT_INFO_FILE = "ppix2pix_export.yaml"  # exporter: what tools/export.py writes beside the model
CHECK_DATA_MODES = ("fast", "full", "off")  # preflight: how tools/train.py checks the images before training
# video: the files tools/infer.py reads as videos, and the codec (fourcc) it writes for each output extension
VIDEO_CODECS = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".mkv": "MJPG", ".webm": "VP80"}
VIDEO_EXTENSIONS = (*VIDEO_CODECS, ".mpg", ".mpeg", ".wmv", ".flv")
TILE_STATISTICS = ("image", "tile")  # tiling: whose norm statistics every tile of a large image is normalized with
# tiling: tile side, overlap, and the pixel count above which images are tiled by default (ppix2pix.tiling explains)
DEFAULT_TILE, DEFAULT_TILE_OVERLAP, DEFAULT_MAX_PIXELS = 512, 64, 2048 * 2048
