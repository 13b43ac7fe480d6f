"""Configuration: the PaddleGAN pix2pix YAML layout, ppix2pix's defaults, ``-o key=value`` overrides, validation.

``load_config(path, overrides)`` returns a plain nested dict holding every key with its resolved value, so the dict
stored in a checkpoint rebuilds the exact model and data pipeline. Unknown keys, wrong types and invalid choices raise
:class:`ConfigError` naming the key, where it came from and the nearest valid key.
"""
import copy
import difflib
import os

import yaml

from .data.paddlegan_pipeline import options_from_pipeline
from .data.resample import FILTERS
from .direction import normalize_direction
from .errors import CheckpointError, ConfigError
from .losses import GAN_MODES
from .networks import DISCRIMINATORS, GENERATORS, TEST_MODES, resolve_section


class Spec:
    """One config leaf: its default, accepted types, optional choices and a one-line doc."""

    def __init__(self, default, types, doc, choices=None, normalize=None):
        self.default, self.types, self.doc = default, types, doc
        self.choices, self.normalize = choices, normalize

    def resolve(self, value, key):
        if value is None:
            return None
        if self.normalize is not None:
            try:
                value = self.normalize(value, key)
            except ValueError as error:
                raise ConfigError(f"{key}: {error}") from None
        if not _has_type(value, self.types):
            names = " or ".join(t.__name__ for t in _as_tuple(self.types))
            raise ConfigError(f"{key} must be {names}, got {value!r} ({type(value).__name__})")
        if isinstance(value, int) and float in _as_tuple(self.types) and int not in _as_tuple(self.types):
            value = float(value)
        if self.choices is not None and value not in self.choices:
            hint = difflib.get_close_matches(str(value), [str(c) for c in self.choices], n=1)
            raise ConfigError(f"{key} must be one of {', '.join(map(str, self.choices))}, got {value!r}"
                              + (f" (did you mean {hint[0]!r}?)" if hint else ""))
        return value


class NetSpec:
    """A network section (``model.generator`` / ``model.discriminator``): keys depend on the chosen ``name``."""

    def __init__(self, registry, default_name, doc):
        self.registry, self.default_name, self.doc = registry, default_name, doc

    def resolve(self, section, key):
        return resolve_section(self.registry, section, key, self.default_name)


def _as_tuple(types):
    return types if isinstance(types, tuple) else (types,)


def _has_type(value, types):
    types = _as_tuple(types)
    if isinstance(value, bool):
        return bool in types
    if isinstance(value, int) and float in types:
        return True
    return isinstance(value, types)


def _direction(value, key):
    return normalize_direction(value)


def _interval(value, key):
    """An interval of iterations or epochs: 0 switches it off; a negative one is refused."""
    if isinstance(value, int) and not isinstance(value, bool) and value < 0:
        raise ValueError(f"must be 0 (off) or a positive count, got {value}")
    return value


def _float_or_inf(value, key):
    return float(value) if isinstance(value, str) and value.lower() in ("inf", "infinity") else value


PREPROCESS_MODES = ("resize_and_crop", "crop", "scale_width", "scale_width_and_crop", "none")
LR_POLICIES = ("LinearDecay", "StepDecay", "CosineAnnealingDecay", "ReduceOnPlateau")


