"""Loading weights from strangers: Paddle pickles through the restricted reader (the globals real files use, no code
run, no memory bombs), safetensors sharing, and no loader left that unpickles without restriction.

tests/fixtures/paddle holds real files of Paddle 2.6.2 (numpy 1.26) and 3.3.1 (numpy 2.4), written by
tests/fixtures/make_paddle_fixtures.py.
"""
import glob
import io
import os
import pickle
import re
import time

import numpy as np
import paddle
import pytest

import crafted
from conftest import ROOT, TINY_MODEL
from ppix2pix.checkpoint import read_safetensors, save_checkpoint
from ppix2pix.cli.convert import main as convert_main
from ppix2pix.config import load_config
from ppix2pix.errors import CheckpointError
from ppix2pix.paddle_pickle import ALLOWED, PaddleUnpickler, read_paddle_pickle
from ppix2pix.pix2pix import Pix2PixModel
from ppix2pix.rng import rng_state as _rng_state
from ppix2pix.safe_loading import LIMIT_VARIABLE, load_pickle, weights_limit
from ppix2pix.weights import load_checkpoint, load_generator, save_safetensors

FIXTURES = os.path.join(ROOT, "tests", "fixtures", "paddle")
NUMPY_CORE = np.zeros(0).__reduce__()[0].__module__.rsplit(".", 1)[0]  # numpy.core (1.x) or numpy._core (2.x)
FIXTURE_NUMPY = {"2.6.2": "numpy.core", "3.3.1": "numpy._core"}

# The globals each kind of real file uses ({np}: numpy.core or numpy._core), found by writing the files.
ARRAY_GLOBALS = {"{np}.multiarray._reconstruct", "numpy.ndarray", "numpy.dtype"}
NESTED_GLOBALS = ARRAY_GLOBALS | {"collections.OrderedDict", "paddle.base.libpaddle.GeneratorState"}
GLOBALS_BY_FILE = {
    "net.pdparams": ARRAY_GLOBALS,
    "adam.pdopt": ARRAY_GLOBALS,
    "net_protocol2.pdparams": ARRAY_GLOBALS | {"_codecs.encode"},
    "paddlegan.pdparams": ARRAY_GLOBALS | {"_codecs.encode"},
    "checkpoint.pdparams": NESTED_GLOBALS | {"builtins.tuple", "{np}.multiarray.scalar"},
    "checkpoint_protocol2.pdparams": NESTED_GLOBALS | {"__builtin__.tuple", "{np}.multiarray.scalar", "_codecs.encode"},
    "trainer": NESTED_GLOBALS | {"builtins.tuple"},  # ppix2pix's own training checkpoint (written live below)
}
FIXTURE_FILES = sorted(glob.glob(os.path.join(FIXTURES, "*", "*.pd*")))


class RecordingUnpickler(PaddleUnpickler):
    """The restricted unpickler, noting every global the file asks for."""

    def __init__(self, file, source):
        super().__init__(file, source)
        self.asked = set()

    def find_class(self, module, name):
        self.asked.add(f"{module}.{name}")
        return super().find_class(module, name)


def globals_of(path):
    with open(path, "rb") as handle:
        stream = io.BytesIO(handle.read())
    unpickler = RecordingUnpickler(stream, path)
    load_pickle(unpickler, stream)
    return unpickler.asked


@pytest.fixture(scope="module")
def trainer_checkpoint(tmp_path_factory):
    """A ppix2pix training checkpoint as the Trainer writes it, after one step (Adam moments, lr scheduler state,
    the RNG states); returns (path, state saved)."""
    cfg = load_config(None, TINY_MODEL + ["model.generator.ngf=4", "model.discriminator.ndf=4"])
    paddle.seed(0)
    model = Pix2PixModel(cfg)
    batch = paddle.rand([1, 3, 64, 64])
    model.train_step(batch, batch)
    state = dict(model.state_dict(), epoch=0, iteration=1, config=cfg, rng=_rng_state(), history=[], best=None)
    path = str(tmp_path_factory.mktemp("trainer") / "latest.pdparams")
    save_checkpoint(state, path)
    return path, state


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda path: os.path.relpath(path, FIXTURES))
def test_real_paddle_files_use_only_the_listed_globals(path):
    version, name = path.split(os.sep)[-2:]
    expected = {item.format(np=FIXTURE_NUMPY[version]) for item in GLOBALS_BY_FILE[name]}
    assert globals_of(path) == expected


