"""GPU slots: on one machine, every GPU job holds one slot of (GPU × jobs per GPU) while it runs.

Snakemake has no GPU-id assignment (snakemake/snakemake#281): ``resources: gpu=1`` is only a
number, and without ``--resources gpu=N`` not even a limit. So the workflow does two things on a
machine with GPUs (``workflow/rules/common.smk``, :func:`workflow_limit`):

- it limits the ``gpu`` resource to (number of GPUs) × ``resources.jobs_per_gpu`` unless the
  command line gives its own ``--resources gpu=K``, so Snakemake never starts more GPU jobs
  than there are slots and the cores run CPU jobs beside them;
- every job that declares ``gpu`` > 0 takes a slot before anything else (:func:`claim`, called
  by :func:`fairat.runtime.jobserver.hand_over` at the top of every workflow script), and sets
  ``CUDA_VISIBLE_DEVICES`` to that one GPU before any CUDA call. The job server's copy gets
  the job's environment and the slot's lock with it, and the server never initialises CUDA
  (``tests/test_gpuslots.py`` checks that importing what it preloads makes no CUDA call).

A slot is an exclusive ``flock`` on the file ``<GPU id>.slot<k>.lock`` in :func:`slot_dir`
(``/tmp/fairat-gpu-slots-<uid>``, or ``FAIRAT_GPU_SLOT_DIR``). The operating system releases
it when the last process holding it ends, however it ends (SIGKILL included), and every
Snakemake process of the user on the machine uses the same files, so two of them share the
pool. ``XDG_RUNTIME_DIR`` is not used: it is unset under cron and some ``ssh``/``nohup``
sessions, and two processes must find the same directory.

The GPUs (:func:`detect_gpus`): ``FAIRAT_FAKE_GPUS`` (tests: slots without GPUs), else
``CUDA_VISIBLE_DEVICES`` when set, else ``nvidia-smi -L``. The driver is asked through
``nvidia-smi`` rather than ``torch.cuda.device_count()`` in a subprocess: it needs no torch import
(seconds of CPU at every snakemake start and dry run: benchmarks/README.md#start-up), it cannot
leave CUDA initialised in the Snakemake process, and it ships with the driver. Its indices are PCI
bus order, so jobs also get ``CUDA_DEVICE_ORDER=PCI_BUS_ID`` (unless set): "GPU 1" in a log is
nvidia-smi's GPU 1. A GPU split into MIG instances contributes its MIG UUIDs.

Off on Slurm (``SLURM_JOB_ID`` set: Slurm gives each job its GPUs and ``CUDA_VISIBLE_DEVICES``)
and for jobs that ask for no GPU. Standard library only: it runs before torch is imported.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FAKE_ENV = "FAIRAT_FAKE_GPUS"  # comma-separated fake GPU ids (tests)
POOL_ENV = "FAIRAT_GPU_POOL"  # the pool the workflow resolved, passed on to its jobs
PER_GPU_ENV = "FAIRAT_JOBS_PER_GPU"  # resources.jobs_per_gpu, passed on to the jobs
DIR_ENV = "FAIRAT_GPU_SLOT_DIR"  # where the slot lock files are
HELD_ENV = "FAIRAT_GPU_SLOT"  # set in a job that holds a slot (JSON: gpu, slot, per_gpu, taken)
POLL_SECONDS = 0.5  # how often a job waits for a slot held by another process


@dataclass
class Slot:
    gpu: str  # the id given to CUDA_VISIBLE_DEVICES
    index: int  # 0 .. per_gpu - 1
    per_gpu: int
    fd: int  # the open, flock-ed lock file
    taken: float  # time.time() once the lock was held

    def describe(self) -> str:
        return f"GPU {self.gpu} (slot {self.index + 1} of {self.per_gpu})"

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # the lock goes with the last descriptor of this open file
            self.fd = -1


def parse_ids(text: str) -> list[str]:
    """GPU ids from a comma-separated list, as CUDA reads ``CUDA_VISIBLE_DEVICES``: blanks
    dropped, duplicates once, and the list ends at an id starting with ``-`` (``-1`` hides
    every GPU)."""
    ids: list[str] = []
    for part in text.split(","):
        part = part.strip()
        if part.startswith("-"):
            break
        if part and part not in ids:
            ids.append(part)
    return ids


def parse_nvidia_smi(listing: str) -> list[str]:
    """The ids of ``nvidia-smi -L``'s GPUs: the index of each, or the UUIDs of its MIG
    instances where it has some."""
    gpus: list[list[str]] = []  # per GPU: [index, MIG UUIDs...]
    for line in listing.splitlines():
        gpu = re.match(r"GPU (\d+):", line)
        mig = re.match(r"\s+MIG .*\(UUID: (MIG-[^)\s]+)\)", line)
        if gpu:
            gpus.append([gpu.group(1)])
        elif mig and gpus:
            gpus[-1].append(mig.group(1))
    return [uuid for g in gpus for uuid in (g[1:] or g[:1])]


def driver_gpus() -> list[str]:
    """The GPUs ``nvidia-smi -L`` lists; none if it is missing or fails."""
    try:
        done = subprocess.run(
            ["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return []
    return parse_nvidia_smi(done.stdout) if done.returncode == 0 else []


def detect_gpus(env: os._Environ | dict = os.environ) -> tuple[list[str], str]:
    """The machine's GPU ids for slots and where they came from (module docstring)."""
    for source in (FAKE_ENV, "CUDA_VISIBLE_DEVICES"):
        if env.get(source) is not None:
            return parse_ids(env[source]), source
    return driver_gpus(), "nvidia-smi"


