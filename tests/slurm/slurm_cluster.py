"""A one-node Slurm cluster on localhost, in a directory of its own, for the Slurm tests.

munged, slurmctld and slurmd (Debian's slurm-wlm 22.05) run in the foreground as children of
this process, with their configuration, state, spool, logs, PID files and MUNGE key and socket
under ``root``; nothing under /etc is read or written. The node offers fake GPUs: gres.conf
points at character devices made with mknod (slurmd drops a GPU whose device file is missing),
so jobs can ask for ``--gpus`` and get ``CUDA_VISIBLE_DEVICES`` while running on the CPU.

Commands talk to this cluster when ``SLURM_CONF`` points at ``root/etc/slurm.conf`` and
``root/bin`` (an ``srun`` that names that config) leads the ``PATH`` (:meth:`SlurmCluster.env`). Needs root (mknod, SlurmUser=root) and the Debian packages
``slurmctld slurmd slurm-client munge``.

By hand::

    python tests/slurm/slurm_cluster.py up /tmp/slurm     # prints: export SLURM_CONF=...
    python tests/slurm/slurm_cluster.py down /tmp/slurm   # cancels jobs, stops the daemons by PID
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

COMMANDS = (
    "munged",
    "slurmctld",
    "slurmd",
    "sbatch",
    "squeue",
    "sinfo",
    "scontrol",
    "scancel",
    "srun",
)
NVIDIA_MAJOR = 195  # the major number of /dev/nvidia*; slurmd only checks that the file exists


class ClusterError(RuntimeError):
    """The cluster did not come up; the message carries the daemons' log tails."""


def missing_commands() -> list[str]:
    return [name for name in COMMANDS if shutil.which(name) is None]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def detected_node(name: str) -> dict[str, str]:
    """The node's hardware as slurmd sees it (``slurmd -C``), e.g. CPUs, CoresPerSocket."""
    out = subprocess.run(["slurmd", "-C"], capture_output=True, text=True, check=True).stdout
    fields = dict(item.split("=", 1) for item in out.split() if "=" in item)
    fields.pop("UpTime", None)
    fields["NodeName"] = name
    return fields


