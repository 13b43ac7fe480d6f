"""Tiled inference (ppix2pix.tiling): tile layout and blending, exactness with a local network, seams, shared norm
statistics, automatic tiling and option errors."""
import types

import numpy as np
import paddle
import pytest

from ppix2pix.build import generator as build_generator
from ppix2pix.config import load_config
from ppix2pix.errors import TilingError
from ppix2pix.metrics import seam_ratio
from ppix2pix.networks.norm_statistics import fixed_statistics, recorded_statistics
from ppix2pix.tiling import AxisTiles, TiledTranslator, check_tiling
from ppix2pix.translator import Translator
from synthetic import smooth_image

TINY_UNET = ["model.generator.num_downs=5", "model.generator.ngf=8"]  # size multiple 32, no dropout


def _translator(overrides, test_mode, seed=0):
    paddle.seed(seed)
    cfg = load_config(None, overrides)
    return Translator.from_network(build_generator(cfg["model"]["generator"]), cfg, test_mode=test_mode, seed=0)


class Spy:
    """A run_batch that records the shapes of the batches it is given."""

    def __init__(self, run_batch):
        self.run_batch, self.shapes = run_batch, []
        self.net, self.test_mode = getattr(run_batch, "net", None), run_batch.test_mode

    def __call__(self, batch):
        self.shapes.append(batch.shape)
        return self.run_batch(batch)


def _spied(translator):
    translator.run_batch = Spy(translator.run_batch)
    return translator.run_batch


@pytest.mark.parametrize("length, tile, overlap, multiple", [
    (1000, 256, 64, 32), (257, 128, 32, 4), (300, 512, 64, 256), (2000, 512, 64, 256), (700, 96, 80, 4),
    (513, 256, 0, 256)])
@pytest.mark.parametrize("window", ["cosine", "hard"])
def test_tiles_cover_the_padded_image_and_their_weights_sum_to_one(length, tile, overlap, multiple, window):
    axis = AxisTiles(length, tile, overlap, multiple, window)
    starts = np.array(axis.starts)
    assert axis.padded % multiple == 0 and axis.padded - multiple < max(length, 8) <= axis.padded
    assert axis.tile == min(tile, axis.padded) and axis.tile % multiple == 0
    assert starts[0] == 0 and starts[-1] + axis.tile == axis.padded
    assert np.all(starts % np.gcd(multiple, tile - overlap) == 0)
    assert np.all(axis.tile - np.diff(starts) >= overlap)  # neighbours overlap by at least `overlap`
    total = np.zeros(axis.padded)
    for start, weights in zip(axis.starts, axis.weights):
        assert weights.min() >= 0 and weights.max() <= 1 + 1e-6
        total[start:start + axis.tile] += weights
    np.testing.assert_allclose(total, 1.0, atol=1e-6)
    overlaps = axis.tile - np.diff(starts)
    if window == "cosine" and len(overlaps) and 0 < overlaps.min() and overlaps.max() <= axis.tile / 2:
        slope = np.pi / (2 * overlaps.min())  # a raised-cosine ramp rises at most this much per pixel
        assert max(np.abs(np.diff(weights)).max() for weights in axis.weights) <= slope + 1e-6


def _local_translator():
    """A ResNet generator without normalization: each output pixel depends only on a small window of the input."""
    return _translator(["model.generator.name=ResnetGenerator", "model.generator.n_blocks=1",
                        "model.generator.ngf=4", "model.generator.norm_type=none",
                        "model.generator.init_type=kaiming"], "eval")


def _receptive_radius(translator):
    """How far (pixels) a change of one input pixel reaches in the output."""
    base = np.zeros((1, 3, 96, 96), np.float32)
    poked = base.copy()
    poked[0, :, 48, 48] = 1.0
    rows, columns = np.nonzero(np.abs(translator.run_batch(poked) - translator.run_batch(base)).max(axis=(0, 1)))
    return int(max(np.abs(rows - 48).max(), np.abs(columns - 48).max()))


def _far_from_edges(axis, margin):
    """Image positions farther than ``margin`` from every tile edge inside the image."""
    far = np.ones(axis.length, bool)
    for start in axis.starts:
        for edge in (start - axis.offset, start - axis.offset + axis.tile):
            if 0 < edge < axis.length:
                far[max(edge - margin - 1, 0):edge + margin + 1] = False
    return far


