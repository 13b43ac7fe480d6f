"""Metrics on fixed inputs against hand-computed values: L1/PSNR/SSIM and the label-map (FCN-score) metrics."""
import math

import numpy as np
import pytest

from ppix2pix.metrics import (CITYSCAPES_CLASSES, MetricAverager, Palette, SegmentationScores, cityscapes_palette,
                              image_metrics, load_palette)

RED, BLUE, GREEN, BLACK = (255, 0, 0), (0, 0, 255), (0, 255, 0), (0, 0, 0)


def _constant(value8, channels=3, size=8):
    """A constant C x H x W image in [-1, 1] whose 8-bit value is ``value8``."""
    return np.full((channels, size, size), 2.0 * value8 / 255.0 - 1.0, np.float32)


def test_image_metrics_of_constant_images_match_the_formulas():
    output, target = _constant(138), _constant(128)
    metrics = image_metrics(output, target)
    assert metrics["l1"] == pytest.approx(2 * 10 / 255, rel=1e-5)
    assert metrics["psnr"] == pytest.approx(10 * math.log10(255 ** 2 / 10 ** 2), rel=1e-6)  # MSE = 10^2
    c1 = (0.01 * 255) ** 2  # constant images: SSIM is the luminance term alone
    assert metrics["ssim"] == pytest.approx((2 * 128 * 138 + c1) / (128 ** 2 + 138 ** 2 + c1), rel=1e-6)


def test_identical_images_score_perfectly_and_psnr_is_capped():
    image = np.random.default_rng(0).uniform(-1, 1, (3, 16, 16)).astype(np.float32)
    assert image_metrics(image, image) == {"l1": 0.0, "psnr": 100.0, "ssim": pytest.approx(1.0)}


def test_metric_averager_averages_per_image():
    averager = MetricAverager()
    averager.add_batch(np.stack([_constant(138), _constant(128)]), np.stack([_constant(128), _constant(128)]))
    result = averager.result()
    assert result["count"] == 2
    assert result["psnr"] == pytest.approx((20 * math.log10(25.5) + 100.0) / 2, rel=1e-6)


def _label_image(rows):
    return np.array(rows, np.uint8)


def test_palette_maps_noisy_colours_to_the_nearest_class_and_void():
    palette = Palette([("a", RED), ("b", BLUE)], [BLACK])
    image = _label_image([[(250, 10, 5), (3, 2, 240), (10, 10, 10), RED]])
    np.testing.assert_array_equal(palette.labels(image), [[0, 1, 2, 0]])  # 2 = void


def test_segmentation_scores_match_a_hand_computed_confusion_matrix():
    palette = Palette([("a", RED), ("b", BLUE)], [BLACK])
    target = _label_image([[RED, RED, BLUE, BLUE], [BLACK, RED, BLUE, BLUE]])
    output = _label_image([[RED, BLUE, BLUE, BLUE], [RED, RED, BLACK, BLUE]])
    scores = SegmentationScores(palette)
    scores.add(output, target)
    np.testing.assert_array_equal(scores.confusion, [[2, 1, 0], [0, 3, 1]])  # void target pixel ignored
    result = scores.result()
    assert result["pixels"] == 7
    assert result["pixel_acc"] == pytest.approx(5 / 7)
    assert result["class_acc"] == pytest.approx((2 / 3 + 3 / 4) / 2)
    # IoU a: TP 2 / (GT 3 + predicted 2 - 2); b: 3 / (4 + 4 - 3). The predicted-void pixel is a miss, not a class.
    assert result["class_iou"] == pytest.approx((2 / 3 + 3 / 5) / 2)
    assert result["per_class"]["b"] == {"acc": pytest.approx(0.75), "iou": pytest.approx(0.6), "pixels": 4}


