"""Read a PaddleGAN ``preprocess`` pipeline (a list of transform specs) as ppix2pix preprocessing options.

PaddleGAN configs describe preprocessing as a list (LoadImageFromFile, SplitPairedImage, Transforms[Resize,
PairedRandomCrop, PairedRandomHorizontalFlip, Transpose, Normalize]). ppix2pix has one paired-transform
implementation driven by ``preprocess``/``load_size``/``crop_size``/``no_flip``; this module maps one onto the other
and refuses anything it cannot reproduce exactly.
"""

PASSIVE = ("LoadImageFromFile", "SplitPairedImage", "Transpose", "Permute", "Normalize")
SUPPORTED = PASSIVE + ("Transforms", "Resize", "PairedRandomCrop", "PairedRandomHorizontalFlip")
INTERPOLATIONS = {"bicubic": "bicubic", "bilinear": "bilinear", "nearest": "nearest", "area": "area",
                  0: "nearest", 1: "bilinear", 2: "bicubic", 3: "area"}


def _flatten(pipeline, where):
    """Yield (location, spec) for every transform, expanding nested ``Transforms`` lists."""
    for index, spec in enumerate(pipeline):
        here = f"{where}[{index}]"
        if not isinstance(spec, dict) or "name" not in spec:
            raise ValueError(f"{here}: each preprocess step needs a 'name', got {spec!r}")
        if spec["name"] in ("Transforms", "Transform"):
            yield from _flatten(spec.get("pipeline", spec.get("transforms", [])), f"{here}.pipeline")
        else:
            yield f"{here} ({spec['name']})", spec


def _square_size(spec, where):
    size = spec.get("size")
    if isinstance(size, int):
        return size
    if isinstance(size, (list, tuple)) and len(size) == 2 and size[0] == size[1]:
        return int(size[0])
    raise ValueError(f"{where}: ppix2pix supports square sizes here, got size={size!r}")


def options_from_pipeline(pipeline, where="dataset.preprocess"):
    """Return ``{preprocess, load_size, crop_size, no_flip, interpolation}`` equivalent to a PaddleGAN pipeline."""
    options = {"no_flip": True}
    resize = crop = None
    for here, spec in _flatten(pipeline, where):
        name = spec["name"]
        if name == "Resize":
            resize = _square_size(spec, here)
            interpolation = spec.get("interpolation", "bilinear")
            if interpolation not in INTERPOLATIONS:
                raise ValueError(f"{here}: unknown interpolation {interpolation!r}")
            options["interpolation"] = INTERPOLATIONS[interpolation]
        elif name == "PairedRandomCrop":
            crop = _square_size(spec, here)
        elif name == "PairedRandomHorizontalFlip":
            prob = float(spec.get("prob", 0.5))
            if prob not in (0.0, 0.5):
                raise ValueError(f"{here}: ppix2pix flips with probability 0.5 (or not at all), got prob={prob}")
            options["no_flip"] = prob == 0.0
        elif name == "Normalize":
            for key in ("mean", "std"):
                if any(abs(float(v) - 127.5) > 1e-6 for v in spec.get(key, [127.5])):
                    raise ValueError(f"{here}: ppix2pix scales images to [-1, 1] (mean = std = 127.5), "
                                     f"got {key}={spec[key]}")
        elif name not in PASSIVE:
            raise ValueError(f"{here}: unsupported PaddleGAN transform; ppix2pix reads {', '.join(SUPPORTED)}")
    if resize is not None:
        options.update(preprocess="resize_and_crop", load_size=resize, crop_size=crop or resize)
    elif crop is not None:
        options.update(preprocess="crop", crop_size=crop)
    else:
        options.update(preprocess="none")
    return options
