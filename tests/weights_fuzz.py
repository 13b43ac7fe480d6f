"""Seeded fuzzing of every weights loader with mutated real checkpoints (run by tests/test_weights_fuzz.py in a
subprocess with bounded address space, so that a crash or a memory bomb fails the test instead of the runner).

    python tests/weights_fuzz.py SEED CASES RESULT.json

The corpus: a ppix2pix training checkpoint (networks, Adam states, RNG states, config), the same networks as a
PaddleGAN file and a safetensors generator, and the PyTorch fixtures (zip and legacy). Each case mutates one of them
(truncation, flipped bytes, a swapped pickle opcode, a huge size written over an integer) and loads it through
``load_checkpoint`` (and ``read_torch_file`` for PyTorch files, ``load_generator`` when the checkpoint loaded). The
outcome must be a load or a :class:`CheckpointError`; anything else is recorded as a failure.
"""
import io
import json
import os
import pickletools
import random
import resource
import sys
import tempfile
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, "tests")]

import paddle  # noqa: E402

from ppix2pix.checkpoint import save_checkpoint  # noqa: E402
from ppix2pix.config import load_config  # noqa: E402
from ppix2pix.errors import CheckpointError  # noqa: E402
from ppix2pix.interop.paddlegan import save_paddlegan  # noqa: E402
from ppix2pix.interop.torch_file import read_torch_file  # noqa: E402
from ppix2pix.pix2pix import Pix2PixModel  # noqa: E402
from ppix2pix.rng import rng_state as _rng_state  # noqa: E402
from ppix2pix.weights import load_checkpoint, load_generator, save_safetensors  # noqa: E402

TORCH_FIXTURES = ["unet.pth", "unet_legacy.pth", "tensors.pth", "tensors_legacy.pth", "pixel_wrapped.pth"]
OPCODES = [opcode.code.encode("latin1") for opcode in pickletools.opcodes]
HUGE = [2 ** 31 - 1, 2 ** 32 - 1, 2 ** 40, 2 ** 62, 2 ** 64 - 1]


def real_checkpoints(folder):
    """{path: hot byte positions}: the corpus, each file with the positions of its structure (pickle opcodes,
    headers) that mutations favour over the bulk of tensor data."""
    cfg = load_config(None, ["model.generator.num_downs=5", "model.generator.ngf=2", "model.discriminator.ndf=2"])
    paddle.seed(0)
    model = Pix2PixModel(cfg)
    batch = paddle.rand([1, 3, 32, 32])
    model.train_step(batch, batch)
    state = dict(model.state_dict(), epoch=0, iteration=1, config=cfg, rng=_rng_state(), history=[], best=None)
    paths = [os.path.join(folder, name) for name in ("latest.pdparams", "paddlegan.pdparams", "netG.safetensors")]
    save_checkpoint(state, paths[0])
    save_paddlegan(state, paths[1])
    save_safetensors(state, paths[2])
    paths += [os.path.join(ROOT, "tests", "fixtures", "torch", name) for name in TORCH_FIXTURES]
    return {path: hot_positions(open(path, "rb").read()) for path in paths}


def _opcode_positions(data, start=0):
    """Positions of the opcodes of the pickle at ``data[start:]``, and where it ends."""
    stream = io.BytesIO(data)
    stream.seek(start)
    positions = [position for _, _, position in pickletools.genops(stream)]
    return positions, stream.tell()


def hot_positions(data):
    """Byte positions that hold structure: pickle opcodes, zip headers, the safetensors header."""
    if data.startswith(b"PK"):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
        return [position for info in infos for position in range(info.header_offset, info.header_offset + 30)] + \
            list(range(data.rfind(b"PK\x01\x02", 0, len(data) - 22), len(data)))
    if data[8:10] == b'{"':
        return list(range(0, 8 + int.from_bytes(data[:8], "little")))
    positions, end = [], 0
    while end < len(data) and data[end:end + 1] == b"\x80" and len(positions) < 100_000:
        found, end = _opcode_positions(data, end)  # legacy PyTorch files: several pickles, then raw storages
        positions += found
    return positions


