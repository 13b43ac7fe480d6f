"""Translator: any image size (pad / resize), channel conversion, colorization, test-time modes and batching."""
import numpy as np
import paddle
import pytest

from ppix2pix.config import load_config
from ppix2pix.data.color import rgb_to_lab
from ppix2pix.build import generator as build_generator
from ppix2pix.translator import (Translator, group_by_size, pad_batch, padded_size, resize_batch, resized_size)

UNET = ["model.generator.num_downs=5", "model.generator.ngf=4"]  # multiple 32
RESNET = ["model.generator.name=ResnetGenerator", "model.generator.ngf=4", "model.generator.n_blocks=1"]
SIZES = [(400, 600), (600, 1200), (257, 255), (5, 3)]  # (height, width): 600x400, 1200x600, 255x257, tiny


def _setup(overrides, seed=0):
    paddle.seed(seed)
    cfg = load_config(None, overrides)
    return build_generator(cfg["model"]["generator"]), cfg


def _image(height, width, channels=3, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (height, width, channels), dtype=np.uint8)


def _eager(net, batch, mode="eval"):
    net.train() if mode == "paper" else net.eval()
    with paddle.no_grad():
        return net(paddle.to_tensor(batch)).numpy()


def test_size_helpers():
    assert [padded_size(s, 32) for s in (1, 32, 33, 600)] == [32, 32, 64, 608]
    assert [resized_size(s, 32) for s in (1, 47, 48, 600)] == [32, 32, 64, 608]
    # ResNets (multiple 4) get at least 8 pixels: their quarter-size features are reflect-padded by one
    assert [padded_size(s, 4) for s in (1, 5, 9)] == [8, 8, 12]
    assert [resized_size(s, 4) for s in (1, 5, 11)] == [8, 8, 12]


def test_pad_batch_centres_the_image_and_reflects():
    batch = np.arange(2 * 9 * 5, dtype=np.float32).reshape(1, 2, 9, 5)
    padded, (top, left) = pad_batch(batch, 4)
    assert padded.shape == (1, 2, 12, 8) and (top, left) == (1, 1)
    np.testing.assert_array_equal(padded[:, :, top:top + 9, left:left + 5], batch)
    # reflection without repeating the edge: row -1 is row 1, column -1 is column 1
    np.testing.assert_array_equal(padded[:, :, 0, left:left + 5], batch[:, :, 1])
    np.testing.assert_array_equal(padded[:, :, top:top + 9, 0], batch[:, :, :, 1])


def test_pad_batch_handles_pads_larger_than_the_image():
    batch = np.array([[[[1.0, 2.0]]]], np.float32)  # 1 x 2 image, padded to 8 x 8
    padded, (top, left) = pad_batch(batch, 8)
    assert padded.shape == (1, 1, 8, 8) and (top, left) == (3, 3)
    assert set(np.unique(padded)) == {1.0, 2.0}
    np.testing.assert_array_equal(padded[0, 0, top, left:left + 2], [1.0, 2.0])


@pytest.mark.parametrize("overrides", [UNET, RESNET], ids=["unet", "resnet"])
@pytest.mark.parametrize("size_mode", ["pad", "resize"])
@pytest.mark.parametrize("height,width", SIZES)
def test_output_has_the_input_size(overrides, size_mode, height, width):
    net, cfg = _setup(overrides)
    translator = Translator.from_network(net, cfg, size_mode, test_mode="eval")
    output = translator.translate([_image(height, width)])[0]
    assert output.shape == (height, width, 3)
    assert output.dtype == np.float32 and 0.0 <= output.min() and output.max() <= 1.0


@pytest.mark.parametrize("overrides", [UNET, RESNET], ids=["unet", "resnet"])
@pytest.mark.parametrize("size_mode", ["pad", "resize"])
def test_aligned_input_runs_through_unchanged(overrides, size_mode):
    net, cfg = _setup(overrides)
    batch = np.random.default_rng(1).uniform(-1, 1, (2, 3, 64, 96)).astype(np.float32)
    translator = Translator.from_network(net, cfg, size_mode, test_mode="eval")
    np.testing.assert_array_equal(translator.translate_batch(batch), _eager(net, batch))


