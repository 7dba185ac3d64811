"""What every benchmark report states about where it ran: the machine, the library versions, the source commit,
and the process's peak memory. Shared by the ``bench_*.py`` scripts (run as scripts, so imported by file name)."""

from __future__ import annotations

import os
import platform
import resource
import subprocess
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def peak_rss_mb() -> float:
    """This process's peak resident memory in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def source_revision() -> str:
    """The commit the code was measured at, and whether zvt_crypto/ had uncommitted changes (read-only)."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "zvt_crypto"],
                               capture_output=True, text=True, cwd=ROOT, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return head + (" + uncommitted changes in zvt_crypto/" if dirty else "")


def machine_info(libraries: Sequence[str], extra: dict[str, str] | None = None) -> dict[str, str]:
    """OS, CPUs, Python, CPU model, RAM, ``extra``, the versions of ``libraries`` and the source revision."""
    info = {
        "OS": f"{platform.system()} {platform.release()} ({platform.machine()})",
        "CPUs (nproc)": str(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()),
        "Python": platform.python_version(),
        **(extra or {}),
    }
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                 if line.startswith("model name")]
        if names:
            info["CPU"] = names[0]
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        total_kb = int(meminfo.read_text().split("MemTotal:", 1)[1].split()[0])
        info["RAM"] = f"{total_kb / 1024 / 1024:.1f} GiB"
    versions = []
    for name in libraries:
        try:
            versions.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{name} (not installed)")
    info["libraries"] = ", ".join(versions)
    info["zvt_crypto source"] = source_revision()
    return info