def mutate(data, hot, rng):
    """(kind, mutated bytes) of one random mutation, favouring structural bytes."""
    kind = rng.choice(["truncate", "flip", "opcode", "huge", "zip pickle"] if data.startswith(b"PK") else
                      ["truncate", "flip", "opcode", "huge"])
    data = bytearray(data)
    where = lambda: rng.choice(hot) if hot and rng.random() < 0.8 else rng.randrange(len(data))  # noqa: E731
    if kind == "truncate":
        return kind, bytes(data[:where()])
    if kind == "flip":
        for _ in range(rng.randint(1, 8)):
            data[where()] ^= rng.randint(1, 255)
    elif kind == "opcode":
        data[where()] = rng.choice(OPCODES)[0]
    elif kind == "huge":
        position, width = where(), rng.choice([1, 2, 4, 8])
        value = rng.choice(HUGE) % (1 << (8 * width))
        data[position:position + width] = value.to_bytes(width, "little")
    else:
        return kind, mutate_zip_pickle(bytes(data), rng)
    return kind, bytes(data)


def mutate_zip_pickle(data, rng):
    """A PyTorch zip file whose data.pkl is mutated and the zip rebuilt, so that the CRC still matches."""
    output = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(output, "w") as target:
        for info in source.infolist():
            record = source.read(info)
            if info.filename.endswith("/data.pkl"):
                record = mutate(record, _opcode_positions(record)[0], rng)[1]
            target.writestr(info.filename, record)
    return output.getvalue()


def outcome(load, path):
    """'ok', 'refused' or 'failed: <exception>' of one loader on one file."""
    try:
        load(path)
    except CheckpointError as error:
        assert "\n" not in str(error), f"message of several lines: {error!r}"
        return "refused"
    except Exception as error:  # noqa: BLE001  (what the fuzzing looks for)
        return f"failed: {type(error).__name__}: {str(error)[:300]}"
    return "ok"


def _peak_resident_mb():
    """This process's own peak resident memory (VmHWM). Not ru_maxrss: Linux carries that over from the parent
    through fork and exec, so under a large pytest process it reports the parent's size."""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # no /proc: the best figure there is


def run(seed, cases):
    """Outcome counts and failures of ``cases`` mutations, seeded."""
    rng = random.Random(seed)
    counts, failures = {}, []
    with tempfile.TemporaryDirectory() as folder:
        corpus = real_checkpoints(folder)
        originals = {path: open(path, "rb").read() for path in corpus}
        for case in range(cases):
            source = list(corpus)[case % len(corpus)]
            kind, data = mutate(originals[source], corpus[source], rng)
            path = os.path.join(folder, f"case{os.path.splitext(source)[1]}")
            with open(path, "wb") as handle:
                handle.write(data)
            results = [(load_checkpoint, outcome(load_checkpoint, path))]
            if source.endswith(".pth"):
                results.append((read_torch_file, outcome(read_torch_file, path)))
            if results[0][1] == "ok" and rng.random() < 0.3:
                results.append((load_generator, outcome(load_generator, path)))
            for load, result in results:
                counts[result.split(":")[0]] = counts.get(result.split(":")[0], 0) + 1
                if result.startswith("failed"):
                    failures.append(f"case {case} ({kind} of {os.path.basename(source)}, {load.__name__}): {result}")
    peak_mb = _peak_resident_mb()
    return {"seed": seed, "cases": cases, "counts": counts, "failures": failures, "peak_rss_mb": peak_mb}


if __name__ == "__main__":
    seed, cases, result_path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    with open(result_path, "w", encoding="utf-8") as handle:
        json.dump(run(seed, cases), handle, indent=1)
