"""Foreign pix2pix weights as ppix2pix checkpoints: PyTorch ``.pth`` files and PaddleGAN ``.pdparams`` files.

A foreign file may hold a bare state dict (the official model zoo's ``latest_net_G.pth``) or wrap state dicts in a
dict (``{'state_dict': ...}``, PaddleGAN's ``{'netG': ..., 'netD': ..., 'optimG': ..., 'epoch': ...}``); each state
dict found is recognized as a generator or discriminator by its keys. The networks' architecture is inferred from
the weights (see :mod:`.architecture`) or taken from a config, and single keys can be overridden.
"""
import copy
import logging
import os

from ..checkpoint import read_paddle_file
from ..config import default_config, resolve_config
from ..errors import ArchitectureError, CheckpointError, ConfigError
from ..networks import DISCRIMINATORS, GENERATORS, network_defaults
from ..safe_loading import damaged
from .architecture import infer_network, network_role
from .layouts import FRAMEWORKS, RENAMES, SECTIONS, to_ppix2pix
from .torch_file import is_torch_file, read_torch_file

log = logging.getLogger(__name__)

# What the weights cannot tell, per framework: the reference trains pix2pix with dropout, PaddleGAN's configs without.
FRAMEWORK_DEFAULTS = {
    "pytorch": {"use_dropout": True, "padding_type": "reflect"},
    "paddlegan": {"use_dropout": False, "padding_type": "reflect"},
}
REGISTRIES = {"netG": GENERATORS, "netD": DISCRIMINATORS}


def _is_state_dict(value):
    return (isinstance(value, dict) and len(value) > 0 and all(isinstance(key, str) for key in value)
            and all(hasattr(item, "shape") and hasattr(item, "dtype") for item in value.values()))


def find_networks(obj, framework, source):
    """``{'netG': weights, 'netD': weights}`` (either may be absent) found in a loaded foreign file, with ppix2pix
    key names and numpy values."""
    if _is_state_dict(obj):
        candidates = [("", obj)]
    elif isinstance(obj, dict):
        candidates = [(str(key), value) for key, value in obj.items() if _is_state_dict(value)]
    else:
        raise CheckpointError(f"{source}: holds a {type(obj).__name__}, not a state dict or a dict of state dicts")
    found = {"netG": [], "netD": []}
    for name, state_dict in candidates:
        weights = RENAMES[framework](state_dict)
        role = network_role(weights)
        if role is not None:
            found[role].append((name, weights))
    networks = {}
    for role, items in found.items():
        preferred = [item for item in items if item[0] == role]
        if len(items) > 1 and not preferred:
            raise CheckpointError(f"{source}: several {SECTIONS[role]}s ({', '.join(name for name, _ in items)}); "
                                  f"save the one you want on its own")
        if items:
            networks[role] = (preferred or items)[0][1]
    if not networks:
        keys = ", ".join(map(str, list(obj)[:8])) if isinstance(obj, dict) else ""
        raise CheckpointError(f"{source}: no pix2pix generator or discriminator weights found (keys: {keys})")
    return networks


def read_networks(path, framework, state=None):
    """The networks in a foreign file (see :func:`find_networks`); ``state``: the file's dict when already loaded."""
    if framework not in FRAMEWORKS:
        raise CheckpointError(f"unknown framework {framework!r}; choose one of {', '.join(FRAMEWORKS)}")
    if not os.path.isfile(path):
        raise CheckpointError(f"checkpoint {path!r} does not exist")
    is_torch = is_torch_file(path)
    if framework == "pytorch" and not is_torch:
        raise CheckpointError(f"{path} is not a PyTorch checkpoint (it may be a Paddle file: use --from paddlegan)")
    if framework == "paddlegan" and is_torch:
        raise CheckpointError(f"{path} is a PyTorch checkpoint, not a PaddleGAN file (use --from pytorch)")
    if state is None:
        state = read_torch_file(path) if is_torch else read_paddle_file(path)
    return find_networks(state, framework, path)


def override_section(section, overrides, role):
    """``section`` with single keys replaced; a new ``name`` (a preset like unet_256 too) keeps only the keys the
    new network takes."""
    overrides = dict(overrides or {})
    name = overrides.pop("name", None)
    registry = REGISTRIES[role]
    if name is not None:
        if name not in registry:
            raise ConfigError(f"unknown {SECTIONS[role]} {name!r}; choose one of {', '.join(registry)}")
        cls, fixed = registry[name]
        accepted = network_defaults(registry, cls.__name__)
        section = {key: value for key, value in section.items() if key in accepted}
        section.update(name=cls.__name__, **fixed)
    return {**section, **overrides}


