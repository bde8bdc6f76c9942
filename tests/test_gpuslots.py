"""fairat.runtime.gpuslots: GPU jobs on one machine each hold one slot of (GPU × jobs per GPU), see only
their GPU, and free it however they end; the workflow runs at most that many at once.

No GPU is needed: FAIRAT_FAKE_GPUS gives the pool, the computation stays on the CPU
(``device: cpu`` with ``resources.gpus_per_job: 1``), and every test uses a slot directory of
its own (FAIRAT_GPU_SLOT_DIR), never the user's real pool."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
import yaml
from helpers import REPO, run_snakemake

from fairat.runtime import gpuslots

SRC = str(REPO / "src")


def env_with(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAIRAT_")}
    env["PYTHONPATH"] = os.pathsep.join([SRC, env.get("PYTHONPATH", "")])
    return {**env, **extra}


# --- the pool


def test_ids_are_read_as_cuda_reads_visible_devices():
    assert gpuslots.parse_ids("0, 1,,1,3") == ["0", "1", "3"]
    assert gpuslots.parse_ids("2,-1,3") == ["2"]  # CUDA stops at an invalid id
    assert gpuslots.parse_ids("") == []
    assert gpuslots.parse_ids("GPU-8a1b,MIG-77") == ["GPU-8a1b", "MIG-77"]


NVIDIA_SMI_L = """\
GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-11111111-2222-3333-4444-555555555555)
GPU 1: NVIDIA A100-SXM4-40GB (UUID: GPU-66666666-7777-8888-9999-000000000000)
  MIG 3g.20gb     Device  0: (UUID: MIG-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee)
  MIG 3g.20gb     Device  1: (UUID: MIG-ffffffff-bbbb-cccc-dddd-eeeeeeeeeeee)
GPU 2: NVIDIA H100 80GB HBM3 (UUID: GPU-22222222-2222-3333-4444-555555555555)
"""


def test_nvidia_smi_listing_gives_indices_and_mig_instances():
    assert gpuslots.parse_nvidia_smi(NVIDIA_SMI_L) == [
        "0",
        "MIG-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        "MIG-ffffffff-bbbb-cccc-dddd-eeeeeeeeeeee",
        "2",
    ]


def test_fake_ids_then_visible_devices_then_the_driver(tmp_path, monkeypatch):
    smi = tmp_path / "bin" / "nvidia-smi"
    smi.parent.mkdir()
    smi.write_text(f"#!/bin/sh\ncat <<'EOF'\n{NVIDIA_SMI_L}EOF\n")
    smi.chmod(0o755)
    monkeypatch.setenv("PATH", f"{smi.parent}{os.pathsep}{os.environ['PATH']}")
    both = {"FAIRAT_FAKE_GPUS": "0,1", "CUDA_VISIBLE_DEVICES": "3"}
    assert gpuslots.detect_gpus(both) == (["0", "1"], "FAIRAT_FAKE_GPUS")
    assert gpuslots.detect_gpus({"CUDA_VISIBLE_DEVICES": "3"}) == (["3"], "CUDA_VISIBLE_DEVICES")
    assert gpuslots.detect_gpus({"CUDA_VISIBLE_DEVICES": ""}) == ([], "CUDA_VISIBLE_DEVICES")
    ids, source = gpuslots.detect_gpus({})
    assert source == "nvidia-smi" and len(ids) == 4 and ids[0] == "0"
    smi.write_text("#!/bin/sh\necho 'NVIDIA-SMI has failed' >&2\nexit 9\n")
    assert gpuslots.detect_gpus({}) == ([], "nvidia-smi")


def test_the_workflow_limit_is_gpus_times_jobs_per_gpu_unless_given():
    assert gpuslots.workflow_limit(None, ["0", "1"], 2, 1) == 4
    assert gpuslots.workflow_limit(1, ["0", "1"], 2, 1) is None  # --resources gpu=1 stays
    assert gpuslots.workflow_limit(None, ["0", "1"], 2, 0) is None  # CPU jobs: no limit
    assert gpuslots.workflow_limit(None, [], 2, 1) is None  # no GPU: device cuda fails itself


# --- the allocator


def test_slots_fill_the_least_busy_gpu_first_and_never_twice(tmp_path):
    pool = ["0", "1"]
    taken = [gpuslots.try_acquire(pool, 2, tmp_path) for _ in range(4)]
    assert [(s.gpu, s.index) for s in taken] == [("0", 0), ("1", 0), ("0", 1), ("1", 1)]
    assert gpuslots.try_acquire(pool, 2, tmp_path) is None  # all four held
    taken[1].release()
    again = gpuslots.try_acquire(pool, 2, tmp_path)
    assert (again.gpu, again.index) == ("1", 0)
    for slot in (*taken, again):
        slot.release()


HOLDER = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from fairat.runtime import gpuslots
    pool, per_gpu, directory, hold, out = sys.argv[1:6]
    directory = gpuslots.slot_dir({"FAIRAT_GPU_SLOT_DIR": directory})
    slot = gpuslots.acquire(pool.split(","), int(per_gpu), directory, holder="test")
    start = time.time()
    print("held", flush=True)
    time.sleep(float(hold))
    end = time.time()
    Path(out).write_text(json.dumps([slot.gpu, slot.index, start, end]))
    """
)