def slurm_assigns(env: os._Environ | dict = os.environ) -> bool:
    """Inside a Slurm job, Slurm has chosen the GPUs: no slots."""
    return "SLURM_JOB_ID" in env


def workflow_limit(
    given: int | None, gpus: list[str], per_gpu: int, gpu_per_job: int
) -> int | None:
    """The ``gpu`` resource limit the workflow sets on one machine: None (leave Snakemake's)
    when the command line gave one (``given``), for CPU-only jobs or with no GPU found; else
    GPUs × jobs per GPU."""
    if given is not None or gpu_per_job == 0 or not gpus:
        return None
    return len(gpus) * per_gpu


def slot_dir(env: os._Environ | dict = os.environ) -> Path:
    """The directory of the lock files, private to the user (module docstring)."""
    path = Path(env.get(DIR_ENV) or f"/tmp/fairat-gpu-slots-{os.getuid()}")
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.stat().st_uid != os.getuid():
        raise RuntimeError(f"GPU slots: {path} belongs to another user; set {DIR_ENV}")
    return path


def _lock_path(directory: Path, gpu: str, index: int) -> Path:
    return directory / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', gpu)}.slot{index}.lock"


def _try_lock(path: Path) -> int | None:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def try_acquire(gpus: list[str], per_gpu: int, directory: Path) -> Slot | None:
    """A free slot on the GPU with the fewest taken slots (the first such GPU in the pool's
    order), or None when all are taken. Choosing is serialised by a lock of its own, so that
    two jobs starting at once count the same free slots."""
    with open(directory / "choose.lock", "a") as chooser:
        fcntl.flock(chooser, fcntl.LOCK_EX)  # released when the file closes
        free: list[tuple[int, int, int, int]] = []  # (taken on its GPU, GPU order, index, fd)
        for order, gpu in enumerate(gpus):
            fds = {k: _try_lock(_lock_path(directory, gpu, k)) for k in range(per_gpu)}
            taken = sum(fd is None for fd in fds.values())
            free += [(taken, order, k, fd) for k, fd in fds.items() if fd is not None]
        if not free:
            return None
        best = min(free)
        for *_, fd in free:
            if fd != best[3]:
                os.close(fd)
    _, order, index, fd = best
    return Slot(gpus[order], index, per_gpu, fd, time.time())