def describe(section):
    """One line naming a network and its settings, e.g. ``UnetGenerator(input_nc=3, ..., norm_type=batch)``."""
    settings = ", ".join(f"{key}={value}" for key, value in section.items()
                         if key not in ("name", "init_type", "init_gain"))
    return f"{section['name']}({settings})"


def _architecture(weights, role, framework, section, overrides):
    """(section, assumed, inferred description) of one network; ``section`` None means: infer it."""
    try:
        inferred = infer_network(weights, FRAMEWORK_DEFAULTS[framework])
    except ArchitectureError:
        if section is None:
            raise
        inferred = None
    assumed = {}
    if section is None:
        section, assumed = inferred
    section = override_section(section, overrides, role)
    assumed = {key: why for key, why in assumed.items() if key not in (overrides or {})}
    return section, assumed, describe(inferred.section) if inferred else None


def converted_config(cfg, generator, discriminator, source):
    """A resolved config with the given network sections (``cfg``'s other settings, or the defaults)."""
    raw = copy.deepcopy(cfg) if cfg is not None else {}
    model = raw.setdefault("model", {})
    model["generator"], model["discriminator"] = generator, discriminator
    return resolve_config(raw, f"config for {source}")


def _config_discriminator(cfg, overrides):
    """The discriminator section for a file without one: ``cfg``'s (or the default), with ``overrides``; its input
    channels follow the generator's."""
    section = (cfg or default_config())["model"]["discriminator"]
    return override_section({k: v for k, v in section.items() if k != "input_nc"}, overrides, "netD")


def foreign_checkpoint(path, framework, cfg=None, generator=None, discriminator=None, state=None, infer=None):
    """A ppix2pix checkpoint dict (``netG``, ``netD`` when the file has one, ``config``, ``converted_from``) from a
    PyTorch or PaddleGAN file.

    The networks are inferred from the weights when ``infer`` (default: when no ``cfg`` is given), else they are
    ``cfg``'s (a resolved config); ``generator`` / ``discriminator`` override single section keys
    (``{'name': 'unet_256', 'use_dropout': False}``). The rest of the config is ``cfg``'s or the defaults.
    ``converted_from['assumed']`` lists the settings the weights could not tell. ``state``: the file's dict when
    already loaded.
    """
    infer = cfg is None if infer is None else infer
    networks = read_networks(path, framework, state)
    try:
        return _converted(networks, path, framework, cfg, {"netG": generator, "netD": discriminator}, infer)
    except (CheckpointError, ConfigError):
        raise
    except Exception as error:  # weights no ppix2pix network takes: num_downs < 5, shapes of another rank...
        raise CheckpointError(f"{path}: these weights fit no pix2pix network ppix2pix builds "
                              f"({damaged(error)})") from None


def _converted(networks, path, framework, cfg, overrides, infer):
    """The checkpoint dict of :func:`foreign_checkpoint` from the file's networks."""
    if "netG" not in networks:
        raise CheckpointError(f"{path} holds no pix2pix generator weights (only a discriminator)")
    sections, assumed, inferred = {}, {}, {}
    for role, weights in networks.items():
        given = None if infer else cfg["model"][SECTIONS[role]]
        sections[role], role_assumed, inferred[role] = _architecture(weights, role, framework, given, overrides[role])
        assumed.update({f"model.{SECTIONS[role]}.{key}": why for key, why in role_assumed.items()})
    if "netD" not in networks:
        sections["netD"] = _config_discriminator(cfg, overrides["netD"])
    config = converted_config(cfg, sections["netG"], sections["netD"], path)
    checkpoint = {"config": config, "converted_from": {"framework": framework, "file": path, "assumed": assumed}}
    for role, weights in networks.items():
        section = config["model"][SECTIONS[role]]
        seen = (f"{path} looks like {inferred[role]}, the config asks for {describe(section)}"
                if inferred[role] else f"{path} does not look like any pix2pix network")
        hint = f"{seen}; set the architecture to match (tools/convert.py --netG/--norm/..., or a config)"
        checkpoint[role] = to_ppix2pix(weights, section, role, framework, path, hint=hint)
    for line in assumptions(checkpoint):
        log.info("%s: assumed %s", path, line)
    return checkpoint


def assumptions(checkpoint):
    """Lines like ``model.generator.use_dropout=True (dropout layers have no weights)`` for a converted checkpoint:
    the settings its weights could not tell."""
    lines = []
    for key, why in checkpoint.get("converted_from", {}).get("assumed", {}).items():
        value = checkpoint["config"]
        for part in key.split("."):
            value = value[part]
        lines.append(f"{key}={value} ({why})")
    return lines
