"""Small helpers shared by the benchmark scripts: process facts, timing, the machine's GEMM peak, pix2pix FLOPs.

Framework-neutral (numpy only), so the PyTorch reference (run in its own venv) imports it too.
"""
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time

import numpy as np

TORCH_PYTHON_HELP = ("python of an environment with torch (and Pillow): default $TORCH_PYTHON, else the first "
                     "python3 / python on PATH that can import torch")
NO_TORCH_PYTHON = ("no python with torch found: pass --torch-python PYTHON or set TORCH_PYTHON (or put a python "
                   "that can import torch on PATH)")


def find_torch_python(given=None):
    """The python that runs the PyTorch side: ``given`` (``--torch-python``), else ``$TORCH_PYTHON``, else the first
    ``python3`` / ``python`` on PATH that imports torch; None when there is none (report :data:`NO_TORCH_PYTHON`)."""
    if given or os.environ.get("TORCH_PYTHON"):
        return given or os.environ["TORCH_PYTHON"]
    for name in ("python3", "python"):
        path = shutil.which(name)
        if path and subprocess.run([path, "-c", "import torch"], capture_output=True).returncode == 0:
            return path
    return None


def peak_rss_mb():
    """Peak resident memory of this process, MB."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def process_threads():
    """Threads of this process (from /proc), or None off Linux."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("Threads:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def process_counters():
    """(CPU seconds user + system, minor page faults) of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime, usage.ru_minflt


def cpu_model():
    """The CPU model name from /proc/cpuinfo (platform's answer elsewhere)."""
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def time_calls(function, repeats, warmup, counters=None):
    """Run ``function`` ``warmup`` times untimed, then ``repeats`` times; seconds of each timed call.

    With a dict as ``counters``, also stores the CPU seconds and minor page faults per timed call (means) in it:
    both depend less on other processes' load than wall time does.
    """
    for _ in range(warmup):
        function()
    times = []
    cpu_before, faults_before = process_counters()
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    if counters is not None:
        cpu_after, faults_after = process_counters()
        counters["cpu_s_per_call"] = round((cpu_after - cpu_before) / repeats, 4)
        counters["minor_faults_per_call"] = round((faults_after - faults_before) / repeats)
    return times


def serve_steps(step, warmup):
    """Worker side of ``compare.py --paired-steps``: run ``step`` ``warmup`` times, print ``{"ready": true}``, then
    for each ``step`` line on stdin run it once and print ``{"seconds": ...}``; at any other line or end of input
    print ``{"peak_rss_mb": ...}`` and return. One JSON object per stdout line."""
    for _ in range(warmup):
        step()
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        if line.strip() != "step":
            break
        start = time.perf_counter()
        step()
        print(json.dumps({"seconds": round(time.perf_counter() - start, 4)}), flush=True)
    print(json.dumps({"peak_rss_mb": peak_rss_mb()}), flush=True)


def summarize(times):
    """min / median / max of a list of seconds, rounded."""
    return {"min": round(min(times), 4), "median": round(statistics.median(times), 4), "max": round(max(times), 4)}


def gemm_peak_gflops(matmul=np.matmul, size=2048, repeats=5):
    """Best fp32 GFLOP/s of a ``size`` x ``size`` matrix product through ``matmul`` (numpy's BLAS by default)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size), dtype=np.float32)
    b = rng.standard_normal((size, size), dtype=np.float32)
    best = min(time_calls(lambda: matmul(a, b), repeats, warmup=1))
    return round(2 * size ** 3 / best / 1e9, 1)


def conv_flops(out_shape, in_channels, kernel_elements, transposed_in_shape=None):
    """Multiply-add FLOPs (2 per MAC) of one conv forward.

    Conv: 2 * N * C_out * H_out * W_out * C_in * k*k. Transposed conv (``transposed_in_shape`` = its input NCHW):
    2 * N * C_in * H_in * W_in * C_out * k*k.
    """
    if transposed_in_shape is not None:
        n, c_in, h, w = transposed_in_shape
        return 2 * n * c_in * h * w * out_shape[1] * kernel_elements
    n, c_out, h, w = out_shape
    return 2 * n * c_out * h * w * in_channels * kernel_elements


def train_step_gflops(generator_convs, discriminator_convs):
    """GFLOP of one pix2pix iteration from the forward FLOPs of each conv, in network order.

    G: forward, weight gradients, input gradients (none for the first layer). D: forward three times (fake detached,
    real, fake for G); in the D step weight + input gradients (not the first layer's input) for both passes; in the G
    step input gradients only (D is frozen). Elementwise ops and norms are not counted.
    """
    g_fwd, d_fwd = sum(generator_convs), sum(discriminator_convs)
    g_total = g_fwd + g_fwd + (g_fwd - generator_convs[0])
    d_total = 3 * d_fwd + 2 * (d_fwd + d_fwd - discriminator_convs[0]) + d_fwd
    return {"gflop_per_iter": round((g_total + d_total) / 1e9, 2), "generator_forward_gflop": round(g_fwd / 1e9, 2),
            "discriminator_forward_gflop": round(d_fwd / 1e9, 2)}


def print_json(document):
    """Print one JSON document to stdout (the scripts' machine-readable result)."""
    print(json.dumps(document, indent=2))


def threads_from_env(default):
    """The math thread count in effect: OMP_NUM_THREADS or ``default``."""
    return int(os.environ.get("OMP_NUM_THREADS") or default)