def _dataset_schema(shuffle_doc):
    return {
        "name": Spec("PairedDataset", str, "dataset type", choices=("PairedDataset",)),
        "dataroot": Spec(None, str, "folder of AB images (A left half, B right half)"),
        "dataroot_a": Spec(None, str, "folder of A images (instead of dataroot; paired with dataroot_b by name)"),
        "dataroot_b": Spec(None, str, "folder of B images, same file names as dataroot_a"),
        "pair_list": Spec(None, str, "text file with one 'A path<TAB>B path' line per pair (paths relative to the "
                          "file's folder), instead of the folders"),
        "batch_size": Spec(1, int, "images per batch (per GPU/process)"),
        "num_workers": Spec(0, int, "DataLoader worker processes (0 = load in the main process)"),
        "shuffle": Spec(None, bool, shuffle_doc),
        "preprocess": Spec("resize_and_crop", str, "resize_and_crop, crop, scale_width, scale_width_and_crop, none; "
                           "a PaddleGAN pipeline list is read too", choices=PREPROCESS_MODES),
        "load_size": Spec(286, int, "size images are resized to before the random crop"),
        "crop_size": Spec(256, int, "size of the random crop fed to the networks"),
        "no_flip": Spec(False, bool, "disable the random horizontal flip (train only)"),
        "interpolation": Spec("bicubic", str, "resize filter (Pillow's, as the reference: bicubic and bilinear "
                              "low-pass when shrinking; area is a box filter)", choices=tuple(FILTERS)),
        "color_space": Spec("rgb", str, "rgb (1-channel sides are read as grayscale) or lab (colorization: L in, "
                            "ab out)", choices=("rgb", "lab")),
        "max_dataset_size": Spec(None, (int, float), "use at most this many pairs (null = all)",
                                 normalize=_float_or_inf),
        "bad_files": Spec("error", str, "what training does with an unreadable image: error (stop before the first "
                          "iteration, naming it) or skip (drop its pair with a warning)", choices=("error", "skip")),
    }


def _optimizer_schema(net_name):
    return {
        "name": Spec("Adam", str, "optimizer", choices=("Adam",)),
        "net_names": Spec([net_name], list, "networks this optimizer updates"),
        "beta1": Spec(0.5, float, "Adam beta1"),
        "beta2": Spec(0.999, float, "Adam beta2"),
        "epsilon": Spec(1e-8, float, "Adam epsilon"),
        "weight_decay": Spec(0.0, float, "L2 weight decay"),
        "learning_rate": Spec(None, float, "this optimizer's base lr (null = lr_scheduler.learning_rate)"),
        "multi_tensor": Spec(True, bool, "fused multi-tensor Adam update (much faster on CPU; same results)"),
    }