def holder(tmp_path: Path, pool: str, per_gpu: int, hold: float, name: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", HOLDER, pool, str(per_gpu), str(tmp_path / "slots"), str(hold)]
        + [str(tmp_path / f"{name}.json")],
        env=env_with(),
        stdout=subprocess.PIPE,
        text=True,
    )


def peak(intervals: list[tuple[float, float]]) -> int:
    """The most intervals that overlap at one moment (an end and a start at the same instant
    do not overlap)."""
    events = sorted([(a, 1) for a, _ in intervals] + [(b, -1) for _, b in intervals])
    now = best = 0
    for _, step in events:
        now += step
        best = max(best, now)
    return best


def check_packing(jobs: list[tuple[str, int, float, float]], pool: set[str], per_gpu: int):
    """No slot ever holds two jobs at once, no GPU more than ``per_gpu``; returns the peaks
    (all GPUs, per GPU) so a caller can check that the limits were reached, not idle."""
    assert {gpu for gpu, *_ in jobs} <= pool
    assert all(0 <= slot < per_gpu for _, slot, *_ in jobs)
    for key in {(gpu, slot) for gpu, slot, *_ in jobs}:
        held = [(a, b) for gpu, slot, a, b in jobs if (gpu, slot) == key]
        assert peak(held) == 1, f"slot {key} held by two jobs at once: {sorted(held)}"
    per_gpu_peak = {g: peak([(a, b) for gpu, _, a, b in jobs if gpu == g]) for g in pool}
    assert max(per_gpu_peak.values()) <= per_gpu, per_gpu_peak
    return peak([(a, b) for *_, a, b in jobs]), per_gpu_peak


def test_concurrent_processes_share_the_pool_without_doubling_a_slot(tmp_path):
    procs = [holder(tmp_path, "0,1", 2, 1.0, f"job{i}") for i in range(8)]
    for proc in procs:
        assert proc.wait(timeout=60) == 0
    jobs = [tuple(json.loads((tmp_path / f"job{i}.json").read_text())) for i in range(8)]
    total, per_gpu = check_packing(jobs, {"0", "1"}, 2)
    assert total <= 4
    # eight processes wanting one-second slots at once: the pool was full, both GPUs packed
    assert total == 4 and per_gpu == {"0": 2, "1": 2}


def test_a_killed_holder_frees_its_slot_for_the_next(tmp_path):
    first = holder(tmp_path, "7", 1, 600, "first")
    assert first.stdout.readline().strip() == "held"
    waiting = holder(tmp_path, "7", 1, 0, "second")
    time.sleep(1.0)  # it polls the held slot
    assert waiting.poll() is None, "a second job took a slot that was held"
    assert gpuslots.try_acquire(["7"], 1, tmp_path / "slots") is None
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    assert waiting.wait(timeout=30) == 0, "the slot of a SIGKILLed job was not freed"
    assert json.loads((tmp_path / "second.json").read_text())[:2] == ["7", 0]
    assert not (tmp_path / "first.json").exists()