def _blended(axis):
    """Image positions where two tiles both weigh more than 0.1."""
    count = np.zeros(axis.padded)
    for start, weights in zip(axis.starts, axis.weights):
        count[start:start + axis.tile] += weights > 0.1
    return (count >= 2)[axis.offset:axis.offset + axis.length]


def test_far_from_tile_borders_a_local_network_gives_the_untiled_output():
    translator = _local_translator()
    radius = _receptive_radius(translator)
    assert 8 < radius < 32
    image = np.random.default_rng(0).integers(0, 256, (302, 403, 3)).astype(np.uint8)
    tiler = TiledTranslator(translator, tile=160, overlap=2 * radius + 24)
    grid = tiler.grid(*image.shape[:2])
    assert len(grid) > 4
    far = _far_from_edges(grid.rows, radius)[:, None] & _far_from_edges(grid.columns, radius)[None, :]
    blended = _blended(grid.rows)[:, None] | _blended(grid.columns)[None, :]
    assert (far & blended).sum() > 1000  # the comparison covers pixels that two tiles make together
    difference = np.abs(tiler.translate([image])[0] - translator.translate([image])[0]).max(axis=2)
    assert difference[far].max() < 1e-5
    assert difference.max() > 1e-3  # near tile edges the tiles do differ: the comparison above means something


@pytest.fixture(scope="module")
def trained_unet():
    """A small U-Net trained briefly to reproduce smooth images: its outputs are smooth, as a trained generator's
    are, so tile disagreements show as seams (a random network's outputs are rough everywhere)."""
    paddle.seed(0)
    cfg = load_config(None, TINY_UNET)
    net = build_generator(cfg["model"]["generator"])
    optimizer = paddle.optimizer.Adam(learning_rate=2e-3, parameters=net.parameters())
    for step in range(60):
        images = [smooth_image(64, 64, seed=1000 + 4 * step + i).transpose(2, 0, 1) for i in range(4)]
        batch = paddle.to_tensor(np.stack(images).astype(np.float32) / 127.5 - 1.0)
        (net(batch) - batch).abs().mean().backward()
        optimizer.step()
        optimizer.clear_grad()
    return Translator.from_network(net, cfg, test_mode="paper", seed=0)


def _tiled(translator, image, **options):
    """(tiled output, seam ratio at the tile switches, mean absolute difference to the untiled output)."""
    tiler = TiledTranslator(translator, tile=64, overlap=16, **options)
    grid = tiler.grid(*image.shape[:2])
    output = tiler.translate([image])[0]
    difference = float(np.abs(output - translator.translate([image])[0]).mean())
    return output, seam_ratio(output, grid.rows.seams(), grid.columns.seams()), difference


def test_blending_hides_the_seams_that_hard_tiles_show(trained_unet):
    image = smooth_image(160, 224, seed=7)
    grid = TiledTranslator(trained_unet, tile=64, overlap=16).grid(160, 224)
    untiled = seam_ratio(trained_unet.translate([image])[0], grid.rows.seams(), grid.columns.seams())
    _, hard, _ = _tiled(trained_unet, image, window="hard", statistics="tile")
    _, blended, _ = _tiled(trained_unet, image, window="cosine", statistics="tile")
    assert hard > 1.3 and blended < untiled + 0.1


def test_whole_image_statistics_bring_the_tiles_close_to_the_untiled_image(trained_unet):
    image = smooth_image(160, 224, seed=7)
    image[64:, :128] = 40  # not alike everywhere: per-tile statistics differ from the whole image's
    _, own_seams, own = _tiled(trained_unet, image, window="hard", statistics="tile")
    _, shared_seams, shared = _tiled(trained_unet, image, window="hard", statistics="image")
    assert shared < own / 2 and shared_seams < own_seams


