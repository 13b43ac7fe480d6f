"""Tiled inference: translate images of any size with the memory of one batch of tiles.

:class:`TiledTranslator` wraps a :class:`~ppix2pix.translator.Translator`. An image above the pixel budget (or larger
than one tile when the tile size is given) is cut into overlapping square tiles whose sides are multiples of the
generator's size multiple; the tiles go through the network one batch at a time and each is added to a preallocated
float32 output with a smooth weight, so that only one batch of tiles is ever in the network whatever the image size.

* **Where tiles lie.** The tiles cover the image reflect-padded (centred) to the size multiple, as an untiled run
  pads it; they are spread evenly, overlapping by at least ``overlap`` pixels, and start on multiples of
  ``gcd(multiple, tile - overlap)``, so a network whose multiple divides ``tile - overlap`` (ResNets: 4) sees every
  tile on the untiled run's sampling grid: far from tile borders its output is the untiled one.
* **Blending.** Each tile's weight ramps up and down as a raised cosine (``sin^2``) across its overlaps with its
  neighbours and is 1 elsewhere; weights are divided by their sum (two ramps already sum to 1), so no border shows
  as a step. ``window="hard"`` switches tiles at the middle of each overlap instead (no blending; for comparison).
* **Norm statistics.** BatchNorm in the paper's test mode, and InstanceNorm in any mode, normalize with the
  statistics of their input, so each tile would get its own brightness and contrast, far from what the untiled
  image gets where the image is not alike everywhere. With ``statistics="image"`` (the default) a first pass runs
  every tile and pools, per norm layer, the statistics of its inputs over the whole image; the second pass
  normalizes every tile with them (:mod:`ppix2pix.networks.norm_statistics`), as the untiled image is normalized
  with its own. It doubles the work of a tiled image, not its memory. ``statistics="tile"`` lets each tile use its
  own (also what an exported model does, whose graph cannot be hooked). Networks that normalize with stored
  statistics only (BatchNorm in eval mode) need neither. Seams and differences to untiled runs are measured in
  ``benchmarks/README.md``.
"""
import contextlib
import math

import numpy as np

from .choices import DEFAULT_MAX_PIXELS, DEFAULT_TILE, DEFAULT_TILE_OVERLAP, TILE_STATISTICS
from .errors import TilingError
from .networks.norm_statistics import fixed_statistics, normalizes_with_input_statistics, recorded_statistics
from .translator import padded_size

WINDOWS = ("cosine", "hard")


def _ramp(length, overlap, window):
    """Weights of the first ``length`` pixels of a tile that overlaps its neighbour by ``overlap`` pixels there."""
    position = (np.arange(length, dtype=np.float64) + 0.5) / max(overlap, 1)
    if window == "hard":
        ramp = (position >= 0.5).astype(np.float64)
    else:
        ramp = np.sin(np.minimum(position, 1.0) * (np.pi / 2)) ** 2
    return np.where(np.arange(length) < overlap, ramp, 1.0)