# --- through the job server


JOB = textwrap.dedent(
    """
    import json, os, sys, time, types
    snakemake = globals().get("snakemake") or types.SimpleNamespace(
        resources=types.SimpleNamespace(gpu=1), rule="train", wildcards={"seed": "0"},
        log=[os.environ["LOG"]],
    )
    from fairat.runtime.jobserver import hand_over
    hand_over(snakemake, __file__)
    import fairat.runtime.jobserver
    from fairat.runtime.logs import log_to
    with log_to(snakemake.log[0]):
        print("working")
    seen = {"pid": os.getpid(), "in_copy": fairat.runtime.jobserver._IN_COPY,
            "visible": os.environ.get("CUDA_VISIBLE_DEVICES")}
    if os.environ.get("ASK_CUDA"):  # what CUDA itself shows this process (a real GPU)
        import torch
        seen["count"] = torch.cuda.device_count()
        seen["uuid"] = str(torch.cuda.get_device_properties(0).uuid)
    with open(os.environ["PIDFILE"], "w") as f:
        json.dump(seen, f)
    time.sleep(float(os.environ["HOLD"]))
    """
)


def wait_for(path: Path, timeout: float = 60.0) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if path.exists() and path.read_text():
            return json.loads(path.read_text())
        time.sleep(0.05)
    raise AssertionError(f"{path} was not written")


@pytest.mark.skipif(sys.platform != "linux", reason="the job server is Linux-only")
def test_the_job_servers_copy_holds_the_slot_and_sees_only_its_gpu(tmp_path):
    script = tmp_path / "job.py"
    script.write_text(JOB)
    slots = tmp_path / "slots"
    env = env_with(
        FAIRAT_FAKE_GPUS="4,5",
        FAIRAT_GPU_SLOT_DIR=str(slots),
        FAIRAT_JOBSERVER_IDLE="3",
        PYTHON_FAIRAT_TEST_SERVER=f"test-{uuid.uuid4().hex[:12]}",  # a server of its own
        CUDA_VISIBLE_DEVICES="4,5",  # what the job server's first job hands it: ignored
        LOG=str(tmp_path / "job.log"),
        PIDFILE=str(tmp_path / "copy.json"),
        HOLD="600",
    )
    job = subprocess.Popen([sys.executable, str(script)], env=env, stderr=subprocess.PIPE)
    copy = wait_for(tmp_path / "copy.json")
    assert copy["in_copy"] is True and copy["pid"] != job.pid
    assert copy["visible"] == "4"
    first_line = (tmp_path / "job.log").read_text().splitlines()[0]
    assert re.match(
        r"GPU slot: GPU 4, slot 1 of 1, taken at [0-9.]+; pid (\d+) sees "
        r"CUDA_VISIBLE_DEVICES=4$",
        first_line,
    ), first_line
    assert f"pid {copy['pid']} " in first_line  # written by the copy, which computes
    lock = str(gpuslots._lock_path(slots, "4", 0))
    held_by_copy = [
        os.readlink(f"/proc/{copy['pid']}/fd/{fd}") for fd in os.listdir(f"/proc/{copy['pid']}/fd")
    ]
    assert lock in held_by_copy, "the copy does not hold its job's slot"
    job.send_signal(signal.SIGKILL)
    job.wait(timeout=10)
    deadline = time.time() + 30
    while Path(f"/proc/{copy['pid']}").exists() and time.time() < deadline:
        time.sleep(0.05)
    # both 4 and 5 free again: the next job gets GPU 4's slot
    slot = gpuslots.try_acquire(["4", "5"], 1, slots)
    assert slot is not None and slot.gpu == "4"
    slot.release()


