"""CPU runtime settings that must be in place before Paddle is imported.

Paddle forces ``OMP_NUM_THREADS=1`` when it is unset, and the MKL it bundles takes a slow generic code path on AMD
CPUs unless ``MKL_DEBUG_CPU_TYPE=5`` is set before it loads. :func:`tune_cpu_runtime` sets both (never overriding a
value the user already set) and records what it did so entry points can log it once. It also keeps glibc's malloc
from returning every large freed tensor to the kernel (each training step otherwise pays ~90k page faults for
re-mapping them), unless the user set any ``MALLOC_*`` variable. Set ``PPIX2PIX_NO_TUNE=1`` to switch all of it off,
or ``PPIX2PIX_NO_MALLOC_TUNE=1`` for the malloc part only. This module must not import Paddle.
"""
import ctypes
import os
import platform
import sys

DISABLE_VARIABLE = "PPIX2PIX_NO_TUNE"
DISABLE_MALLOC_VARIABLE = "PPIX2PIX_NO_MALLOC_TUNE"
# glibc mallopt parameters (malloc.h): never serve allocations by mmap (freed blocks stay in the heap for reuse),
# and give memory back to the kernel only when more than 1 GiB lies free at the top of the heap.
M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4
MALLOC_OPTIONS = ((M_MMAP_MAX, 0), (M_TRIM_THRESHOLD, 1 << 30))

_applied = {}
_notes = []


def usable_cores():
    """Number of CPU cores this process may run on (respects affinity masks and cgroup pinning)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def cpu_vendor():
    """'AuthenticAMD', 'GenuineIntel', ... or '' when /proc/cpuinfo is unavailable."""
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("vendor_id"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def env_switch_on(variable):
    """True when the environment variable is set to 1, true, yes or on (any case)."""
    return os.environ.get(variable, "").lower() in ("1", "true", "yes", "on")


def tune_malloc():
    """Apply :data:`MALLOC_OPTIONS` through glibc's ``mallopt``; returns a note for the runtime summary.

    Skipped (and said so) when the user set any ``MALLOC_*`` variable or ``GLIBC_TUNABLES``, when
    ``PPIX2PIX_NO_MALLOC_TUNE`` is set, and off glibc.
    """
    if env_switch_on(DISABLE_MALLOC_VARIABLE):
        return f"malloc tuning off ({DISABLE_MALLOC_VARIABLE} is set)"
    user_settings = sorted(name for name in os.environ if name.startswith("MALLOC_") or name == "GLIBC_TUNABLES")
    if user_settings:
        return f"malloc left as configured by the user ({', '.join(user_settings)})"
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return "malloc not tuned (not glibc)"
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return "malloc not tuned (mallopt unavailable)"
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    if not all(mallopt(option, value) == 1 for option, value in MALLOC_OPTIONS):
        return "malloc not tuned (mallopt refused)"
    return "malloc keeps freed memory for reuse (no mmap, trim above 1 GiB)"


def _set_default(name, value, reason):
    if name in os.environ:
        _notes.append(f"{name}={os.environ[name]} kept (set by user)")
        return
    os.environ[name] = value
    _applied[name] = value
    _notes.append(f"{name}={value} ({reason})")


def tune_cpu_runtime():
    """Set the thread count and MKL code path for fast CPU training; idempotent, never overrides the user."""
    if _notes:
        return
    if env_switch_on(DISABLE_VARIABLE):
        _notes.append(f"CPU tuning off ({DISABLE_VARIABLE} is set)")
        return
    _notes.append(tune_malloc())
    if "paddle" in sys.modules:
        _notes.append("CPU tuning skipped: paddle was imported before ppix2pix "
                      "(import ppix2pix first, or set OMP_NUM_THREADS yourself)")
        return
    local_processes = int(os.environ.get("PADDLE_LOCAL_SIZE", "1") or 1)
    if local_processes > 1 and os.environ.get("OMP_NUM_THREADS") == "1":
        # paddle.distributed.launch exports OMP_NUM_THREADS=1 to its workers; share the cores between them instead.
        del os.environ["OMP_NUM_THREADS"]
        _set_default("OMP_NUM_THREADS", str(max(1, usable_cores() // local_processes)),
                     f"usable cores / {local_processes} local processes")
    _set_default("OMP_NUM_THREADS", str(usable_cores()), "usable cores")
    if cpu_vendor() == "AuthenticAMD":
        _set_default("MKL_DEBUG_CPU_TYPE", "5", "AMD CPU: MKL's AVX2 path")


def runtime_summary():
    """One line describing the CPU settings in effect, for the start-up log."""
    return "CPU runtime: " + ("; ".join(_notes) if _notes else "not tuned")