class AxisTiles:
    """The tiles along one axis of ``length`` pixels: starts in the padded image, tile length, normalized weights."""

    def __init__(self, length, tile, overlap, multiple, window="cosine"):
        self.length, self.padded = length, padded_size(length, multiple)
        self.offset = (self.padded - length) // 2  # where the image starts in the padded one (as pad_batch pads)
        self.tile = min(tile, self.padded)
        span = self.padded - self.tile
        step = tile - overlap
        alignment = math.gcd(multiple, step)
        count = -(-span // step) + 1
        units = span // alignment
        self.starts = [alignment * round(i * units / max(count - 1, 1)) for i in range(count)]
        self.weights = self._weights(window)

    def _weights(self, window):
        windows = []
        for i, start in enumerate(self.starts):
            before = self.starts[i - 1] + self.tile - start if i else 0
            after = start + self.tile - self.starts[i + 1] if i + 1 < len(self.starts) else 0
            windows.append(_ramp(self.tile, before, window) * _ramp(self.tile, after, window)[::-1])
        total = np.zeros(self.padded)
        for start, weights in zip(self.starts, windows):
            total[start:start + self.tile] += weights
        return [(weights / total[start:start + self.tile]).astype(np.float32)
                for start, weights in zip(self.starts, windows)]

    def crop(self, index):
        """(first, last, pad before, pad after): the image pixels tile ``index`` covers (last excluded) and the
        padding around them in the tile."""
        start = self.starts[index] - self.offset
        first, last = max(start, 0), min(start + self.tile, self.length)
        return first, last, first - start, start + self.tile - last

    def seams(self):
        """Image positions where the hard window switches tiles (pixel ``p - 1`` from one tile, ``p`` the next)."""
        positions = []
        for before, start in zip(self.starts, self.starts[1:]):
            overlap = before + self.tile - start
            positions.append(start + math.ceil(overlap / 2 - 0.5) - self.offset)
        return [p for p in positions if 0 < p < self.length]


class TileGrid:
    """The tiles of an image of ``height`` x ``width``: rows x columns of :class:`AxisTiles`."""

    def __init__(self, height, width, tile, overlap, multiple, window="cosine"):
        self.rows = AxisTiles(height, tile, overlap, multiple, window)
        self.columns = AxisTiles(width, tile, overlap, multiple, window)

    def __len__(self):
        return len(self.rows.starts) * len(self.columns.starts)

    def tiles(self):
        return [(row, column) for row in range(len(self.rows.starts)) for column in range(len(self.columns.starts))]

    def crop(self, image, tile):
        """The H x W x C pixels of ``image`` that ``tile`` = (row, column) reads, reflect-padded where it leaves the
        image (the untiled run's padding)."""
        top, bottom, pad_top, pad_bottom = self.rows.crop(tile[0])
        left, right, pad_left, pad_right = self.columns.crop(tile[1])
        piece = image[top:bottom, left:right]
        if pad_top or pad_bottom or pad_left or pad_right:
            piece = np.pad(piece, ((pad_top, pad_bottom), (pad_left, pad_right), (0, 0)), mode="reflect")
        return piece

    def add(self, output, tile, result):
        """Add the H x W x C tile ``result`` to ``output`` with the tile's blending weights."""
        top, bottom, inner_top, _ = self.rows.crop(tile[0])
        left, right, inner_left, _ = self.columns.crop(tile[1])
        rows = slice(inner_top, inner_top + bottom - top)
        columns = slice(inner_left, inner_left + right - left)
        weights = np.outer(self.rows.weights[tile[0]][rows], self.columns.weights[tile[1]][columns])
        output[top:bottom, left:right] += result[rows, columns] * weights[:, :, None]


class TiledTranslator:
    """A :class:`~ppix2pix.translator.Translator` that tiles large images (see the module's description).

    ``tile``: tile side (a multiple of the generator's size multiple); None tiles only images above ``max_pixels``
    pixels, with :data:`DEFAULT_TILE`-pixel tiles (rounded up to the multiple); 0 never tiles. ``max_pixels`` 0 turns
    the automatic tiling off. ``batch_size`` tiles go through the network together.
    """

    def __init__(self, translator, tile=None, overlap=DEFAULT_TILE_OVERLAP, max_pixels=DEFAULT_MAX_PIXELS,
                 statistics="image", window="cosine", batch_size=1):
        self.translator, self.multiple = translator, translator.multiple
        check_tiling(tile, overlap, max_pixels, self.multiple)
        if statistics not in TILE_STATISTICS or window not in WINDOWS or batch_size < 1:
            raise ValueError(f"bad statistics {statistics!r}, window {window!r} or batch size {batch_size}")
        self.explicit = tile is not None
        self.tile = tile if self.explicit else padded_size(DEFAULT_TILE, self.multiple)
        self.overlap, self.max_pixels, self.window = overlap, max_pixels, window
        self.statistics, self.batch_size = statistics, batch_size
        self.net = getattr(translator.run_batch, "net", None)  # None for an exported model

    def __getattr__(self, name):
        """Everything else (``cfg``, ``multiple``, ``color_space``, ``test_mode``, ...) is the translator's."""
        return getattr(self.__dict__["translator"], name)

    def normalization(self):
        """What tiles are normalized with: 'stored' (no norm layer reads its input's statistics in this test mode),
        'image' (statistics pooled over the whole image) or 'tile' (each tile its own)."""
        if self.net is None:  # an exported model: its graph says nothing we can hook
            instance = self.translator.cfg["model"]["generator"].get("norm_type") == "instance"
            return "tile" if self.translator.test_mode == "paper" or instance else "stored"
        if not normalizes_with_input_statistics(self.net, self.translator.test_mode):
            return "stored"
        return self.statistics

    def applies(self, height, width):
        """Whether an image of this size is tiled."""
        if not self.tile:
            return False
        larger = padded_size(height, self.multiple) > self.tile or padded_size(width, self.multiple) > self.tile
        return larger and (self.explicit or (self.max_pixels and height * width > self.max_pixels))

    def translate(self, images):
        """:meth:`Translator.translate`, tiling each image that :meth:`applies` to."""
        if not self.applies(*images[0].shape[:2]):
            return self.translator.translate(images)
        return [self.translate_tiled(image) for image in images]

    def grid(self, height, width):
        return TileGrid(height, width, self.tile, self.overlap, self.multiple, self.window)

    def translate_tiled(self, image):
        """Translate one H x W x C image tile by tile; returns the H x W x C float32 image in [0, 1]."""
        grid, output = self.grid(*image.shape[:2]), None
        with self.shared_statistics(image, grid):
            for batch, outputs, inputs in self.run_tiles(image, grid):
                for tile, result, network_input in zip(batch, outputs, inputs):
                    result = self.translator.finish(result, network_input)
                    if output is None:
                        output = np.zeros(image.shape[:2] + result.shape[2:], np.float32)
                    grid.add(output, tile, result)
        return output

    def run_tiles(self, image, grid):
        """Yield (tiles, network outputs, network inputs) one batch of tiles at a time."""
        tiles = grid.tiles()
        for first in range(0, len(tiles), self.batch_size):
            batch = tiles[first:first + self.batch_size]
            inputs = np.stack([self.translator.prepare(grid.crop(image, tile)) for tile in batch])
            yield batch, self.translator.run_batch(inputs), inputs

    def shared_statistics(self, image, grid):
        """The context in which every tile is normalized alike. With ``statistics`` 'image', when the network has
        layers that normalize with their input's statistics, a first pass over all tiles pools the statistics each
        such layer sees over the whole image, and the tiles are then normalized with them."""
        if self.normalization() != "image":
            return contextlib.nullcontext()
        with recorded_statistics(self.net) as recorder:
            for _ in self.run_tiles(image, grid):
                pass
        return fixed_statistics(self.net, recorder.statistics())


def check_tiling(tile, overlap, max_pixels, multiple):
    """Raise :class:`TilingError` for tiling options that cannot work, naming the option and a fix."""
    if tile is not None and tile < 0:
        raise TilingError(f"tile size must be 0 (no tiling) or a positive multiple of {multiple}, got {tile}")
    if tile and tile % multiple:
        raise TilingError(f"tile size {tile} is not a multiple of {multiple}, the generator's size multiple; try "
                          f"{padded_size(tile, multiple)}")
    if overlap < 0:
        raise TilingError(f"tile overlap must be 0 or more pixels, got {overlap}")
    if overlap >= (tile or padded_size(DEFAULT_TILE, multiple)):
        raise TilingError(f"tile overlap {overlap} must be smaller than the tile size "
                          f"{tile or padded_size(DEFAULT_TILE, multiple)}")
    if max_pixels is not None and max_pixels < 0:
        raise TilingError(f"max pixels must be 0 (no automatic tiling) or more, got {max_pixels}")