def test_the_allow_list_is_what_real_files_use(trainer_checkpoint):
    assert globals_of(trainer_checkpoint[0]) == {item.format(np=NUMPY_CORE) for item in GLOBALS_BY_FILE["trainer"]}
    used = {item.format(np=core) for items in GLOBALS_BY_FILE.values() for item in items
            for core in FIXTURE_NUMPY.values()}
    assert {f"{module}.{name}" for module, name in ALLOWED} == used


def _same(mine, reference, where="file"):
    """``mine`` (numpy arrays) holds what ``reference`` (paddle.load: Tensors) does."""
    if isinstance(reference, paddle.Tensor):
        reference = reference.numpy()
    if isinstance(reference, dict):
        assert isinstance(mine, dict) and list(mine) == list(reference), where
        for key in reference:
            _same(mine[key], reference[key], f"{where}/{key}")
    elif isinstance(reference, (list, tuple)):
        assert type(mine) is type(reference) and len(mine) == len(reference), where
        for index, (a, b) in enumerate(zip(mine, reference)):
            _same(a, b, f"{where}/{index}")
    elif isinstance(reference, np.ndarray):
        assert isinstance(mine, np.ndarray) and mine.dtype == reference.dtype, where
        np.testing.assert_array_equal(mine, reference, err_msg=where)
    elif type(reference).__name__ == "GeneratorState":
        assert type(mine) is type(reference) and mine.__getstate__() == reference.__getstate__(), where
    else:
        assert type(mine) is type(reference) and mine == reference, where


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda path: os.path.relpath(path, FIXTURES))
def test_real_paddle_files_load_as_paddle_load_reads_them(path):
    _same(read_paddle_pickle(path), paddle.load(path))  # paddle.load only on the test's own trusted fixtures


def test_arrays_paddle_split_in_slices_are_joined(tmp_path):
    """paddle.save with protocol 2/3 splits arrays over 1 GiB into name@@.i slices; made small here."""
    array = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    flat = array.reshape(-1)
    state = {"w@@.0": flat[:10], "w@@.1": flat[10:], "b": np.ones(2, np.float32),
             "UnpackBigParamInfor@@": {"w": {"OriginShape": (2, 3, 4), "slices": ["w@@.0", "w@@.1"]}},
             "StructuredToParameterName@@": {"w": "linear_0.w_0", "b": "linear_0.b_0"}}
    path = tmp_path / "big.pdparams"
    path.write_bytes(pickle.dumps(state, protocol=2))
    loaded = read_paddle_pickle(str(path))
    assert sorted(loaded) == ["b", "w"]
    np.testing.assert_array_equal(loaded["w"], array)
    _same(loaded, paddle.load(str(path)))


def test_trainer_checkpoint_restores_rng_and_optimizer_states(trainer_checkpoint):
    path, saved = trainer_checkpoint
    state = load_checkpoint(path)
    assert state["rng"]["paddle"][0].__getstate__() == saved["rng"]["paddle"][0].__getstate__()
    paddle.set_rng_state(saved["rng"]["paddle"])
    expected = paddle.rand([5]).numpy()
    paddle.set_rng_state(state["rng"]["paddle"])
    np.testing.assert_array_equal(paddle.rand([5]).numpy(), expected)
    np.random.set_state(state["rng"]["numpy"])
    model = Pix2PixModel(state["config"])
    model.load_state_dict(state)  # networks and both optimizers take the numpy arrays
    for name, value in model.optimizers["optimG"].state_dict().items():
        if isinstance(value, paddle.Tensor):
            np.testing.assert_array_equal(value.numpy(), saved["optimG"][name].numpy(), err_msg=name)
    assert model.lr_schedulers["optimG"].last_epoch == saved["optimG"]["LR_Scheduler"]["last_epoch"]