SCHEMA = {
    "epochs": Spec(200, int, "training length in epochs (total_iters, when set, takes precedence)"),
    "total_iters": Spec(None, int, "training length in iterations instead of epochs"),
    "output_dir": Spec("output_dir", str, "where logs, checkpoints, images and the resolved config go"),
    "seed": Spec(0, int, "random seed for weights, data order and augmentation (null = random)"),
    "device": Spec("auto", str, "auto (GPU when available), cpu or gpu", choices=("auto", "cpu", "gpu")),
    "amp": Spec(False, bool, "automatic mixed precision O1 with dynamic loss scaling (GPU only)"),
    "amp_dtype": Spec("float16", str, "AMP compute type", choices=("float16", "bfloat16")),
    "sync_bn": Spec(False, bool, "SyncBatchNorm across processes in distributed training"),
    "model": {
        "name": Spec("Pix2PixModel", str, "model type", choices=("Pix2PixModel",)),
        "generator": NetSpec(GENERATORS, "UnetGenerator", "generator: UnetGenerator (num_downs 8 = unet_256), "
                             "ResnetGenerator (n_blocks 9/6) or a preset name; constructor arguments as keys"),
        "discriminator": NetSpec(DISCRIMINATORS, "NLayerDiscriminator", "discriminator: NLayerDiscriminator "
                                 "(n_layers 0..5) or PixelDiscriminator; constructor arguments as keys"),
        "direction": Spec("AtoB", str, "AtoB or BtoA (a2b, b2a accepted): which side is the input",
                          normalize=_direction),
        "pixel_criterion": {
            "name": Spec("L1Loss", str, "pixel loss", choices=("L1Loss",)),
            "loss_weight": Spec(100.0, float, "lambda of the L1 term"),
        },
        "gan_criterion": {
            "name": Spec("GANLoss", str, "adversarial loss", choices=("GANLoss",)),
            "gan_mode": Spec("vanilla", str, "vanilla (BCE), lsgan, wgangp, hinge", choices=GAN_MODES),
            "loss_weight": Spec(1.0, float, "weight of the adversarial term in the generator loss"),
            "gp_weight": Spec(10.0, float, "gradient penalty weight (wgangp only)"),
        },
        "test_mode": Spec("paper", str, "test-time behaviour: paper (dropout on, batch statistics) or eval",
                          choices=TEST_MODES),
    },
    "dataset": {
        "train": _dataset_schema("shuffle pairs each epoch (null = true)"),
        "test": _dataset_schema("shuffle pairs (null = false)"),
    },
    "lr_scheduler": {
        "name": Spec("LinearDecay", str, "LinearDecay (paper), StepDecay, CosineAnnealingDecay, ReduceOnPlateau",
                     choices=LR_POLICIES),
        "learning_rate": Spec(0.0002, float, "base learning rate of both optimizers"),
        "start_epoch": Spec(100, int, "LinearDecay: epochs at constant lr before the decay"),
        "decay_epochs": Spec(100, int, "LinearDecay: epochs of linear decay to ~0"),
        "iters_per_epoch": Spec(None, int, "ignored: taken from the dataset (kept for PaddleGAN configs)"),
        "step_size": Spec(50, int, "StepDecay: epochs between lr drops"),
        "gamma": Spec(0.1, float, "StepDecay: lr factor at each drop"),
        "eta_min": Spec(0.0, float, "CosineAnnealingDecay: final lr"),
        "factor": Spec(0.2, float, "ReduceOnPlateau: lr factor"),
        "patience": Spec(5, int, "ReduceOnPlateau: validations without improvement before a drop"),
        "threshold": Spec(0.01, float, "ReduceOnPlateau: relative improvement that counts"),
    },
    "optimizer": {"optimG": _optimizer_schema("netG"), "optimD": _optimizer_schema("netD")},
    "log_config": {
        "interval": Spec(100, int, "iterations between log lines (0 = one line per epoch)", normalize=_interval),
        "visiual_interval": Spec(500, int, "iterations between VisualDL image triplets (PaddleGAN spelling; 0 = "
                                 "never)", normalize=_interval),
    },
    "snapshot_config": {
        "interval": Spec(5, int, "epochs between checkpoints (0 = only at the end of training)",
                         normalize=_interval),
        "interval_iters": Spec(None, int, "iterations between checkpoints (in addition to interval; null or 0 = "
                               "never)", normalize=_interval),
        "keep_last": Spec(3, int, "numbered checkpoints kept (latest and best are always kept)"),
        "weights_only": Spec(False, bool, "numbered checkpoints hold only the netG/netD weights (about a third of "
                             "the size, not resumable); latest stays a full checkpoint"),
    },
    "validate": {
        "interval": Spec(1, int, "epochs between validations on dataset.test (0 = never)", normalize=_interval),
        "max_images": Spec(None, int, "validate on at most this many test pairs (null = all)"),
        "save_img": Spec(False, bool, "write input | output | target images to output_dir/validation/epoch_N"),
        "best_metric": Spec("psnr", str, "metric that selects the best checkpoint", choices=("l1", "psnr", "ssim")),
        "metrics": Spec(None, (dict, list), "accepted for PaddleGAN configs; ppix2pix reports L1, PSNR, SSIM"),
    },
    "export_model": Spec(None, list, "accepted for PaddleGAN configs; export with tools/export.py"),
}


def _unknown_key(full_key, key, valid, owner="here"):
    hint = difflib.get_close_matches(key, list(valid), n=1)
    suggestion = f"; did you mean '{full_key[:-len(key)]}{hint[0]}'?" if hint else ""
    return ConfigError(f"unknown config key '{full_key}'{suggestion} (valid {owner}: {', '.join(valid)})")