@pytest.mark.parametrize("height,width,aligned_h,aligned_w", [(37, 50, 64, 64), (5, 3, 32, 32)])
def test_pad_mode_is_the_net_on_the_reflect_padded_image_cropped_back(height, width, aligned_h, aligned_w):
    net, cfg = _setup(UNET)
    batch = np.random.default_rng(2).uniform(-1, 1, (1, 3, height, width)).astype(np.float32)
    top, left = (aligned_h - height) // 2, (aligned_w - width) // 2
    padding = ((0, 0), (0, 0), (top, aligned_h - height - top), (left, aligned_w - width - left))
    padded = np.pad(batch, padding, mode="reflect")
    expected = _eager(net, padded)[:, :, top:top + height, left:left + width]
    output = Translator.from_network(net, cfg, "pad", test_mode="eval").translate_batch(batch)
    np.testing.assert_array_equal(output, expected)


def test_pad_mode_interior_equals_the_net_on_a_larger_aligned_image():
    """Where the output only depends on nearby pixels (ResNet without normalization or dropout), the interior of a
    padded translation equals the same pixels translated inside a bigger aligned image. (U-Nets see the whole image,
    and instance/batch norm use whole-image statistics, so there the padding legitimately changes every pixel.)"""
    net, cfg = _setup(RESNET + ["model.generator.norm_type=none", "model.generator.use_dropout=false",
                                "model.generator.init_gain=0.1"])  # outputs of order 0.1 instead of 1e-6
    big = np.random.default_rng(3).uniform(-1, 1, (1, 3, 160, 160)).astype(np.float32)
    # 83 x 86 crop at (8, 9): padding adds 1 row (bottom) and 2 columns (1 left), so the padded image is the big one
    # shifted by (8, 8), a multiple of the ResNet's stride 4, and the convolutions line up exactly.
    crop = big[:, :, 8:8 + 83, 9:9 + 86]
    output = Translator.from_network(net, cfg, "pad", test_mode="eval").translate_batch(crop)
    reference = _eager(net, big)[:, :, 8:8 + 83, 9:9 + 86]
    margin = 32  # more than the receptive field's radius (about 23 pixels)
    inner = (slice(None), slice(None), slice(margin, -margin), slice(margin, -margin))
    np.testing.assert_allclose(output[inner], reference[inner], atol=1e-5)
    assert np.abs(output - reference).max() > 1e-3  # near the border the padding does matter


def test_resize_mode_resizes_to_the_nearest_multiple_and_back():
    net, cfg = _setup(UNET)
    seen = []

    def run(batch):
        seen.append(batch.shape)
        return _eager(net, batch)

    translator = Translator(run, cfg, "resize")
    output = translator.translate_batch(np.zeros((1, 3, 47, 90), np.float32))
    assert seen == [(1, 3, 32, 96)] and output.shape == (1, 3, 47, 90)


def test_batches_in_eval_mode_match_single_images():
    net, cfg = _setup(UNET)
    translator = Translator.from_network(net, cfg, test_mode="eval")
    images = [_image(40, 50, seed=s) for s in range(3)]
    together = translator.translate(images)
    for image, output in zip(images, together):
        np.testing.assert_allclose(translator.translate([image])[0], output, atol=1e-5)


def test_a_batch_needs_one_size():
    net, cfg = _setup(UNET)
    with pytest.raises(ValueError, match="one size"):
        Translator.from_network(net, cfg).translate([_image(40, 50), _image(41, 50)])


def test_paper_mode_seed_makes_dropout_reproducible():
    net, cfg = _setup(["model.generator.num_downs=6", "model.generator.ngf=4"])  # 1 dropout block
    image, other = _image(64, 64), _image(64, 64, seed=9)
    net.eval()
    paper = Translator.from_network(net, cfg, test_mode="paper", seed=5)
    first = paper.translate([image])[0]
    paper.translate([other])  # what ran before does not matter: the generator is re-seeded per batch
    np.testing.assert_array_equal(paper.translate([image])[0], first)
    reseeded = Translator.from_network(net, cfg, test_mode="paper", seed=6).translate([image])[0]
    assert np.abs(reseeded - first).max() > 1e-3
    evaluated = Translator.from_network(net, cfg, test_mode="eval").translate([image])[0]
    assert np.abs(evaluated - first).max() > 1e-3
    assert net.training is False  # the network's own mode is restored after each batch