PAYLOAD_PLACES = {
    "top level": lambda state, payload: state.update(epoch=payload),
    "optimizer state": lambda state, payload: state["optimG"]["LR_Scheduler"].update(last_epoch=payload),
    "RNG state": lambda state, payload: state["rng"].update(paddle=[payload]),
}


@pytest.mark.parametrize("function", ["os.system", "eval"])
@pytest.mark.parametrize("place", list(PAYLOAD_PLACES))
@pytest.mark.parametrize("protocol", [2, 4])
def test_code_payloads_in_paddle_files_never_run(tmp_path, function, place, protocol):
    marker = tmp_path / "pwned"
    state = {"netG": {"w": np.zeros(2, np.float32)}, "config": {}, "format": "ppix2pix/1",
             "optimG": {"LR_Scheduler": {"last_epoch": 1}}, "rng": {"numpy": None}}
    PAYLOAD_PLACES[place](state, crafted.payloads(marker)[function])
    path = tmp_path / "evil.pdparams"
    path.write_bytes(pickle.dumps(state, protocol=protocol))
    refused = r"evil\.pdparams: refusing to load '(posix\.system|builtins\.eval|__builtin__\.eval)'"
    with pytest.raises(CheckpointError, match=refused):
        load_checkpoint(str(path))
    assert not marker.exists()
    if (function, place, protocol) == ("eval", "top level", 4):  # the test's own check: pickle.load would run it
        pickle.loads(path.read_bytes())
        assert marker.exists()


def _array_pickle(dtype_args=b"X\x02\x00\x00\x00f4\x89\x88", shape=b"K\x00\x85", build=None):
    """A pickle of one array the way numpy writes it, with parts replaceable."""
    state = build or (b"(K\x01K\x01\x85cnumpy\ndtype\n(" + dtype_args + b"tR(K\x03X\x01\x00\x00\x00<NNNJ"
                      b"\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x89C\x04\x00\x00\x80?tb")
    return b"\x80\x02cnumpy.core.multiarray\n_reconstruct\n(cnumpy\nndarray\n" + shape + b"C\x01btR" + state + b"."


CRAFTED = {
    # what the file does -> (pickle bytes, expected message)
    "memo index 2^28 (4 GiB memo table)": (crafted.memo_bomb(), "memo index"),
    "bytes argument of 2^62 bytes": (b"\x80\x04\x8e" + (2 ** 62).to_bytes(8, "little") + b"abc.", "damaged Paddle"),
    "list nested 100,000 deep": (crafted.nested_pickle(100_000), "nested more than 32 levels"),
    "list holding itself": (b"\x80\x02]q\x00h\x00a.", "holds itself"),
    "object array": (_array_pickle(dtype_args=b"X\x02\x00\x00\x00O8\x89\x88"), "'O8' is not numeric"),
    "empty array of 2^40 elements": (_array_pickle(shape=b"\x8a\x06\x00\x00\x00\x00\x00\x01\x85"),
                                     "unexpected array reconstruction"),
    "ndarray class built directly": (b"\x80\x02cnumpy\nndarray\n\x8a\x05\x00\x00\x00\x00\x01\x85\x81.",
                                     "damaged Paddle"),
    "attributes set on an allowed function": (b"\x80\x02c_codecs\nencode\nN}X\x0c\x00\x00\x00__defaults__)s\x86b.",
                                              "BUILD applied to _latin1_bytes"),
    "malformed generator state": (b"\x80\x02cpaddle.base.libpaddle\nGeneratorState\n)\x81X\x01\x00\x00\x00xb\x85.",
                                  "malformed Paddle random generator state 'x'"),
    "generator state set twice": (b"\x80\x02cpaddle.base.libpaddle\nGeneratorState\n)\x81(J\xff\xff\xff\xffK\x01K\x00t"
                                  b"b(J\xff\xff\xff\xffK\x02K\x00tb.", "generator state set twice"),
    "persistent id": (b"\x80\x02X\x01\x00\x00\x00xQ.", "unexpected persistent id"),
}