class SlurmCluster:
    """Start with :meth:`start`, stop with :meth:`stop` (also on failure: use it as a context)."""

    def __init__(self, root: str | Path, *, gpus: int = 2, cred_expire: int = 10) -> None:
        self.root = Path(root).resolve()
        self.gpus = gpus
        self.cred_expire = cred_expire  # seconds a requeued job waits before it may start again
        self.node = socket.gethostname().split(".")[0]
        self.conf = self.root / "etc" / "slurm.conf"
        self.munge_socket = self.root / "munge" / "munge.socket"
        self.pid_file = self.root / "pids.json"
        self.procs: dict[str, subprocess.Popen] = {}

    # -- configuration ------------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        """The environment for commands and workflows that use this cluster."""
        path = f"{self.root / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
        return {**os.environ, "SLURM_CONF": str(self.conf), "PATH": path}

    def _path_without_bin(self) -> list[str]:
        dirs = os.environ.get("PATH", "").split(os.pathsep)
        return [d for d in dirs if d and Path(d).resolve() != self.root / "bin"]

    def _write_files(self) -> None:
        for sub in ("bin", "etc", "state", "spool", "log", "run", "munge", "dev"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        # Inside a job, snakemake's slurm-jobstep executor starts the rule with `srun` after
        # dropping every SLURM_* variable, SLURM_CONF included; on a real cluster srun then reads
        # /etc/slurm/slurm.conf. This cluster leaves /etc alone, so an `srun` first on the PATH
        # names its config.
        srun = self.root / "bin" / "srun"
        real = shutil.which("srun", path=os.pathsep.join(self._path_without_bin()))
        srun.write_text(f'#!/bin/sh\nSLURM_CONF={self.conf} exec {real} "$@"\n')
        srun.chmod(0o755)
        # munged wants a key only its user can read and a socket directory others may enter
        os.chmod(self.root / "munge", 0o755)
        key = self.root / "munge" / "munge.key"
        if not key.exists():
            key.write_bytes(os.urandom(1024))
        os.chmod(key, 0o400)
        devices = []
        for i in range(self.gpus):
            dev = self.root / "dev" / f"nvidia{i}"
            if not dev.exists():
                os.mknod(dev, 0o666 | stat.S_IFCHR, os.makedev(NVIDIA_MAJOR, i))
            devices.append(str(dev))
        node = detected_node(self.node)
        real_memory = int(node.pop("RealMemory"))
        node_line = " ".join(f"{k}={v}" for k, v in node.items())
        memory = int(real_memory * 0.9)  # slurmd drains a node that has less than configured
        (self.root / "etc" / "gres.conf").write_text(
            "".join(f"NodeName={self.node} Name=gpu File={dev}\n" for dev in devices)
        )
        r = self.root
        self.conf.write_text(
            f"""# written by tests/slurm/slurm_cluster.py: one node, fake GPUs, no accounting
ClusterName=fairattest
SlurmctldHost={self.node}(127.0.0.1)
SlurmctldPort={free_port()}
SlurmdPort={free_port()}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={self.munge_socket},cred_expire={self.cred_expire}
StateSaveLocation={r}/state
SlurmdSpoolDir={r}/spool
SlurmctldPidFile={r}/run/slurmctld.pid
SlurmdPidFile={r}/run/slurmd.pid
SlurmctldLogFile={r}/log/slurmctld.log
SlurmdLogFile={r}/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
MailProg=/bin/true
SwitchType=switch/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
GresTypes=gpu
JobRequeue=1
MinJobAge=300
KillWait=5
ReturnToService=2
{node_line} NodeAddr=127.0.0.1 RealMemory={memory} Gres=gpu:{self.gpus} State=UNKNOWN
PartitionName=debug Nodes={self.node} Default=YES MaxTime=INFINITE State=UP
"""
        )

    # -- daemons ------------------------------------------------------------------------------

    def _spawn(self, name: str, argv: list[str]) -> None:
        log = open(self.root / "log" / f"{name}.out", "ab")  # noqa: SIM115 (lives with the daemon)
        self.procs[name] = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, env=self.env(), start_new_session=True
        )
        log.close()
        self.pid_file.write_text(json.dumps({k: p.pid for k, p in self.procs.items()}))

    def _wait(self, what: str, ready, timeout: float = 60) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise ClusterError(f"{name} exited with {proc.returncode}\n{self.logs()}")
            if ready():
                return
            time.sleep(0.3)
        raise ClusterError(f"timed out after {timeout}s waiting for {what}\n{self.logs()}")

    def run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess:
        """A Slurm client command against this cluster."""
        return subprocess.run(argv, capture_output=True, text=True, env=self.env(), check=check)

    def start(self) -> SlurmCluster:
        if os.geteuid() != 0:
            raise ClusterError("the test cluster needs root (mknod, SlurmUser=root)")
        if missing := missing_commands():
            raise ClusterError(
                f"missing commands {missing}: apt-get install slurmctld slurmd slurm-client munge"
            )
        self._write_files()
        m = self.root / "munge"
        self._spawn(
            "munged",
            [
                "munged",
                "--foreground",
                f"--socket={self.munge_socket}",
                f"--key-file={m / 'munge.key'}",
                f"--pid-file={m / 'munged.pid'}",
                f"--log-file={self.root / 'log' / 'munged.log'}",
                f"--seed-file={m / 'munged.seed'}",
                "--force",  # the socket's parents (/tmp) are world-writable with the sticky bit
            ],
        )
        self._wait("the MUNGE socket", self.munge_socket.exists)
        self._spawn("slurmctld", ["slurmctld", "-D", "-i", "-f", str(self.conf)])
        self._wait("slurmctld", lambda: self.run("scontrol", "ping", check=False).returncode == 0)
        self._spawn("slurmd", ["slurmd", "-D", "-N", self.node, "-f", str(self.conf)])
        self._wait("the node to be idle", self._idle)
        return self

    def _idle(self) -> bool:
        out = self.run("sinfo", "-h", "-N", "-o", "%T", check=False).stdout.split()
        return out == ["idle"]

    def jobs(self) -> list[str]:
        out = self.run("squeue", "-h", "-o", "%i", check=False).stdout
        return out.split()

    def stop(self) -> None:
        """Cancel every job, wait for them to end, then stop the daemons by PID (reverse order)."""
        if "slurmctld" in self.procs and self.procs["slurmctld"].poll() is None:
            self.run("scancel", "--full", "--user", "root", check=False)
            deadline = time.time() + 60
            while self.jobs() and time.time() < deadline:
                time.sleep(0.5)
        for name in reversed(list(self.procs)):
            stop_pid(self.procs[name].pid, self.procs[name].wait)
        self.procs.clear()
        self.pid_file.unlink(missing_ok=True)

    def logs(self, lines: int = 30) -> str:
        parts = []
        for path in sorted((self.root / "log").glob("*")):
            tail = path.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"--- {path.name}\n" + "\n".join(tail))
        return "\n".join(parts)

    def __enter__(self) -> SlurmCluster:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()


def stop_pid(pid: int, wait=None, timeout: float = 15) -> None:
    """SIGTERM, then SIGKILL after ``timeout`` seconds; ``wait`` reaps a child of ours."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.time() + timeout
    while time.time() < deadline:
        if wait is not None:
            try:
                wait(timeout=0.2)
                return
            except subprocess.TimeoutExpired:
                continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    if wait is not None:
        wait()


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("up", "down"):
        print("usage: slurm_cluster.py up|down DIR", file=sys.stderr)
        return 2
    action, root = argv
    cluster = SlurmCluster(root)
    if action == "up":
        with_cleanup = cluster.__enter__()  # stops what it started if start fails
        # the daemons must outlive this process: detach them from our bookkeeping
        with_cleanup.procs.clear()
        env = cluster.env()
        print(f"export SLURM_CONF={env['SLURM_CONF']} PATH={env['PATH']}")
        return 0
    pids = json.loads(cluster.pid_file.read_text()) if cluster.pid_file.exists() else {}
    if "slurmctld" in pids:
        cluster.run("scancel", "--full", "--user", "root", check=False)
        deadline = time.time() + 60
        while cluster.jobs() and time.time() < deadline:
            time.sleep(0.5)
    for name in reversed(list(pids)):
        stop_pid(pids[name])
    cluster.pid_file.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