def acquire(
    gpus: list[str],
    per_gpu: int,
    directory: Path,
    *,
    holder: str = "",
    on_wait: Any = None,
) -> Slot:
    """Wait for a slot (:func:`try_acquire`, every :data:`POLL_SECONDS`); ``on_wait()`` is
    called once if it has to wait. ``holder`` is written into the lock file (for a person
    looking at who holds what)."""
    if not gpus or per_gpu < 1:
        raise ValueError(f"GPU slots: no slots in a pool of {gpus} × {per_gpu}")
    waited = False
    while True:
        slot = try_acquire(gpus, per_gpu, directory)
        if slot is not None:
            os.ftruncate(slot.fd, 0)
            os.pwrite(slot.fd, f"{os.getpid()} {holder}\n".encode(), 0)
            return slot
        if not waited and on_wait is not None:
            on_wait()
        waited = True
        time.sleep(POLL_SECONDS)


def held() -> dict | None:
    """The slot this job holds (gpu, slot, per_gpu, taken), from its environment; None if none."""
    text = os.environ.get(HELD_ENV)
    return json.loads(text) if text else None


def held_line() -> str | None:
    """The line a job's log starts with when it holds a slot: which GPU, since when, and what
    this process sees in ``CUDA_VISIBLE_DEVICES``."""
    slot = held()
    if slot is None:
        return None
    return (
        f"GPU slot: GPU {slot['gpu']}, slot {slot['slot'] + 1} of {slot['per_gpu']}, "
        f"taken at {slot['taken']:.6f}; pid {os.getpid()} sees CUDA_VISIBLE_DEVICES="
        f"{os.environ.get('CUDA_VISIBLE_DEVICES', '<unset>')}"
    )


_SLOT: Slot | None = None  # the slot this process holds (claim)


def claim(snakemake: Any) -> Slot | None:
    """In a workflow job that asks for a GPU: take a slot, show only its GPU to CUDA, say so on
    the console, and release it at exit after writing the release time to the job's log.

    A no-op for a job without ``gpu``, on Slurm, with no GPU found (``device: cuda`` then
    fails with its own message), and in a job that already holds one (the job server's copy
    of a job, which inherits the environment)."""
    global _SLOT
    if _SLOT is not None or held() is not None or slurm_assigns():
        return None
    if int(getattr(getattr(snakemake, "resources", None), "gpu", 0) or 0) < 1:
        return None
    if POOL_ENV in os.environ:
        gpus = parse_ids(os.environ[POOL_ENV])
    else:
        gpus, source = detect_gpus()
        if source == "nvidia-smi":
            os.environ.setdefault("CUDA_DEVICE_ORDER", "PCI_BUS_ID")
    if not gpus:
        return None
    per_gpu = int(os.environ.get(PER_GPU_ENV, "1"))
    job = f"{snakemake.rule} " + " ".join(f"{k}={v}" for k, v in snakemake.wildcards.items())

    def waiting():
        _console(f"fairat: {job} waits for a free GPU slot")

    slot = acquire(gpus, per_gpu, slot_dir(), holder=job, on_wait=waiting)
    _SLOT = slot
    os.environ["CUDA_VISIBLE_DEVICES"] = slot.gpu
    os.environ[HELD_ENV] = json.dumps(
        {"gpu": slot.gpu, "slot": slot.index, "per_gpu": per_gpu, "taken": slot.taken}
    )
    _console(f"fairat: {job} runs on {slot.describe()}")
    log = str(snakemake.log[0]) if len(snakemake.log) else None
    atexit.register(_release, slot, log)
    return slot


def _console(line: str) -> None:
    """One line on the job's stderr (Snakemake's console), in one write: the jobs and Snakemake
    share that stream, and a line written in pieces could be split by another's."""
    sys.stderr.flush()
    os.write(2, f"{line}\n".encode())


def _release(slot: Slot, log: str | None) -> None:
    """At the job's exit: the release time into its log, then the lock."""
    if log is not None:
        with contextlib.suppress(OSError), open(log, "a") as f:
            f.write(
                f"GPU slot: GPU {slot.gpu}, slot {slot.index + 1} of {slot.per_gpu}, "
                f"released at {time.time():.6f} by pid {os.getpid()}\n"
            )
    slot.release()