@pytest.mark.parametrize("name", list(CRAFTED))
def test_crafted_paddle_pickles_are_refused_cleanly(tmp_path, name):
    data, message = CRAFTED[name]
    path = tmp_path / "crafted.pdparams"
    path.write_bytes(data)
    start = time.perf_counter()
    with pytest.raises(CheckpointError, match=re.escape(message)):
        read_paddle_pickle(str(path))
    assert time.perf_counter() - start < 5


def test_array_pickles_build_native_arrays_and_leave_numpy_alone(tmp_path):
    path = tmp_path / "array.pdparams"
    big_endian = (b"(K\x01K\x01\x85cnumpy\ndtype\n(X\x02\x00\x00\x00f4\x89\x89tR(K\x03X\x01\x00\x00\x00>NNNJ"
                  b"\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x89C\x04?\x80\x00\x00tb")  # dtype('f4', copy=False)
    path.write_bytes(_array_pickle(build=big_endian))
    array = read_paddle_pickle(str(path))
    assert array.tolist() == [1.0] and array.dtype.isnative  # stored big-endian, read natively
    assert np.dtype("f4").byteorder == "="  # BUILD went to a copy, never to numpy's shared float32


def test_no_loader_unpickles_without_restriction():
    """No module calls paddle.load or an unrestricted pickle; the restricted unpickler is the only Unpickler."""
    banned = re.compile(r"\b(paddle\.load|pickle\.loads?|torch\.load|np\.load|numpy\.load)\s*\(|allow_pickle")
    offenders = []
    for path in glob.glob(os.path.join(ROOT, "ppix2pix", "**", "*.py"), recursive=True):
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        offenders += [f"{path}: {match.group(0)}" for match in banned.finditer(text)]
        if "pickle.Unpickler" in text and not path.endswith("safe_loading.py"):
            offenders.append(f"{path}: pickle.Unpickler")
    assert offenders == []