def test_statistics_recorded_over_several_inputs_pool_like_one_batch():
    layer = paddle.nn.BatchNorm2D(4)
    first, second = paddle.randn([2, 4, 8, 8]) * 3 + 1, paddle.randn([1, 4, 6, 10]) - 2
    with recorded_statistics(layer) as recorder:
        layer(first)
        layer(second)
    (name, (mean, variance)), = recorder.statistics().items()
    values = np.concatenate([x.numpy().transpose(1, 0, 2, 3).reshape(4, -1) for x in (first, second)], axis=1)
    np.testing.assert_allclose(mean.numpy(), values.mean(axis=1), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(variance.numpy(), values.var(axis=1), rtol=1e-5)
    with fixed_statistics(layer, recorder.statistics()):
        fixed = layer(second).numpy()
    expected = (second.numpy() - values.mean(axis=1)[:, None, None]) / np.sqrt(values.var(axis=1)[:, None, None]
                                                                              + 1e-5)
    np.testing.assert_allclose(fixed, expected * layer.weight.numpy()[:, None, None] + layer.bias.numpy()[:, None,
                                                                                                           None],
                               rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("norm, mode", [("batch", "paper"), ("instance", "eval")])
def test_an_image_normalized_with_its_own_recorded_statistics_is_unchanged(norm, mode):
    translator = _translator(TINY_UNET + [f"model.generator.norm_type={norm}"], mode)
    batch, other = (translator.prepare(smooth_image(64, 96, seed))[None] for seed in (0, 1))
    net = translator.run_batch.net
    with recorded_statistics(net) as recorder:
        expected = translator.run_batch(batch)
    assert recorder.statistics()  # the norm layers that read their input's statistics were recorded
    with fixed_statistics(net, recorder.statistics()):
        np.testing.assert_allclose(translator.run_batch(batch), expected, atol=1e-5)
        other_fixed = translator.run_batch(other)
    assert np.abs(other_fixed - translator.run_batch(other)).max() > 1e-2  # another image gets them, not its own


@pytest.mark.parametrize("norm, mode, normalization, passes", [
    ("batch", "eval", "stored", 1), ("batch", "paper", "image", 2), ("instance", "eval", "image", 2)])
def test_a_statistics_pass_runs_only_where_norm_layers_read_their_input(norm, mode, normalization, passes):
    translator = _translator(TINY_UNET + [f"model.generator.norm_type={norm}"], mode)
    spy = _spied(translator)
    tiler = TiledTranslator(translator, tile=64, overlap=16)
    assert tiler.normalization() == normalization
    tiler.translate([smooth_image(100, 130)])
    assert len(spy.shapes) == passes * len(tiler.grid(100, 130))


def test_automatic_tiling_kicks_in_above_the_pixel_budget_with_one_batch_of_tiles_at_a_time():
    translator = _translator(TINY_UNET + ["model.generator.ngf=4"], "eval")
    spy = _spied(translator)
    image = smooth_image(520, 600)  # 312,000 pixels
    TiledTranslator(translator, max_pixels=320_000).translate([image])
    assert spy.shapes == [(1, 3, 544, 608)]  # under the budget: one untiled batch
    spy.shapes.clear()
    tiler = TiledTranslator(translator, max_pixels=300_000, batch_size=3)
    output = tiler.translate([image])[0]
    assert output.shape == (520, 600, 3) and output.dtype == np.float32
    assert len(tiler.grid(520, 600)) == 4 and [shape[0] for shape in spy.shapes] == [3, 1]
    assert all(shape[1:] == (3, 512, 512) for shape in spy.shapes)
    spy.shapes.clear()
    TiledTranslator(translator, tile=0, max_pixels=1).translate([image])
    assert spy.shapes == [(1, 3, 544, 608)]  # --tile 0: never tiled


def test_a_given_tile_size_tiles_every_image_larger_than_one_tile():
    tiler = TiledTranslator(_translator(TINY_UNET, "eval"), tile=64, overlap=16)
    assert tiler.applies(65, 40) and tiler.applies(40, 70) and not tiler.applies(64, 64)
    assert not tiler.applies(50, 60)  # padded to 64 x 64: one tile


def test_the_default_tile_is_a_multiple_of_the_generator_multiple():
    translator = types.SimpleNamespace(multiple=1024, run_batch=None)  # a U-Net with 10 levels
    assert TiledTranslator(translator).tile == 1024
    translator.multiple = 4
    assert TiledTranslator(translator).tile == 512


@pytest.mark.parametrize("tile, overlap, max_pixels, message", [
    (500, 64, 0, "tile size 500 is not a multiple of 256, the generator's size multiple; try 512"),
    (-256, 64, 0, "tile size must be 0 (no tiling) or a positive multiple of 256, got -256"),
    (256, 256, 0, "tile overlap 256 must be smaller than the tile size 256"),
    (None, 600, 0, "tile overlap 600 must be smaller than the tile size 512"),
    (512, -1, 0, "tile overlap must be 0 or more pixels, got -1"),
    (512, 64, -5, "max pixels must be 0 (no automatic tiling) or more, got -5")])
def test_tiling_options_that_cannot_work_are_refused(tile, overlap, max_pixels, message):
    with pytest.raises(TilingError) as error:
        check_tiling(tile, overlap, max_pixels, 256)
    assert str(error.value) == message
