"""fairat.runtime.jobserver: a workflow script handed to a warm, forked copy behaves as if it ran in its
own process (working directory, environment, streams, exit status, signals), and a copy never
outlives the job process that asked for it.

Each test talks to a server of its own: the PYTHON_* variable below is part of the server's
name (fairat.runtime.jobserver.server_name). Its idle limit (FAIRAT_JOBSERVER_IDLE) is long enough that a
loaded machine never lets it lapse between two jobs of a test that expects the same server to
answer both; the fixture ends the test's servers afterwards."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psutil
import pytest

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the job server is Linux-only")

PROBE = """
import json, os, sys, time, types
snakemake = globals().get("snakemake") or types.SimpleNamespace(tag=os.environ["TAG"])
from fairat.runtime.jobserver import hand_over
hand_over(snakemake, __file__)
import fairat.runtime.jobserver
HEAVY = ("torch", "torch._dynamo", "pandas", "scipy.stats", "matplotlib.pyplot", "seaborn")
print(json.dumps({
    "pid": os.getpid(),
    "ppid": os.getppid(),
    "in_copy": fairat.runtime.jobserver._IN_COPY,
    "cwd": os.getcwd(),
    "tag": snakemake.tag,
    "probe": os.environ.get("PROBE"),
    "loaded": [m for m in HEAVY if m in sys.modules],
}))
print("a line on stderr", file=sys.stderr)
mode = os.environ.get("MODE")
if mode == "fail":
    raise RuntimeError("boom")
if mode == "exit3":
    sys.exit(3)
if mode == "sleep":
    with open(os.environ["PIDFILE"], "w") as f:
        f.write(str(os.getpid()))
    time.sleep(120)
"""


class Probe:
    """Runs the probe script under a server of its own (``server`` names it)."""

    def __init__(self, tmp_path: Path) -> None:
        self.script = tmp_path / "probe.py"
        self.script.write_text(PROBE)
        self.dir = tmp_path
        self.server = f"test-{uuid.uuid4().hex[:12]}"

    def env(self, **extra: str) -> dict[str, str]:
        return {
            **os.environ,
            "PYTHON_FAIRAT_TEST_SERVER": self.server,
            "FAIRAT_JOBSERVER_IDLE": "60",
            "TAG": "t1",
            **extra,
        }

    def __call__(self, *, cwd: Path | None = None, wait: bool = True, **extra: str):
        cmd, env, cwd = [sys.executable, str(self.script)], self.env(**extra), cwd or self.dir
        if not wait:
            return subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, text=True)
        return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)

    def servers(self) -> list[psutil.Process]:
        """The job servers started for this probe (their environment names it)."""
        found = []
        for proc in psutil.process_iter(["cmdline"]):
            try:
                if "fairat.runtime.jobserver" in (proc.info["cmdline"] or []) and (
                    proc.environ().get("PYTHON_FAIRAT_TEST_SERVER") == self.server
                ):
                    found.append(proc)
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        return found


@pytest.fixture
def probe(tmp_path):
    probe = Probe(tmp_path)
    yield probe
    servers = probe.servers()
    for server in servers:
        with contextlib.suppress(psutil.NoSuchProcess):
            server.terminate()
    psutil.wait_procs(servers, timeout=10)


def facts(done: subprocess.CompletedProcess) -> dict:
    return json.loads(done.stdout.splitlines()[0])


def gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


def test_a_script_runs_in_a_warm_copy_with_the_callers_cwd_env_and_streams(probe, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    first = probe(cwd=work, PROBE="hello")
    assert first.returncode == 0, first.stderr
    seen = facts(first)
    assert seen["in_copy"] is True
    # preloaded by the server, never imported by the probe: torch, TorchDynamo (which a
    # training job's optimizer imports) and the table and figure jobs' libraries
    assert seen["loaded"] == [
        "torch",
        "torch._dynamo",
        "pandas",
        "scipy.stats",
        "matplotlib.pyplot",
        "seaborn",
    ]
    assert seen["cwd"] == str(work)
    assert seen["probe"] == "hello"
    assert seen["tag"] == "t1"
    assert "a line on stderr" in first.stderr  # the caller's own stderr, passed as a descriptor
    second = probe(TAG="t2")
    assert facts(second)["tag"] == "t2"
    assert facts(second)["ppid"] == seen["ppid"], "the second job should reuse the server"
    assert facts(second)["pid"] != seen["pid"]


def test_exit_status_and_traceback_reach_the_caller(probe):
    failed = probe(MODE="fail")
    assert failed.returncode == 1
    assert "RuntimeError: boom" in failed.stderr
    assert "Traceback" in failed.stderr
    assert probe(MODE="exit3").returncode == 3


def test_off_runs_the_script_in_its_own_process(probe):
    done = probe(FAIRAT_JOBSERVER="0")
    seen = facts(done)
    assert done.returncode == 0
    assert seen["in_copy"] is False
    assert seen["loaded"] == []
    inside_slurm = facts(probe(SLURM_JOB_ID="123"))
    assert inside_slurm["in_copy"] is False


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_a_copy_dies_with_its_job_process(probe, tmp_path, sig):
    pidfile = tmp_path / f"copy-{sig}.pid"
    job = probe(wait=False, MODE="sleep", PIDFILE=str(pidfile))
    deadline = time.time() + 60
    while not pidfile.exists() or not pidfile.read_text():
        assert time.time() < deadline and job.poll() is None, "the probe never started"
        time.sleep(0.05)
    copy = int(pidfile.read_text())
    assert copy != job.pid
    job.send_signal(sig)
    assert job.wait(timeout=30) != 0
    assert gone(copy), f"the copy {copy} outlived its job process ({sig.name})"


def test_an_idle_server_exits(probe):
    done = probe(FAIRAT_JOBSERVER_IDLE="3")
    server = facts(done)["ppid"]
    assert psutil.pid_exists(server)
    assert gone(server, timeout=20), "the server did not exit after FAIRAT_JOBSERVER_IDLE"


# What a refused client may see. The server accepts, reads the peer's uid and closes the
# connection unread (fairat.runtime.jobserver.serve); whether that close lands before or after the
# client's send decides the error: before it, send_fds or sendall fail with EPIPE
# (BrokenPipeError); after it, the unread request makes the close a reset (ConnectionResetError
# on send or recv); a close the client reads as the end of the stream is None from _recv. A
# refused *connect* is not among them: the server listens all along and refuses nobody at
# connect, so ConnectionRefusedError would mean no server was there to refuse anything.
REFUSALS = {"BrokenPipeError", "ConnectionResetError", "end of stream"}

OTHER_USER = """
import json, os, pickle, socket, sys
from fairat.runtime import jobserver
name = jobserver.server_name()  # the server of the probe's user (root), named before setuid
request = {
    "script": sys.argv[1],  # would write the marker file if the server ran it
    "snakemake": pickle.dumps(None),
    "cwd": os.getcwd(),
    "env": dict(os.environ),
    "path": list(sys.path),
}
os.setuid(65534)
conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
conn.connect(name)
try:
    jobserver._send(conn, request, fds=[0, 1, 2])
    reply = jobserver._recv(conn)[0]
    if isinstance(reply, dict) and "pid" in reply:
        reply = ("ran", reply, jobserver._recv(conn)[0])  # wait for the copy's exit status
    outcome = "end of stream" if reply is None else repr(reply)