def test_default_test_mode_comes_from_the_config():
    net, cfg = _setup(UNET + ["model.test_mode=eval"])
    assert Translator.from_network(net, cfg).test_mode == "eval"
    net, cfg = _setup(UNET)
    assert Translator.from_network(net, cfg).test_mode == "paper"


def test_grayscale_input_feeds_an_rgb_model_and_gray_models_give_one_channel():
    net, cfg = _setup(UNET)
    assert Translator.from_network(net, cfg).translate([_image(20, 30, channels=1)])[0].shape == (20, 30, 3)
    net, cfg = _setup(UNET + ["model.generator.input_nc=1", "model.generator.output_nc=1"])
    translator = Translator.from_network(net, cfg)
    rgb = _image(20, 30)
    np.testing.assert_allclose(translator.prepare(rgb)[0], rgb / 255.0 @ [0.299, 0.587, 0.114] * 2 - 1, atol=1e-6)
    assert translator.translate([rgb])[0].shape == (20, 30, 1)


def test_sixteen_bit_images_are_scaled_by_their_range():
    net, cfg = _setup(UNET)
    translator = Translator.from_network(net, cfg)
    image8 = _image(8, 8)
    np.testing.assert_allclose(translator.prepare(image8.astype(np.uint16) * 257), translator.prepare(image8),
                               atol=1e-6)


def test_colorization_predicts_ab_and_keeps_the_input_lightness():
    cfg = load_config(None, UNET + ["model.generator.input_nc=1", "model.generator.output_nc=2",
                                    "dataset.train.color_space=lab", "dataset.test.color_space=lab"])
    seen = []

    def gray_ab(batch):  # a stand-in generator that predicts ab = 0 (no colour) at full resolution
        seen.append(batch.shape)
        return np.zeros((batch.shape[0], 2) + batch.shape[2:], np.float32)

    image = _image(30, 40)
    output = Translator(gray_ab, cfg, "resize").translate([image])[0]
    assert seen == [(1, 1, 32, 32)] and output.shape == (30, 40, 3)
    np.testing.assert_allclose(output[..., 0], output[..., 1], atol=1e-3)  # ab = 0 is gray
    lightness, _ = rgb_to_lab(output)
    np.testing.assert_allclose(lightness, rgb_to_lab(image / 255.0)[0], atol=2e-3)  # full-resolution input L


def test_group_by_size_batches_equal_sizes_in_order():
    items = [("a", 1), ("b", 2), ("c", 1), ("d", 1), ("e", 2), ("f", 3)]
    batches = list(group_by_size(items, 2, lambda item: item[1]))
    assert batches == [[("a", 1), ("c", 1)], [("b", 2), ("e", 2)], [("d", 1)], [("f", 3)]]
    assert sorted(sum(batches, [])) == sorted(items)


def test_group_by_size_bounds_the_waiting_items():
    items = [(index, index) for index in range(7)]  # all sizes differ: nothing ever fills a batch
    batches = list(group_by_size(items, 4, lambda item: item[1], max_pending=3))
    assert all(len(batch) == 1 for batch in batches) and len(batches) == 7
    with pytest.raises(ValueError):
        list(group_by_size(items, 0, lambda item: item[1]))


def test_resize_batch_keeps_values_in_range():
    batch = np.random.default_rng(4).choice([-1.0, 1.0], (1, 2, 9, 7)).astype(np.float32)
    resized = resize_batch(batch, 16, 13, "bicubic")  # bicubic overshoots without the clip
    assert resized.shape == (1, 2, 16, 13) and resized.min() >= -1.0 and resized.max() <= 1.0