def real_gpus() -> list[tuple[str, str]]:
    """(index, UUID) of this machine's GPUs, as nvidia-smi lists them; none without one."""
    try:
        listing = subprocess.run(
            ["nvidia-smi", "--query-gpu=index,uuid", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [tuple(part.strip() for part in line.split(",")) for line in listing.splitlines()]


@pytest.mark.skipif(not real_gpus(), reason="needs a GPU (not run on the project's CPU machine)")
def test_on_real_gpus_each_copy_of_one_server_sees_only_its_gpu(tmp_path):
    """The GPU check of this module: jobs, one after the other, through one job server whose
    first job had another GPU; the GPUs from nvidia-smi. Each copy's CUDA shows one device,
    the one nvidia-smi lists under the slot's index."""
    gpus = real_gpus()
    script = tmp_path / "job.py"
    script.write_text(JOB)
    slots = tmp_path / "slots"
    base = env_with(
        FAIRAT_GPU_SLOT_DIR=str(slots),
        FAIRAT_JOBSERVER_IDLE="10",
        PYTHON_FAIRAT_TEST_SERVER=f"test-{uuid.uuid4().hex[:12]}",
        ASK_CUDA="1",
        HOLD="0",
    )
    base.pop("CUDA_VISIBLE_DEVICES", None)
    base.pop("CUDA_DEVICE_ORDER", None)
    blockers = []
    for n, (index, gpu_uuid) in enumerate(gpus[:4]):
        env = {**base, "LOG": str(tmp_path / f"job{n}.log"), "PIDFILE": str(tmp_path / f"{n}.json")}
        done = subprocess.run([sys.executable, str(script)], env=env, timeout=300)
        assert done.returncode == 0
        seen = json.loads((tmp_path / f"{n}.json").read_text())
        assert seen["in_copy"] is True and seen["visible"] == index
        assert seen["count"] == 1 and seen["uuid"] in gpu_uuid, (seen, gpus)
        # hold this GPU's slot, so that the next job gets the next GPU
        blockers.append(gpuslots.try_acquire([index], 1, slots))
    for slot in blockers:
        slot.release()


def test_a_jobs_log_and_its_failure_line_name_its_gpu(tmp_path, monkeypatch, capfd):
    from fairat.runtime.logs import log_to

    taken = {"gpu": "3", "slot": 1, "per_gpu": 2, "taken": 1.5}
    monkeypatch.setenv(gpuslots.HELD_ENV, json.dumps(taken))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3")
    log = tmp_path / "job.log"
    with pytest.raises(RuntimeError), log_to(log):
        raise RuntimeError("CUDA out of memory")
    first = log.read_text().splitlines()[0]
    assert first == (
        f"GPU slot: GPU 3, slot 2 of 2, taken at 1.500000; pid {os.getpid()} sees "
        "CUDA_VISIBLE_DEVICES=3"
    )
    assert f"RuntimeError: CUDA out of memory (details: {log}; on GPU 3)" in capfd.readouterr().err


def test_the_job_server_preloads_without_initialising_cuda():
    """CUDA reads CUDA_VISIBLE_DEVICES once, when it initialises: a server that had asked
    torch about devices would give every copy its first job's GPU (or none)."""
    probe = textwrap.dedent(
        """
        import json, torch
        calls = []
        def spy(name, real):
            def call(*a, **k):
                calls.append(name)
                return real(*a, **k)
            return call
        for name in ("_cuda_getDeviceCount", "_cuda_init"):
            setattr(torch._C, name, spy(name, getattr(torch._C, name)))
        for name in ("is_available", "device_count", "init", "_lazy_init",
                     "get_device_properties", "current_device"):
            setattr(torch.cuda, name, spy(name, getattr(torch.cuda, name)))
        from fairat.runtime.jobserver import PRELOAD
        for module in PRELOAD:
            __import__(module)
        print(json.dumps({"calls": calls, "initialized": torch.cuda.is_initialized()}))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], env=env_with(), capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen == {"calls": [], "initialized": False}


# --- the workflow, as users type it


@pytest.fixture(scope="module")
def fake_gpu_config(tmp_path_factory) -> Path:
    """Five training runs of one method (five GPU jobs ready at once: one more than the pool's
    four slots) and their evaluations: ten GPU jobs, computing on the CPU."""
    config = yaml.safe_load((REPO / "tests/configs/tiny.yaml").read_text())
    config.update(
        seeds=[0, 1, 2, 3, 4],
        methods={"natural": {}},
        train={**config["train"], "epochs": 1},
        evaluation={**config["evaluation"], "attacks": ["clean"], "checkpoints": ["last"]},
        resources={"gpus_per_job": 1, "jobs_per_gpu": 2},
    )
    path = tmp_path_factory.mktemp("fake_gpu") / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


TAKEN = re.compile(
    r"^GPU slot: GPU (\S+), slot (\d+) of (\d+), taken at ([0-9.]+); "
    r"pid (\d+) sees CUDA_VISIBLE_DEVICES=(.*)$",
    re.M,
)
RELEASED = re.compile(
    r"^GPU slot: GPU (\S+), slot (\d+) of (\d+), released at ([0-9.]+) "
    r"by pid (\d+)$",
    re.M,
)


@pytest.mark.workflow
@pytest.mark.parametrize(
    ("jobserver", "rules", "args", "limit"),
    [
        ("1", ("train", "evaluate"), (), 4),
        # the plain path: each job imports torch itself (about 6 s of CPU), so it trains only
        # (five jobs ready at once for four slots still)
        ("0", ("train",), (), 4),
        # the command line's own limit still holds
        ("1", ("train",), ("--resources", "gpu=2"), 2),
    ],
)
def test_fake_gpus_every_job_on_one_slot_none_shared(
    tmp_path, fake_gpu_config, jobserver, rules, args, limit
):
    runs = "results/{}/digits/cnn_small/natural/eps16_255/seed{}/last.{}"
    kind = ("eval", "json") if "evaluate" in rules else ("runs", "pt")
    targets = [runs.format(kind[0], seed, kind[1]) for seed in range(5)]
    done = run_snakemake(
        tmp_path,
        "--configfile",
        str(fake_gpu_config),
        "--cores",
        "8",  # more than the four slots: the workflow's own gpu limit must hold them back
        *targets,
        *args,  # after the targets: --resources takes several values
        env=env_with(
            FAIRAT_FAKE_GPUS="0,1",
            FAIRAT_GPU_SLOT_DIR=str(tmp_path / "slots"),
            FAIRAT_JOBSERVER=jobserver,
            FAIRAT_JOBSERVER_IDLE="3",
        ),
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    announced = "GPU slots: 2 GPU(s) (0, 1, from FAIRAT_FAKE_GPUS) x 2 job(s) each"
    assert (announced in output) == (not args)  # said only where the workflow sets the limit
    # Snakemake started no GPU job beyond the limit: none had to wait for a slot (holding a
    # core while it waits)
    assert "waits for a free GPU slot" not in output
    logs = [log for rule in rules for log in sorted((tmp_path / "logs" / rule).rglob("*.log"))]
    assert len(logs) == 5 * len(rules)
    jobs = []
    for log in logs:
        text = log.read_text()
        taken, released = TAKEN.findall(text), RELEASED.findall(text)
        assert len(taken) == 1 and len(released) == 1, f"{log}: {text[-2000:]}"
        gpu, slot, per_gpu, start, pid, visible = taken[0]
        assert visible == gpu, f"{log}: CUDA_VISIBLE_DEVICES={visible} on GPU {gpu}"
        assert released[0][:3] == (gpu, slot, per_gpu) and per_gpu == "2"
        # the computing process: a job server's copy, or the job process itself
        assert (pid != released[0][4]) == (jobserver == "1"), f"{log}: {taken}, {released}"
        jobs.append((gpu, int(slot) - 1, float(start), float(released[0][3])))
    total, _ = check_packing(jobs, {"0", "1"}, 2)
    assert total <= limit, f"{total} GPU jobs at once, limit {limit}"
    # the checks above could fail: more than one job did run at once
    assert total >= 2, "no two GPU jobs ever ran at once"
    # one console line per GPU job names its GPU (not anchored: Snakemake's own lines and the
    # jobs' share the stream)
    console = re.findall(
        r"fairat: (train|evaluate) [^\n]* runs on GPU [01] \(slot [12] of 2\)", output
    )
    assert Counter(console) == {rule: 5 for rule in rules}, [
        line for line in output.splitlines() if "fairat" in line or "GPU" in line
    ]
