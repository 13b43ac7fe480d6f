"""Reading PyTorch checkpoints without torch: both container formats, tensor geometry, refusal of unsafe pickles, and
sizes checked before anything is allocated.

The fixtures in tests/fixtures/torch were written by real PyTorch 2.13 (tests/fixtures/make_torch_fixtures.py).
"""
import os
import pickle
import zipfile

import numpy as np
import pytest

import crafted
from crafted import Tensor, storage
from ppix2pix.errors import CheckpointError, TorchFileError
from ppix2pix.interop.torch_file import LEGACY_MAGIC, LEGACY_PROTOCOL, is_torch_file, read_torch_file
from ppix2pix.weights import load_checkpoint

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "torch")


def fixture(name):
    return os.path.join(FIXTURES, name)


def test_zip_and_legacy_formats_give_identical_arrays():
    new, legacy = read_torch_file(fixture("unet.pth")), read_torch_file(fixture("unet_legacy.pth"))
    assert list(new) == list(legacy)  # same keys in the same (module) order
    assert "model.model.1.model.2.running_mean" in new and "model.model.1.model.2.num_batches_tracked" in new
    for key in new:
        assert new[key].dtype == legacy[key].dtype and np.array_equal(new[key], legacy[key]), key
    assert new["model.model.0.weight"].shape == (6, 3, 4, 4)
    assert new["model.model.3.weight"].shape == (12, 3, 4, 4)  # ConvTranspose: [in, out, kH, kW]
    assert new["model.model.1.model.2.num_batches_tracked"] == 3


@pytest.mark.parametrize("name", ["tensors.pth", "tensors_legacy.pth"])
def test_strides_offsets_and_dtypes_are_respected(name):
    state = read_torch_file(fixture(name))
    expected = np.load(fixture("tensors.npz"))
    assert set(state["tensors"]) == set(expected.files)
    for key in expected.files:
        value = state["tensors"][key]
        assert value.dtype == expected[key].dtype and value.shape == expected[key].shape, key
        assert np.array_equal(value, expected[key]), key
        assert value.flags["C_CONTIGUOUS"] and value.dtype.isnative
    assert state["tensors"]["bfloat16"].dtype == np.float32  # widened: numpy has no bfloat16
    assert state["step"] == 11 and state["name"] == "cases" and state["shape"] == (2, 3)


def test_format_detection(tmp_path):
    assert is_torch_file(fixture("unet.pth")) and is_torch_file(fixture("unet_legacy.pth"))
    other = tmp_path / "weights.pdparams"
    other.write_bytes(pickle.dumps({"netG": {"w": np.ones(2)}}, protocol=2))
    assert not is_torch_file(str(other))
    plain_zip = tmp_path / "plain.zip"
    with zipfile.ZipFile(plain_zip, "w") as archive:
        archive.writestr("readme.txt", "hello")
    assert not is_torch_file(str(plain_zip))
    for path in (other, plain_zip):
        with pytest.raises(TorchFileError, match="not a (readable )?PyTorch checkpoint"):
            read_torch_file(str(path))


