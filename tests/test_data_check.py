"""The pre-flight data check (fast and full), its cache, the bad_files policy and skipping at read time."""
import os

import numpy as np
import pytest

import synthetic
from data_helpers import make_dataset
from ppix2pix.data.check import CheckCache, apply_bad_files_policy, check_pairs
from ppix2pix.errors import DataError, ImageError


def _cut(path, keep=0.5):
    data = open(path, "rb").read()
    with open(path, "wb") as handle:
        handle.write(data[:int(len(data) * keep)])


def _zero_frame_size(path):
    """Set a JPEG's frame size to 0 x 0: signature and end marker stay, the image cannot be decoded."""
    data = bytearray(open(path, "rb").read())
    frame = data.index(b"\xff\xc0")
    data[frame + 5:frame + 9] = bytes(4)  # after marker, length and precision: height and width
    open(path, "wb").write(bytes(data))


@pytest.fixture
def jpegs(tmp_path):
    return synthetic.write_ab_folder(str(tmp_path / "ab"), 4, ext=".jpg")


def test_fast_check_finds_a_truncated_jpeg_and_accepts_data_after_the_end_marker(jpegs):
    _cut(jpegs[3])
    with open(jpegs[1], "ab") as handle:
        handle.write(os.urandom(4000))  # camera motion photos append a video after the image
    problems = check_pairs([(path, path) for path in jpegs])
    assert [(path, kind) for path, kind, _ in problems] == [(jpegs[3], "truncated")]


def test_fast_check_reads_headers_and_ends_a_full_check_decodes(jpegs):
    _zero_frame_size(jpegs[2])
    pairs = [(path, path) for path in jpegs]
    assert check_pairs(pairs) == []
    assert [path for path, _, _ in check_pairs(pairs, full=True)] == [jpegs[2]]


def test_cache_answers_unchanged_files_and_rechecks_changed_ones(tmp_path, jpegs, monkeypatch):
    pairs = [(path, path) for path in jpegs]
    cache = CheckCache(str(tmp_path / "out" / "data_check.json"))
    assert check_pairs(pairs, cache=cache) == []
    cache.save()
    cache = CheckCache(str(tmp_path / "out" / "data_check.json"))
    assert all(cache.get(pair, False) == [] for pair in pairs)
    assert all(cache.get(pair, True) is None for pair in pairs)  # a fast result does not answer a full check
    _cut(jpegs[0])
    assert cache.get(pairs[0], False) is None and cache.get(pairs[1], False) == []
    monkeypatch.setattr("ppix2pix.data.check._fast_problems", lambda *args: pytest.fail("not cached"))
    assert check_pairs(pairs[1:], cache=cache) == []


def test_bad_files_error_names_the_first_files_and_the_count(tmp_path):
    folder = tmp_path / "ab"
    paths = synthetic.write_ab_folder(str(folder), 8, ext=".jpg")
    for path in paths[2:7]:
        _cut(path)
    dataset = make_dataset(dataroot=str(folder))
    problems = check_pairs(dataset.pairs)
    with pytest.raises(DataError) as error:
        apply_bad_files_policy(dataset, problems, "train")
    message = str(error.value)
    assert "\n" not in message and "5 bad image files" in message and "and 2 more" in message
    assert all(path in message for path in paths[2:5]) and paths[5] not in message
    assert f"prepare_data.py check {folder}" in message and "dataset.train.bad_files: skip" in message


def test_bad_files_skip_drops_the_pairs(tmp_path):
    paths = synthetic.write_ab_folder(str(tmp_path / "ab"), 5, ext=".jpg")
    _cut(paths[4])
    dataset = make_dataset(dataroot=str(tmp_path / "ab"), bad_files="skip")
    apply_bad_files_policy(dataset, check_pairs(dataset.pairs), "train")
    assert [a for a, _ in dataset.pairs] == paths[:4]


def test_a_file_gone_bad_after_the_check_is_skipped_under_skip_and_raised_under_error(tmp_path):
    paths = synthetic.write_ab_folder(str(tmp_path / "ab"), 3, ext=".png")
    kwargs = dict(dataroot=str(tmp_path / "ab"), load_size=64, crop_size=64, no_flip=True)
    skipping, strict = make_dataset(bad_files="skip", **kwargs), make_dataset(**kwargs)
    expected = skipping[2]["A"]
    open(paths[1], "wb").write(b"\x89PNG\r\n\x1a\n" + bytes(100))
    item = skipping[1]
    assert item["A_path"] == paths[2] and np.array_equal(item["A"], expected)
    with pytest.raises(ImageError, match="001.png"):
        strict[1]