def test_loading_works_with_paddle_load_and_pickle_load_gone(tmp_path, trainer_checkpoint, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("unrestricted unpickling")
    for owner, name in ((paddle, "load"), (pickle, "load"), (pickle, "loads")):
        monkeypatch.setattr(owner, name, refuse)
    paddlegan = str(tmp_path / "paddlegan.pdparams")
    assert convert_main(["--to", "paddlegan", trainer_checkpoint[0], "--out", paddlegan]) == 0
    for path in (trainer_checkpoint[0], paddlegan):
        load_generator(path)


def test_safetensors_file_holds_the_generator_and_config_without_pickle(tmp_path, trainer_checkpoint, capsys):
    path, saved = trainer_checkpoint
    shared = str(tmp_path / "netG.safetensors")
    assert convert_main(["--to", "safetensors", path, "--out", shared]) == 0
    assert "generator and config" in capsys.readouterr().out
    data = open(shared, "rb").read()
    assert data[8:10] == b'{"' and b"\x80\x04\x95" not in data and b"\x80\x02" not in data[:200]
    state = read_safetensors(shared)
    assert sorted(state) == ["config", "format", "netG"] and state["config"] == saved["config"]
    net, cfg = load_generator(shared)
    reference, _ = load_generator(path)
    batch = paddle.rand([1, 3, 64, 64])
    net.eval(), reference.eval()
    np.testing.assert_array_equal(net(batch).numpy(), reference(batch).numpy())
    back = str(tmp_path / "back.pdparams")
    assert convert_main(["--to", "paddlegan", shared, "--out", back]) == 0  # other tools take it too


def test_weights_only_safetensors_need_a_config(tmp_path, trainer_checkpoint):
    import safetensors.numpy
    path = tmp_path / "bare.safetensors"
    path.write_bytes(safetensors.numpy.save({"w": np.zeros(2, np.float32)}))
    with pytest.raises(CheckpointError, match="holds weights only"):
        load_generator(str(path))
    with pytest.raises(CheckpointError, match="no generator weights"):
        save_safetensors({"config": trainer_checkpoint[1]["config"]}, str(tmp_path / "x.safetensors"), "x")


@pytest.mark.parametrize("damage", ["truncated", "header", "deep config"])
def test_damaged_safetensors_files_are_a_checkpoint_error(tmp_path, trainer_checkpoint, damage):
    shared = str(tmp_path / "netG.safetensors")
    save_safetensors(trainer_checkpoint[1], shared)
    data = open(shared, "rb").read()
    if damage == "truncated":
        data = data[:len(data) // 2]
    elif damage == "header":
        data = data[:8] + b'{"netG": 5' + data[18:]
    else:
        import safetensors.numpy
        data = safetensors.numpy.save({"w": np.zeros(1, np.float32)}, metadata={"config": "[" * 50_000 + "]" * 50_000})
    with open(shared, "wb") as handle:
        handle.write(data)
    with pytest.raises(CheckpointError, match=r"netG\.safetensors: (damaged safetensors file|nested more)"):
        load_checkpoint(shared)


def test_a_config_from_the_file_allocates_nothing_before_its_weights_fit(tmp_path, trainer_checkpoint):
    """A 1 KB file whose config asks for ngf=2^20 is refused by shape before any weight is allocated."""
    state = dict(trainer_checkpoint[1])
    state["config"] = load_config(None, TINY_MODEL + ["model.generator.ngf=1048576"])
    path = str(tmp_path / "huge.pdparams")
    save_checkpoint({"netG": {"model.model.0.weight": np.zeros(1, np.float32)}, "config": state["config"]}, path)
    start = time.perf_counter()
    with pytest.raises(CheckpointError, match="netG weights do not fit"):
        load_generator(path)
    assert time.perf_counter() - start < 10


def test_a_config_no_generator_takes_is_a_checkpoint_error(tmp_path, trainer_checkpoint):
    cfg = dict(trainer_checkpoint[1]["config"])
    cfg["model"] = dict(cfg["model"], generator=dict(cfg["model"]["generator"], num_downs=3))
    path = str(tmp_path / "shallow.pdparams")
    save_checkpoint({"netG": trainer_checkpoint[1]["netG"], "config": cfg}, path)
    with pytest.raises(CheckpointError, match=r"shallow\.pdparams: cannot build its generator .*num_downs >= 5"):
        load_generator(path, cfg=None)


def test_a_stored_config_that_does_not_validate_is_a_checkpoint_error(tmp_path, trainer_checkpoint):
    cfg = dict(trainer_checkpoint[1]["config"], model=dict(trainer_checkpoint[1]["config"]["model"], name="Pix3Pix"))
    path = str(tmp_path / "odd.pdparams")
    save_checkpoint({"netG": trainer_checkpoint[1]["netG"], "config": cfg}, path)
    with pytest.raises(CheckpointError, match=r"config stored in .*odd\.pdparams: model\.name must be one of"):
        load_generator(path)


def test_weights_limit_is_documented_overridable_and_checked(monkeypatch):
    monkeypatch.delenv(LIMIT_VARIABLE, raising=False)
    assert weights_limit() == 2048 << 20
    monkeypatch.setenv(LIMIT_VARIABLE, "16")
    assert weights_limit() == 16 << 20
    monkeypatch.setenv(LIMIT_VARIABLE, "lots")
    with pytest.raises(CheckpointError, match="PPIX2PIX_MAX_WEIGHTS_MB='lots'"):
        weights_limit()
