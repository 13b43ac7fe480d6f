"""Config loading: the PaddleGAN layout as is, defaults, overrides, and errors that name the key."""
import os
import re

import pytest
import yaml

from ppix2pix.config import (ConfigError, check_data_paths, default_config, iter_schema, load_config, resolve_config,
                             save_config)

EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "examples", "paddlegan_layout_facades.yaml")
PADDLEGAN_TEXT = """
epochs: 200
model:
  name: Pix2PixModel
  generator: {name: UnetGenerator, norm_type: batch, input_nc: 3, output_nc: 3, num_downs: 8, ngf: 64,
              use_dropout: True}
  discriminator: {name: NLayerDiscriminator, ndf: 64, n_layers: 3, input_nc: 6, norm_type: batch}
  direction: b2a
  pixel_criterion: {name: L1Loss, loss_weight: 100}
  gan_criterion: {name: GANLoss, gan_mode: vanilla}
dataset:
  train:
    name: PairedDataset
    dataroot: data/facades/train
    num_workers: 0
    batch_size: 1
    preprocess:
      - {name: LoadImageFromFile, key: pair}
      - {name: SplitPairedImage, key: pair, paired_keys: [A, B]}
      - name: Transforms
        input_keys: [A, B]
        pipeline:
          - {name: Resize, size: [286, 286], interpolation: 'bicubic', keys: [image, image]}
          - {name: PairedRandomCrop, size: [256, 256], keys: [image, image]}
          - {name: PairedRandomHorizontalFlip, prob: 0.5, keys: [image, image]}
          - {name: Transpose, keys: [image, image]}
          - {name: Normalize, mean: [127.5, 127.5, 127.5], std: [127.5, 127.5, 127.5], keys: [image, image]}
lr_scheduler: {name: LinearDecay, learning_rate: 0.0002, start_epoch: 100, decay_epochs: 100, iters_per_epoch: 1}
optimizer:
  optimG: {name: Adam, net_names: [netG], beta1: 0.5}
  optimD: {name: Adam, net_names: [netD], beta1: 0.5}
log_config: {interval: 100, visiual_interval: 500}
snapshot_config: {interval: 5}
export_model:
  - {name: 'netG', inputs_num: 1}
"""


@pytest.fixture
def paddlegan_file(tmp_path):
    path = tmp_path / "paddlegan.yaml"
    path.write_text(PADDLEGAN_TEXT)
    return str(path)


def test_defaults_are_the_papers_settings():
    cfg = default_config()
    generator = cfg["model"]["generator"]
    assert (generator["name"], generator["num_downs"], generator["norm_type"], generator["use_dropout"]) == \
        ("UnetGenerator", 8, "batch", True)
    assert cfg["model"]["discriminator"]["n_layers"] == 3
    assert cfg["model"]["pixel_criterion"]["loss_weight"] == 100.0
    assert cfg["model"]["gan_criterion"]["gan_mode"] == "vanilla"
    assert cfg["optimizer"]["optimG"]["beta1"] == 0.5 and cfg["lr_scheduler"]["learning_rate"] == 0.0002
    train = cfg["dataset"]["train"]
    assert (train["load_size"], train["crop_size"], train["no_flip"], train["batch_size"]) == (286, 256, False, 1)


def test_paddlegan_layout_is_read_as_is(paddlegan_file):
    cfg = load_config(paddlegan_file)
    assert cfg["model"]["direction"] == "BtoA"
    train = cfg["dataset"]["train"]
    assert (train["preprocess"], train["load_size"], train["crop_size"], train["no_flip"],
            train["interpolation"]) == ("resize_and_crop", 286, 256, False, "bicubic")
    assert cfg["snapshot_config"]["interval"] == 5


def test_shared_paddlegan_example_loads():
    if not os.path.isfile(EXAMPLE):
        pytest.skip("../shared/examples not present")
    cfg = load_config(EXAMPLE)
    assert cfg["dataset"]["test"]["preprocess"] == "resize_and_crop"
    assert cfg["dataset"]["test"]["crop_size"] == 256 and cfg["dataset"]["test"]["no_flip"]


def test_overrides_are_typed_and_validated(paddlegan_file):
    cfg = load_config(paddlegan_file, ["model.generator.ngf=32", "dataset.train.no_flip=true", "epochs=3",
                                       "model.direction=AtoB"])
    assert cfg["model"]["generator"]["ngf"] == 32 and cfg["dataset"]["train"]["no_flip"] is True
    assert cfg["epochs"] == 3 and cfg["model"]["direction"] == "AtoB"