def test_truncated_files_are_reported_not_crashing(tmp_path):
    for name in ("unet.pth", "unet_legacy.pth"):
        data = open(fixture(name), "rb").read()
        broken = tmp_path / name
        broken.write_bytes(data[: len(data) // 2])
        with pytest.raises(TorchFileError, match=str(broken).replace(".", r"\.")):
            read_torch_file(str(broken))


def _global_call(module, name, argument):
    """A protocol-2 pickle that calls module.name(argument) when loaded by an unrestricted unpickler."""
    return (b"\x80\x02c" + f"{module}\n{name}\n".encode() + b"X" + len(argument).to_bytes(4, "little")
            + argument.encode() + b"\x85R.")


def _zip_checkpoint(path, payload):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", payload)
        archive.writestr("archive/byteorder", "little")


def _legacy_checkpoint(path, payload):
    header = b"".join(pickle.dumps(obj, protocol=2) for obj in
                      (LEGACY_MAGIC, LEGACY_PROTOCOL, {"protocol_version": LEGACY_PROTOCOL, "little_endian": True}))
    path.write_bytes(header + payload + pickle.dumps([], protocol=2))


@pytest.mark.parametrize("writer", [_zip_checkpoint, _legacy_checkpoint], ids=["zip", "legacy"])
@pytest.mark.parametrize("module,name", [("os", "system"), ("posix", "system"), ("builtins", "eval"),
                                         ("subprocess", "Popen")])
def test_code_execution_is_refused_before_it_runs(tmp_path, writer, module, name):
    marker = tmp_path / "pwned"
    command = f"touch {marker}" if name != "eval" else f"open({str(marker)!r}, 'w')"
    path = tmp_path / "evil.pth"
    writer(path, _global_call(module, name, command))
    with pytest.raises(TorchFileError, match=rf"refusing to load '{module}\.{name}'"):
        read_torch_file(str(path))
    assert not marker.exists()
    # Sanity check of the test itself: an unrestricted unpickler would have run the payload.
    if (module, name) == ("builtins", "eval"):
        pickle.loads(_global_call(module, name, command))
        assert marker.exists()


def test_pickled_module_is_refused_with_advice(tmp_path):
    path = tmp_path / "model.pth"
    _zip_checkpoint(path, b"\x80\x02cmodels.networks\nUnetGenerator\n)\x81.")
    with pytest.raises(TorchFileError, match=r"models\.networks\.UnetGenerator.*state_dict\(\)"):
        read_torch_file(str(path))


def test_allowed_functions_with_bad_arguments_are_a_clean_error(tmp_path):
    path = tmp_path / "odd.pth"
    # _rebuild_tensor_v2('not a storage', 0, (1,), (1,)) -- an allowed global, used wrongly
    payload = (b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\n(X\x03\x00\x00\x00abcK\x00K\x01\x85K\x01\x85tR.")
    _zip_checkpoint(path, payload)
    with pytest.raises(TorchFileError, match="damaged PyTorch pickle"):
        read_torch_file(str(path))


def test_pickle_cannot_alter_the_storage_placeholders(tmp_path):
    path = tmp_path / "build.pth"
    # torch.FloatStorage, then BUILD with {'code': 'O'}: would turn float data into Python objects if it worked
    _zip_checkpoint(path, b"\x80\x02ctorch\nFloatStorage\n}X\x04\x00\x00\x00codeX\x01\x00\x00\x00Osb.")
    with pytest.raises(TorchFileError, match="damaged PyTorch pickle"):
        read_torch_file(str(path))


def test_tensors_saved_from_a_gpu_read_the_same(tmp_path):
    """Older torch pickles GPU tensors with torch.cuda.<Name>Storage; the bytes are the same."""
    path = tmp_path / "gpu.pth"
    with zipfile.ZipFile(fixture("tensors.pth")) as source, zipfile.ZipFile(path, "w") as target:
        for name in source.namelist():
            data = source.read(name)
            if name.endswith("data.pkl"):
                assert b"ctorch\nFloatStorage\n" in data
                data = data.replace(b"ctorch\nFloatStorage\n", b"ctorch.cuda\nFloatStorage\n")
            target.writestr(name, data)
    expected = read_torch_file(fixture("tensors.pth"))["tensors"]
    for key, value in read_torch_file(str(path))["tensors"].items():
        assert np.array_equal(value, expected[key]), key


def test_torch_size_is_read_as_a_tuple(tmp_path):
    path = tmp_path / "size.pth"
    _zip_checkpoint(path, b"\x80\x02ctorch\nSize\n(K\x02K\x03t\x85R.")  # torch.Size((2, 3))
    assert read_torch_file(str(path)) == (2, 3)


# ----- sizes checked before allocation (files written by tests/crafted.py, without torch) -----

def _one_tensor(size, stride, offset=0, elements=4):
    return {"w": Tensor("0", offset, size, stride)}, {"0": storage(np.arange(elements, dtype=np.float32))}


GEOMETRIES = {
    # what the tensor claims -> (size, stride, storage elements, expected message)
    "zero stride, 4 TiB once copied": ((2 ** 20, 2 ** 20), (0, 0), 1, "invalid tensor geometry"),
    "zero stride along a long dimension": ((4, 1), (0, 1), 4, "invalid tensor geometry"),
    "overlapping strides, 4 TiB": ((2 ** 20, 2 ** 20), (1, 1), 2 ** 21, "needs 1099511627776 elements"),
    "size 2^70": ((2 ** 70,), (1,), 4, "needs 1180591620717411303424 elements"),
    "size 2^70 over one element (was an OverflowError)": ((2 ** 70,), (0,), 1, "invalid tensor geometry"),
    "negative size": ((-1,), (1,), 4, "invalid tensor geometry"),
}


@pytest.mark.parametrize("writer", [crafted.write_torch_zip, crafted.write_torch_legacy], ids=["zip", "legacy"])
@pytest.mark.parametrize("case", list(GEOMETRIES))
def test_tensor_geometry_is_bounded_by_its_storage(tmp_path, writer, case):
    size, stride, elements, message = GEOMETRIES[case]
    path = writer(tmp_path / "bomb.pth", *_one_tensor(size, stride, elements=elements))
    with pytest.raises(TorchFileError, match=message):
        read_torch_file(path)


def test_legacy_storage_views_are_read_and_checked(tmp_path):
    storages = {"0": storage(np.arange(4, dtype=np.float32))}
    view = crafted.write_torch_legacy(tmp_path / "view.pth", {"w": Tensor("0", 0, (2,), (1,), ("v", 1, 2))}, storages)
    assert read_torch_file(view)["w"].tolist() == [1.0, 2.0]
    for name, bad_view, message in [("offset", ("v", "x", 2), "malformed storage view"),  # was a TypeError
                                    ("outside", ("v", 3, 2), "lies outside storage 0")]:
        path = crafted.write_torch_legacy(tmp_path / f"{name}.pth", {"w": Tensor("0", 0, (2,), (1,), bad_view)},
                                          storages)
        with pytest.raises(TorchFileError, match=message):
            read_torch_file(path)


def test_legacy_storage_count_is_bounded_by_the_bytes_left(tmp_path):
    tensors, storages = _one_tensor((2,), (1,))
    storages["0"] = crafted.Storage("FloatStorage", 2 ** 61, b"\x00" * 16)
    with pytest.raises(TorchFileError, match="storage 0 needs 9223372036854775808 bytes, the file has 16 left"):
        read_torch_file(crafted.write_torch_legacy(tmp_path / "count.pth", tensors, storages))


@pytest.fixture
def deflated(tmp_path, monkeypatch):
    """A zip .pth whose storage record is 128 MB of zeros deflated to ~128 KB, under a 16 MB weights limit;
    ``deflated(elements)``: the file with a tensor of that many elements over it."""
    monkeypatch.setenv("PPIX2PIX_MAX_WEIGHTS_MB", "16")
    path = tmp_path / "deflated.pth"

    def write(elements):
        pickled = crafted.torch_pickle({"w": Tensor("0", 0, (elements,), (1,))},
                                       {"0": crafted.Storage("FloatStorage", elements, b"")})
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("archive/data.pkl", pickled)
            with archive.open("archive/data/0", "w", force_zip64=True) as record:
                for _ in range(128):
                    record.write(bytes(1 << 20))
        return str(path)
    return write


def test_deflated_record_is_read_only_as_far_as_the_pickle_needs(deflated):
    path = deflated(8)
    assert os.path.getsize(path) < 1 << 20
    assert read_torch_file(path)["w"].tolist() == [0.0] * 8


def test_deflated_record_past_the_limit_is_refused_before_decompressing(deflated):
    with pytest.raises(TorchFileError, match="record archive/data/0 would take 128.0 MB, past the 16 MB limit"):
        read_torch_file(deflated(2 ** 25))


def test_record_smaller_than_the_pickle_claims_is_refused(tmp_path):
    tensors, storages = _one_tensor((4,), (1,))
    storages["0"] = crafted.Storage("FloatStorage", 2 ** 40, storages["0"].data)
    with pytest.raises(TorchFileError, match="record archive/data/0 holds 16 bytes, 4398046511104 expected"):
        read_torch_file(crafted.write_torch_zip(tmp_path / "short.pth", tensors, storages))


def test_many_tensors_over_one_storage_are_capped_in_total(tmp_path, monkeypatch):
    monkeypatch.setenv("PPIX2PIX_MAX_WEIGHTS_MB", "16")
    elements = 1 << 18  # 1 MB of floats, viewed whole by 40 tensors: 40 MB
    tensors = {f"w{i}": Tensor("0", 0, (elements,), (1,)) for i in range(40)}
    path = crafted.write_torch_zip(tmp_path / "views.pth", tensors, {"0": storage(np.zeros(elements, np.float32))})
    with pytest.raises(TorchFileError, match="past the 16 MB limit"):
        read_torch_file(path)


def test_other_compression_methods_are_refused(tmp_path):
    tensors, storages = _one_tensor((4,), (1,))
    path = crafted.write_torch_zip(tmp_path / "bz2.pth", tensors, storages, compression=zipfile.ZIP_BZIP2)
    with pytest.raises(TorchFileError, match="compression method 12"):
        read_torch_file(path)


@pytest.mark.parametrize("writer", [crafted.write_torch_zip, crafted.write_torch_legacy], ids=["zip", "legacy"])
@pytest.mark.parametrize("pickled,message", [(crafted.nested_pickle(100_000), "nested more than 32 levels"),
                                             (crafted.memo_bomb(), "memo index")], ids=["deep", "memo"])
def test_pickle_bombs_are_refused(tmp_path, writer, pickled, message):
    path = writer(tmp_path / "bomb.pth", {}, {}, pickled=pickled)
    with pytest.raises(TorchFileError, match=message):
        read_torch_file(path)


def test_weights_no_ppix2pix_network_takes_give_a_checkpoint_error(tmp_path):
    """A U-Net of 4 levels (ppix2pix builds 5 and more) used to escape as a raw ValueError."""
    shapes = {"model.model.0.weight": (4, 3, 4, 4), "model.model.3.weight": (8, 3, 4, 4),
              "model.model.1.model.1.weight": (8, 4, 4, 4), "model.model.1.model.3.model.1.weight": (8, 8, 4, 4),
              "model.model.1.model.3.model.3.model.1.weight": (8, 8, 4, 4)}
    arrays = {name: np.zeros(shape, np.float32) for name, shape in shapes.items()}
    path = crafted.write_torch_zip(tmp_path / "shallow.pth", {name: crafted.tensor_of(name, a) for name, a in
                                                              arrays.items()},
                                   {name: storage(a) for name, a in arrays.items()})
    with pytest.raises(CheckpointError, match=r"shallow\.pth: these weights fit no pix2pix network .*num_downs >= 5"):
        load_checkpoint(path)