def test_classes_only_predicted_count_in_iou_but_not_in_class_accuracy():
    palette = Palette([("a", RED), ("b", BLUE), ("c", GREEN)])
    target = _label_image([[RED, RED, RED, RED]])
    output = _label_image([[RED, RED, RED, GREEN]])
    scores = SegmentationScores(palette)
    scores.add(output, target)
    result = scores.result()
    assert result["class_acc"] == pytest.approx(3 / 4)  # only class a is in the ground truth
    assert result["class_iou"] == pytest.approx((3 / 4 + 0.0) / 2)  # a: 3/4, c: 0; b absent everywhere
    assert result["per_class"]["b"] == {"acc": None, "iou": None, "pixels": 0}


def test_scores_accumulate_over_images_before_averaging():
    palette = Palette([("a", RED), ("b", BLUE)])
    scores = SegmentationScores(palette)
    scores.add(_label_image([[RED, RED]]), _label_image([[RED, BLUE]]))
    scores.add(_label_image([[BLUE, BLUE, BLUE, BLUE]]), _label_image([[BLUE, BLUE, BLUE, BLUE]]))
    assert scores.result()["pixel_acc"] == pytest.approx(5 / 6)  # not the mean of per-image accuracies (0.75)


def test_all_void_targets_are_an_error():
    scores = SegmentationScores(Palette([("a", RED)], [BLACK]))
    scores.add(_label_image([[RED]]), _label_image([[BLACK]]))
    with pytest.raises(ValueError, match="void"):
        scores.result()


def test_cityscapes_palette_has_the_19_evaluation_classes_and_maps_ignored_labels_to_void():
    palette = cityscapes_palette()
    assert len(palette.names) == 19 and palette.names[0] == "road" and palette.names[18] == "bicycle"
    assert dict(CITYSCAPES_CLASSES)["car"] == (0, 0, 142)
    image = _label_image([[(128, 64, 128), (72, 128, 181), (153, 153, 153), (250, 170, 160), (81, 0, 81),
                           (250, 170, 30)]])
    # road, sky (noisy), pole (also polegroup's colour), parking -> void, ground -> void, traffic light
    np.testing.assert_array_equal(palette.labels(image), [[0, 10, 5, 19, 19, 6]])


def test_palette_file_in_yaml(tmp_path):
    path = tmp_path / "palette.yaml"
    path.write_text("classes:\n  wall: [10, 10, 10]\n  sky: [0, 0, 250]\nvoid:\n  - [255, 255, 255]\n")
    palette = load_palette(str(path))
    assert palette.names == ["wall", "sky"]
    np.testing.assert_array_equal(palette.labels(_label_image([[(12, 9, 11), (250, 250, 250)]])), [[0, 2]])


@pytest.mark.parametrize("text", ["classes: []\n", "colors: {a: [1, 2, 3]}\n", "classes: {a: [1, 2, 300]}\n",
                                  "classes: {a: [1, 2]}\n", "classes: [unclosed\n"])
def test_bad_palette_files_name_the_file(tmp_path, text):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match="bad.yaml"):
        load_palette(str(path))


def test_facades_palette_maps_its_colours_and_jpeg_noise_to_its_classes():
    from ppix2pix.metrics import FACADES_COLORS, facades_palette
    palette = facades_palette()
    assert len(palette.names) == 12 and palette.void == 12
    colors = np.array(FACADES_COLORS, np.uint8)[None]
    np.testing.assert_array_equal(palette.labels(colors)[0], np.arange(12))
    noisy = np.clip(colors.astype(int) + np.random.default_rng(0).integers(-12, 13, colors.shape), 0, 255)
    np.testing.assert_array_equal(palette.labels(noisy.astype(np.uint8))[0], np.arange(12))


def test_a_palette_is_named_by_a_built_in_name_or_a_file(tmp_path):
    from ppix2pix.metrics import named_palette
    assert named_palette("facades").names[0] == "label_1"
    assert named_palette("cityscapes").names[0] == "road"
    path = tmp_path / "facades"  # a file is read only when the name is not a built-in one
    path.write_text("classes: {sky: [0, 0, 255]}\n")
    assert named_palette(str(path)).names == ["sky"]
    with pytest.raises(ValueError, match="cannot read palette file nope"):
        named_palette("nope")