@pytest.mark.parametrize("override,message", [
    ("model.genrator.ngf=3", "unknown config key 'model.genrator'; did you mean 'model.generator'"),
    ("model.generator.ngff=3", "did you mean 'model.generator.ngf'"),
    ("epoch=3", "did you mean 'epochs'"),
    ("epochs=many", "epochs must be int"),
    ("dataset.train.no_flip=3", "dataset.train.no_flip must be bool"),
    ("dataset.train.preprocess=cropp", "did you mean 'crop'"),
    ("model.direction=left", "direction must be one of AtoB, BtoA"),
    ("model.generator.name=unet_265", "did you mean 'unet_256'"),
    ("model.discriminator.input_nc=5", "set it to 6"),
    ("model.gan_criterion.gan_mode=wgan", "vanilla, lsgan, wgangp, hinge"),
])
def test_bad_values_name_the_key_and_the_fix(paddlegan_file, override, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")) as info:
        load_config(paddlegan_file, [override])
    assert str(info.value).startswith(f"-o {override}: ")  # the value came from -o, not from the file


@pytest.mark.parametrize("key", ["log_config.interval", "log_config.visiual_interval", "snapshot_config.interval",
                                 "snapshot_config.interval_iters", "validate.interval"])
def test_intervals_take_0_for_off_and_refuse_negative_counts(key):
    section, name = key.split(".")
    assert load_config(None, [f"{key}=0"])[section][name] == 0
    with pytest.raises(ConfigError, match=rf"^-o {key}=-2: {key}: must be 0 \(off\) or a positive count, got -2$"):
        load_config(None, [f"{key}=-2"])


def test_unsupported_paddlegan_transform_is_refused():
    raw = yaml.safe_load(PADDLEGAN_TEXT)
    raw["dataset"]["train"]["preprocess"][2]["pipeline"].append({"name": "ColorJitter"})
    with pytest.raises(ConfigError, match=r"dataset.train.preprocess\[2\].pipeline\[5\] \(ColorJitter\)"):
        resolve_config(raw)


def test_discriminator_channels_follow_the_generator():
    cfg = load_config(None, ["model.generator.input_nc=1", "model.generator.output_nc=2"])
    assert cfg["model"]["discriminator"]["input_nc"] == 3


def test_lab_colorization_needs_one_channel_in_two_out():
    with pytest.raises(ConfigError, match="input_nc: 1 and output_nc: 2"):
        load_config(None, ["dataset.train.color_space=lab"])
    load_config(None, ["dataset.train.color_space=lab", "model.generator.input_nc=1",
                       "model.generator.output_nc=2"])


def test_missing_and_broken_files_are_named(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(str(tmp_path / "nope.yaml"))
    broken = tmp_path / "broken.yaml"
    broken.write_text("model: [unclosed\n")
    with pytest.raises(ConfigError, match="broken.yaml: not valid YAML"):
        load_config(str(broken))


def test_saved_config_loads_back_identically(tmp_path, paddlegan_file):
    cfg = load_config(paddlegan_file, ["model.generator.ngf=16", "dataset.train.dataroot=elsewhere"])
    path = str(tmp_path / "resolved.yaml")
    save_config(cfg, path)
    assert load_config(path) == cfg


def test_keys_of_another_network_are_refused_with_its_name(paddlegan_file):
    with pytest.raises(ConfigError, match="'model.generator.num_downs'.*valid for ResnetGenerator"):
        load_config(paddlegan_file, ["model.generator.name=ResnetGenerator"])


def test_every_key_is_documented():
    for key, _, doc in iter_schema():
        assert doc and len(doc) > 5, key


def test_errors_name_the_override_or_the_file_the_value_came_from(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("epochs: 3\nmodel:\n  generator:\n    ngf: 8\n")
    with pytest.raises(ConfigError, match=r"^-o model\.generator\.ngff=3: unknown config key 'model\.generator\.ngff'"):
        load_config(str(path), ["epochs=2", "model.generator.ngff=3"])
    path.write_text("epochs: 3\nmodel:\n  generator:\n    ngff: 8\n")
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(path))}: unknown config key 'model\.generator\.ngff'"):
        load_config(str(path), ["epochs=2"])


def test_a_missing_relative_data_folder_shows_where_it_was_looked_for(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = load_config(None, ["dataset.train.dataroot=data/nowhere"])
    with pytest.raises(ConfigError, match=re.escape(f"'data/nowhere' (resolved to {tmp_path}/data/nowhere)")):
        check_data_paths(cfg, ["train"])
