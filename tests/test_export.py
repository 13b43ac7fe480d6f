"""Static export: parity with the eager network through paddle.jit.load and the Paddle Inference predictor."""
import os

import numpy as np
import paddle
import pytest
import yaml

from ppix2pix.config import load_config
from ppix2pix.errors import ExportError
from ppix2pix.exporter import (INFO_FILE, PredictorRunner, export_generator, export_onnx, predictor_config,
                               read_export_info, static_network)
from ppix2pix.build import generator as build_generator
from ppix2pix.networks import inference_mode
from ppix2pix.translator import Translator

UNET = ["model.generator.num_downs=6", "model.generator.ngf=8"]  # one dropout block
RESNET = ["model.generator.name=ResnetGenerator", "model.generator.ngf=4", "model.generator.n_blocks=2",
          "model.generator.norm_type=batch"]
TOLERANCE = 1e-4


def _setup(overrides, seed=0):
    paddle.seed(seed)
    cfg = load_config(None, overrides)
    return build_generator(cfg["model"]["generator"]), cfg


def _batch(shape, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, shape).astype(np.float32)


def _eager(net, batch, mode):
    with paddle.no_grad(), inference_mode(net, mode):
        return net(paddle.to_tensor(batch)).numpy()


@pytest.mark.parametrize("overrides", [UNET, RESNET], ids=["unet", "resnet"])
def test_eval_export_matches_eager_through_jit_load_and_predictor(tmp_path, overrides):
    net, cfg = _setup(overrides)
    info = export_generator(net, cfg, str(tmp_path), "eval")
    assert net.training  # exporting left the caller's network alone
    batch = _batch((2, 3, 64, 128))  # dynamic N, H and W: neither is fixed in the exported program
    eager = _eager(net, batch, "eval")
    loaded = paddle.jit.load(os.path.join(str(tmp_path), "generator"))
    with paddle.no_grad():
        assert np.abs(loaded(paddle.to_tensor(batch)).numpy() - eager).max() < TOLERANCE
    runner = PredictorRunner(info)
    assert np.abs(runner(batch) - eager).max() < TOLERANCE
    other = _batch((1, 3, 128, 64), seed=1)
    assert np.abs(runner(other) - _eager(net, other, "eval")).max() < TOLERANCE


def test_predictor_without_onednn_matches_too(tmp_path):
    net, cfg = _setup(UNET)
    info = export_generator(net, cfg, str(tmp_path), "eval")
    batch = _batch((1, 3, 64, 64))
    runner = PredictorRunner(info, onednn=False, threads=1)
    assert np.abs(runner(batch) - _eager(net, batch, "eval")).max() < TOLERANCE


def test_paper_export_normalizes_with_batch_statistics(tmp_path):
    net, cfg = _setup(UNET + ["model.generator.use_dropout=false"])
    state = net.state_dict()
    net.set_state_dict({name: value * 0 + 3.0 if name.endswith("_mean") else value  # running means far off
                        for name, value in state.items()})
    info = export_generator(net, cfg, str(tmp_path), "paper")
    batch = _batch((3, 3, 64, 64))
    paper = _eager(net, batch, "paper")
    assert np.abs(paper - _eager(net, batch, "eval")).max() > 0.1  # the modes really differ here
    assert np.abs(PredictorRunner(info)(batch) - paper).max() < TOLERANCE
    loaded = paddle.jit.load(os.path.join(str(tmp_path), "generator"))
    with paddle.no_grad():
        assert np.abs(loaded(paddle.to_tensor(batch)).numpy() - paper).max() < TOLERANCE


def test_paper_export_keeps_dropout_active(tmp_path):
    net, cfg = _setup(UNET)
    runner = PredictorRunner(export_generator(net, cfg, str(tmp_path), "paper"))
    batch = _batch((1, 3, 64, 64))
    first, second = runner(batch), runner(batch)
    assert np.abs(first - second).max() > 1e-3  # new dropout masks on every run
    without_dropout = static_network(net, "paper")
    for layer in without_dropout.sublayers():
        if type(layer).__name__ == "StochasticDropout":
            layer.p = 0.0
    with paddle.no_grad():
        reference = without_dropout(paddle.to_tensor(batch)).numpy()
    assert np.abs(first - reference).max() > 1e-3