except (BrokenPipeError, ConnectionResetError) as err:
    outcome = type(err).__name__
print(json.dumps(outcome))
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to connect as another user")
def test_the_server_refuses_other_users(probe, tmp_path):
    first = facts(probe())
    assert first["in_copy"] is True
    marker = tmp_path / "ran"
    script = tmp_path / "mark.py"
    script.write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    out = subprocess.run(
        [sys.executable, "-c", OTHER_USER, str(script)],
        env=probe.env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    outcome = json.loads(out.stdout)
    assert outcome in REFUSALS, f"a connection from another user got {outcome}"
    # the server is still up and serving its own user: the same server (the copy's parent)
    # runs the next job, and as it takes connections in order, it had dealt with the refused
    # one before it answered this one: had it forked a copy for it, that copy would have
    # reported a pid above, not a refusal
    again = probe()
    assert again.returncode == 0, again.stderr
    assert facts(again)["in_copy"] is True
    assert facts(again)["ppid"] == first["ppid"], "the server did not survive the refusal"
    assert not marker.exists(), "the other user's request ran"


def test_every_workflow_script_hands_over_before_its_imports():
    """A script that forgets hand_over pays the whole import cost in every job it runs."""
    import ast

    scripts = sorted((Path(__file__).resolve().parents[1] / "scripts").glob("*.py"))
    assert len(scripts) > 10
    for script in scripts:
        body = ast.parse(script.read_text()).body
        first = [ast.unparse(node) for node in body[1:3]]  # after the docstring
        assert first == [
            "from fairat.runtime.jobserver import hand_over",
            "hand_over(snakemake, __file__)",
        ], f"{script.name} should start with hand_over(snakemake, __file__) after its docstring"