def _normalize_preprocess(section, key):
    """Turn a PaddleGAN preprocess list into ppix2pix's options; keys set explicitly beside it win."""
    if not isinstance(section.get("preprocess"), list):
        return section
    try:
        options = options_from_pipeline(section["preprocess"], f"{key}.preprocess")
    except ValueError as error:
        raise ConfigError(str(error)) from None
    explicit = {sub: value for sub, value in section.items() if sub != "preprocess"}
    return {**options, **explicit}


def _resolve(schema, raw, key):
    if isinstance(schema, (Spec, NetSpec)):
        if isinstance(schema, Spec):
            return schema.resolve(copy.deepcopy(raw if raw is not None else schema.default), key)
        return schema.resolve(raw, key)
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{key or 'the config'} must be a mapping of keys, got {raw!r}")
    if key.startswith("dataset.") and key.count(".") == 1:
        raw = _normalize_preprocess(raw, key)
    for sub in raw:
        if sub not in schema:
            raise _unknown_key(f"{key}.{sub}" if key else str(sub), str(sub), list(schema))
    return {sub: _resolve(spec, raw.get(sub), f"{key}.{sub}" if key else sub) for sub, spec in schema.items()}


def parse_override(text):
    """Split ``'a.b=value'`` into (['a', 'b'], value) with the value read as YAML (numbers, bools, lists)."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} must look like key.sub=value")
    key, value = text.split("=", 1)
    try:
        return key.strip().split("."), yaml.safe_load(value)
    except yaml.YAMLError as error:
        raise ConfigError(f"override {text!r}: cannot read the value ({error})") from None


def apply_overrides(raw, overrides):
    """Apply ``-o key.sub=value`` overrides to a raw (unresolved) config dict, in place."""
    for text in overrides or ():
        path, value = parse_override(text)
        node = raw
        for part in path[:-1]:
            if not isinstance(node.get(part), dict):
                node[part] = {}
            node = node[part]
        node[path[-1]] = value
    return raw


def read_yaml(path):
    """Read a YAML mapping from ``path`` with errors that name the file."""
    if not os.path.isfile(path):
        raise ConfigError(f"config file {path!r} does not exist (see configs/ for the shipped ones)")
    with open(path, encoding="utf-8") as handle:
        try:
            raw = yaml.safe_load(handle)
        except yaml.YAMLError as error:
            raise ConfigError(f"{path}: not valid YAML: {error}") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys")
    return raw


def _check_consistency(cfg, raw):
    """Cross-key rules: D sees input and output channels; Lab colorization is 1 channel in, 2 out."""
    generator, discriminator = cfg["model"]["generator"], cfg["model"]["discriminator"]
    pair_channels = generator["input_nc"] + generator["output_nc"]
    if "input_nc" not in ((raw.get("model") or {}).get("discriminator") or {}):
        discriminator["input_nc"] = pair_channels
    elif discriminator["input_nc"] != pair_channels:
        raise ConfigError(f"model.discriminator.input_nc is {discriminator['input_nc']}, but the discriminator sees "
                          f"the generator's input and output together: {generator['input_nc']} + "
                          f"{generator['output_nc']} = {pair_channels}; set it to {pair_channels} or leave it out")
    for split, section in cfg["dataset"].items():
        if section["color_space"] == "lab" and (generator["input_nc"], generator["output_nc"]) != (1, 2):
            raise ConfigError(f"dataset.{split}.color_space is lab (L in, ab out), so model.generator needs "
                              f"input_nc: 1 and output_nc: 2, got {generator['input_nc']} and "
                              f"{generator['output_nc']}")


def resolve_config(raw, source="config"):
    """Validate a raw config dict and fill in every default; errors name ``source``."""
    try:
        cfg = _resolve(SCHEMA, raw, "")
        _check_consistency(cfg, raw)
    except ConfigError as error:
        raise ConfigError(f"{source}: {error}") from None
    return cfg


def checkpoint_config(state, path):
    """The resolved config stored in a checkpoint dict (validated against this version's schema; a config that does
    not validate is a :class:`CheckpointError` of the file)."""
    if "config" not in state:
        raise CheckpointError(f"{path} holds weights only, without the config that describes its networks; "
                              f"pass the training config (--config FILE) so ppix2pix can rebuild them")
    try:
        return resolve_config(state["config"], f"config stored in {path}")
    except ConfigError as error:
        raise CheckpointError(str(error)) from None


def load_config(path=None, overrides=()):
    """Load ``path`` (or the defaults when None), apply overrides and return the resolved config dict.

    An error names where the value came from: the file, or the ``-o`` override that brought it in.
    """
    raw = read_yaml(path) if path else {}
    return resolve_with_overrides(raw, overrides, path or "defaults")


def resolve_with_overrides(raw, overrides, source):
    """:func:`resolve_config` of ``raw`` with the overrides applied; errors name ``source`` or the ``-o`` text."""
    try:
        return resolve_config(apply_overrides(copy.deepcopy(raw), overrides), source)
    except ConfigError:
        if not overrides:
            raise
    resolve_config(copy.deepcopy(raw), source)  # an error of the file itself names the file
    for count, text in enumerate(overrides, 1):  # else the first override that breaks it
        resolve_config(apply_overrides(copy.deepcopy(raw), overrides[:count]), f"-o {text}")
    raise AssertionError("unreachable: the overrides together failed, so one of their prefixes fails")


def default_config():
    """The fully resolved default config (the paper's settings)."""
    return resolve_config({}, "defaults")


def save_config(cfg, path):
    """Write a resolved config as YAML (the file loads back to the same dict)."""
    with open(path, "w", encoding="utf-8") as handle:
        yaml.safe_dump(cfg, handle, sort_keys=False, allow_unicode=True)


def shown_path(path):
    """``'path'`` for messages, with the absolute path it resolves to when it is relative."""
    return repr(path) if os.path.isabs(path) else f"{path!r} (resolved to {os.path.abspath(path)})"


def check_data_paths(cfg, splits, flags=None):
    """Fail early, naming the key, when a dataset folder of the given splits is missing.

    ``flags`` maps a key (``dataset.test.dataroot``) to the command-line flag that set it (``--dataroot``): the fix
    the error suggests is then that flag rather than ``-o key=PATH``.
    """
    flags = flags or {}
    for split in splits:
        section = cfg["dataset"][split]
        if section["pair_list"]:
            key = f"dataset.{split}.pair_list"
            if not os.path.isfile(section["pair_list"]):
                raise ConfigError(f"{key}: file {shown_path(section['pair_list'])} does not exist; "
                                  f"{_path_fix(key, flags, 'FILE')}")
            continue
        keys = ("dataroot_a", "dataroot_b") if section["dataroot_a"] or section["dataroot_b"] else ("dataroot",)
        for name in keys:
            key, folder = f"dataset.{split}.{name}", section[name]
            if not folder:
                raise ConfigError(f"{key} is not set; point it at your data with -o {key}=PATH")
            if not os.path.isdir(folder):
                raise ConfigError(f"{key}: folder {shown_path(folder)} does not exist; {_path_fix(key, flags, 'PATH')} "
                                  f"(tools/prepare_data.py builds datasets)")


def _path_fix(key, flags, placeholder):
    """What to change: the flag that set ``key``, else the config or ``-o key=...``."""
    if key in flags:
        return f"fix the path given to {flags[key]}"
    return f"fix the path in the config or pass -o {key}={placeholder}"


def iter_schema(schema=SCHEMA, prefix=""):
    """Yield (key, default, doc) for every config key, for documentation."""
    for key, spec in schema.items():
        full = f"{prefix}{key}"
        if isinstance(spec, dict):
            yield from iter_schema(spec, full + ".")
        elif isinstance(spec, NetSpec):
            yield full, {"name": spec.default_name}, spec.doc
        else:
            yield full, spec.default, spec.doc