def test_export_info_lets_a_translator_handle_any_size(tmp_path):
    net, cfg = _setup(UNET)
    export_generator(net, cfg, str(tmp_path), "eval")
    with open(tmp_path / INFO_FILE) as handle:
        info = yaml.safe_load(handle)
    assert info["size_multiple"] == 64 and info["test_mode"] == "eval" and info["input_nc"] == 3
    image = np.random.default_rng(0).integers(0, 256, (50, 90, 3), dtype=np.uint8)
    exported = Translator.from_exported(str(tmp_path), "pad")
    assert exported.test_mode == "eval" and exported.multiple == 64
    eager = Translator.from_network(net, cfg, "pad", test_mode="eval")
    assert np.abs(exported.translate([image])[0] - eager.translate([image])[0]).max() < TOLERANCE


def test_export_info_naming_files_outside_its_folder_or_lacking_a_key_is_refused(tmp_path):
    """A shared export folder is data from a stranger: its YAML may not point the predictor at any other file."""
    net, cfg = _setup(UNET)
    folder = tmp_path / "export"
    export_generator(net, cfg, str(folder), "eval")
    outside = tmp_path / "elsewhere.json"
    outside.write_bytes((folder / "generator.json").read_bytes())
    with open(folder / INFO_FILE) as handle:
        info = yaml.safe_load(handle)
    cases = [({"model_file": str(outside)}, None, "model_file must be a file name in the export folder"),
             ({"params_file": "../export/generator.pdiparams"}, None, "params_file must be a file name in the export"),
             ({}, "config", "the key 'config' is missing"), ({}, "model_file", "the key 'model_file' is missing")]
    for changes, dropped, message in cases:
        with open(folder / INFO_FILE, "w") as handle:
            yaml.safe_dump({key: value for key, value in dict(info, **changes).items() if key != dropped}, handle)
        with pytest.raises(ExportError) as error:
            read_export_info(str(folder))
        assert str(error.value).startswith(f"{folder / INFO_FILE}: {message}") and "\n" not in str(error.value)


def test_reading_a_folder_without_an_export_names_the_fix(tmp_path):
    with pytest.raises(ExportError, match="tools/export.py"):
        read_export_info(str(tmp_path))
    net, cfg = _setup(UNET)
    export_generator(net, cfg, str(tmp_path), "eval")
    os.remove(tmp_path / "generator.pdiparams")
    with pytest.raises(ExportError, match="generator.pdiparams is missing"):
        read_export_info(str(tmp_path))


def test_predictor_options_are_checked(tmp_path):
    net, cfg = _setup(UNET)
    info = export_generator(net, cfg, str(tmp_path), "eval")
    with pytest.raises(ExportError, match="GPU"):
        predictor_config(info, device="cpu", precision="fp16")
    with pytest.raises(ExportError, match="precision"):
        predictor_config(info, precision="int4")
    if not paddle.is_compiled_with_cuda():
        with pytest.raises(ExportError, match="CUDA"):
            predictor_config(info, device="gpu")


def test_onnx_export_matches_eager(tmp_path):
    pytest.importorskip("paddle2onnx")
    onnxruntime = pytest.importorskip("onnxruntime")
    net, cfg = _setup(UNET)
    path = export_onnx(net, cfg, str(tmp_path / "generator.onnx"))
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    batch = _batch((2, 3, 64, 128))
    output = session.run(None, {session.get_inputs()[0].name: batch})[0]
    assert np.abs(output - _eager(net, batch, "eval")).max() < TOLERANCE


def test_onnx_export_refuses_paper_mode(tmp_path):
    net, cfg = _setup(UNET)
    with pytest.raises(ExportError, match="eval"):
        export_onnx(net, cfg, str(tmp_path / "generator.onnx"), test_mode="paper")
