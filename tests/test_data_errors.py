"""Bad data gives a clear error naming the file or folder, or a counted warning; never a silent wrong pair."""
import logging
import os

import cv2
import numpy as np
import pytest

from data_helpers import make_dataset, noise, write_ab
from ppix2pix.data import DataError, ImageError, read_image, write_image
from ppix2pix.data.image_io import ends_early

NO_RESIZE = {"preprocess": "none", "generator": {"num_downs": 3}}


def ab_folder_with(tmp_path, name, data):
    """A valid AB folder plus one file ``name`` holding ``data`` (bytes)."""
    write_ab(tmp_path / "good.png", noise(64, 64), noise(64, 64, seed=1))
    path = tmp_path / name
    path.write_bytes(data)
    return str(tmp_path), str(path)


def jpeg_bytes():
    ok, encoded = cv2.imencode(".jpg", noise(64, 128))
    assert ok
    return encoded.tobytes()


@pytest.mark.parametrize("name, data, message", [
    ("random.png", np.random.default_rng(0).bytes(800), "corrupt"),
    ("empty.png", b"", "empty file"),
    ("half.jpg", jpeg_bytes()[:len(jpeg_bytes()) // 2], "corrupt"),
    ("cut.jpg", jpeg_bytes()[:len(jpeg_bytes()) // 2] + b"\0" * 2048, "truncated JPEG"),
])
def test_unreadable_image_names_the_file(tmp_path, name, data, message):
    folder, path = ab_folder_with(tmp_path, name, data)
    dataset = make_dataset(dataroot=folder, **NO_RESIZE)
    bad = [os.path.basename(a) for a, _ in dataset.pairs].index(name)
    with pytest.raises(ImageError, match=message) as error:
        dataset[bad]
    assert path in str(error.value)


def test_ab_image_of_odd_width_names_the_file(tmp_path):
    write_image(str(tmp_path / "odd.png"), noise(64, 129))
    with pytest.raises(ImageError, match="odd number") as error:
        make_dataset(dataroot=str(tmp_path), **NO_RESIZE)[0]
    assert str(tmp_path / "odd.png") in str(error.value)


def test_a_b_size_mismatch_names_both_files(tmp_path):
    for side, size in (("A", 64), ("B", 72)):
        write_image(str(tmp_path / side / "p.png"), noise(size, size))
    with pytest.raises(ImageError, match="size mismatch") as error:
        make_dataset(dataroot_a=str(tmp_path / "A"), dataroot_b=str(tmp_path / "B"), **NO_RESIZE)[0]
    assert str(tmp_path / "A" / "p.png") in str(error.value) and str(tmp_path / "B" / "p.png") in str(error.value)


def test_empty_and_missing_folders_name_the_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no images here")
    with pytest.raises(DataError, match="has no images") as error:
        make_dataset(dataroot=str(tmp_path / "empty"))
    assert str(tmp_path / "empty") in str(error.value)
    with pytest.raises(DataError, match="does not exist") as error:
        make_dataset(dataroot=str(tmp_path / "nowhere"))
    assert str(tmp_path / "nowhere") in str(error.value)


def test_unmatched_a_b_names_are_listed(tmp_path):
    for side, stems in (("A", ["shared", "only_a1", "only_a2"]), ("B", ["shared", "only_b"])):
        for stem in stems:
            write_image(str(tmp_path / side / f"{stem}.png"), noise(64, 64))
    with pytest.raises(DataError, match="do not match by file name") as error:
        make_dataset(dataroot_a=str(tmp_path / "A"), dataroot_b=str(tmp_path / "B"))
    for stem in ("only_a1", "only_a2", "only_b"):
        assert stem in str(error.value)
    assert "shared" not in str(error.value)


@pytest.mark.parametrize("train", [True, False])
def test_image_smaller_than_crop_size_names_the_file(tmp_path, train):
    write_ab(tmp_path / "small.png", noise(48, 48), noise(48, 48, seed=1))
    with pytest.raises(ImageError, match="smaller than crop_size 64") as error:
        make_dataset(train=train, dataroot=str(tmp_path), preprocess="crop", crop_size=64)[0]
    assert str(tmp_path / "small.png") in str(error.value)


def test_same_name_with_two_extensions_is_an_error(tmp_path):
    write_ab(tmp_path / "a.png", noise(64, 64), noise(64, 64, seed=1))
    write_ab(tmp_path / "a.jpg", noise(64, 64), noise(64, 64, seed=1))
    with pytest.raises(DataError, match="differ only in extension") as error:
        make_dataset(dataroot=str(tmp_path))
    assert "a.jpg, a.png" in str(error.value)


def test_hidden_files_non_images_and_folders_are_skipped_with_a_counted_warning(tmp_path, caplog):
    write_ab(tmp_path / "good.png", noise(64, 64), noise(64, 64, seed=1))
    (tmp_path / ".DS_Store").write_bytes(b"\0\1junk")
    (tmp_path / "._good.png").write_bytes(b"AppleDouble resource fork")  # image extension, but hidden
    (tmp_path / "readme.txt").write_text("notes")
    (tmp_path / "sub.png").mkdir()
    with caplog.at_level(logging.WARNING, logger="ppix2pix.data.dataset"):
        dataset = make_dataset(dataroot=str(tmp_path), **NO_RESIZE)
    assert [os.path.basename(a) for a, _ in dataset.pairs] == ["good.png"]
    assert dataset[0]["A"].shape == (3, 64, 64)
    assert any("skipped 4 " in record.getMessage() and str(tmp_path) in record.getMessage()
               for record in caplog.records)


@pytest.mark.parametrize("extension", [".jpg", ".png"])
def test_image_with_data_after_its_end_marker_reads_normally(tmp_path, extension):
    """Camera motion photos append a video after the JPEG: the image is complete and must not be called truncated."""
    ok, encoded = cv2.imencode(extension, noise(64, 128))
    clean, appended = tmp_path / f"clean{extension}", tmp_path / f"motion{extension}"
    clean.write_bytes(encoded.tobytes())
    appended.write_bytes(encoded.tobytes() + b"ftypmp42" + np.random.default_rng(1).bytes(8192))
    np.testing.assert_array_equal(read_image(str(appended)), read_image(str(clean)))


def _jpeg(params=()):
    ok, encoded = cv2.imencode(".jpg", noise(64, 128), list(params))
    return encoded.tobytes()


def _with_exif_thumbnail(jpeg):
    """``jpeg`` with an APP1 segment holding a whole thumbnail JPEG (and so its own end marker) after SOI."""
    payload = b"Exif\0\0" + _jpeg()
    return jpeg[:2] + b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload + jpeg[2:]


@pytest.mark.parametrize("name, data, early", [
    ("baseline", _jpeg(), False),
    ("progressive + restart markers, video appended",
     _jpeg([cv2.IMWRITE_JPEG_PROGRESSIVE, 1, cv2.IMWRITE_JPEG_RST_INTERVAL, 2]) + b"\0" * 4096, False),
    ("cut and zero-filled", _jpeg()[:len(_jpeg()) // 2] + b"\0" * 4096, True),
    ("cut and zero-filled, EXIF thumbnail before the image",
     _with_exif_thumbnail(_jpeg())[:-len(_jpeg()) // 2] + b"\0" * 4096, True),
    ("EXIF thumbnail, data appended", _with_exif_thumbnail(_jpeg()) + b"\1" * 4096, False),
    ("png, data appended", cv2.imencode(".png", noise(16, 16))[1].tobytes() + b"\0" * 4096, False),
    ("png cut", cv2.imencode(".png", noise(64, 64))[1].tobytes()[:-1100], True),
])
def test_ends_early_tells_cut_files_from_appended_data(name, data, early):
    assert ends_early(data) is early


def test_header_size_reads_the_size_without_the_pixels_and_png_bytes_round_trip():
    from ppix2pix.data.image_io import decode_image, encode_png, header_size
    image = noise(30, 50)
    data = encode_png(image)
    assert header_size(data, "a.png") == (50, 30)
    assert header_size(data[:64], "a.png") == (50, 30)  # the header alone is enough
    np.testing.assert_array_equal(decode_image(data, "a.png"), image)
    with pytest.raises(ImageError, match="notes.txt is not an image"):
        header_size(b"plain text", "notes.txt")
