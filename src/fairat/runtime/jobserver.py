"""Run a workflow script in a fork of a warm process instead of a fresh interpreter.

Every workflow job is a fresh Python process. Before a training or evaluation job does anything,
importing torch and the package costs it seconds of CPU, and building an optimizer seconds more
(torch.optim imports TorchDynamo); pandas, scipy, matplotlib and seaborn cost a table or figure
job seconds too: much of the default run's CPU time (issue 14; benchmarks/README.md#start-up). Every
script in ``scripts/`` therefore starts with ``hand_over(snakemake, __file__)``, which sends the
job to a *job server*: a process, started by the first job that needs one, that has imported
those libraries and fairat once (:data:`PRELOAD`) and forks a copy of itself for each job. The
copy takes the job's working directory, environment and standard streams (passed as file
descriptors over the socket), runs the script as ``__main__`` would, and reports its exit status
to the waiting job process, which exits with it. Snakemake still sees one process per job with
the job's log, exit status and signals; only the interpreter start-up is shared.

- The job process forwards SIGINT and SIGTERM to its copy; if the job process dies without
  forwarding (SIGKILL, as a preempted node or the kill-and-resume test does), the copy notices
  the closed socket and kills itself, so a job never outlives its process.
- The server forks before any torch operation ran (no OpenMP pool, no CUDA context): the copy
  initialises those itself, as a fresh process would. So one server serves jobs on every GPU:
  a GPU job takes its slot in the job process (:func:`fairat.runtime.gpuslots.claim`) before it hands
  over, its ``CUDA_VISIBLE_DEVICES`` reaches the copy with the rest of its environment (which
  the copy installs with ``os.environ``, so CUDA's own ``getenv`` reads it), and the slot's
  lock file rides with the standard streams, so the slot stays taken until both the job
  process and its copy have ended. ``CUDA_VISIBLE_DEVICES`` is therefore left out of the
  server's name.
- The socket is in Linux's abstract namespace (nothing on disk to go stale), named by the user,
  the interpreter, ``sys.path`` (but the script's own directory), the mtimes and sizes of the
  package's source files and the environment variables that shape imports (:func:`server_name`):
  editing fairat or switching venvs starts a new server. The server accepts only connections
  from its own user (``SO_PEERCRED``) and exits after :data:`IDLE_SECONDS` without a job.
- Off where it would be wrong or useless: inside a Slurm job (the server would live outside the
  job's cgroup and node), off Linux, and with ``FAIRAT_JOBSERVER=0``. Then, or if a server
  cannot be started, the script simply runs in its own process as before.

This module imports only the standard library (and :mod:`fairat.runtime.gpuslots`, which does too);
the server imports :data:`PRELOAD`. It stays one module over 400 lines: the client
(:func:`hand_over`) and the server (:func:`serve`) are the two halves of one private protocol
(:func:`_send`, :func:`_recv`: pickled messages with file descriptors) that must change together,
and the client starts the server as ``python -m fairat.runtime.jobserver``.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import io
import os
import pickle
import runpy
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from fairat.runtime import gpuslots

# imported once by the server, so that no job pays for them
PRELOAD = (
    "torch",
    # every torch.optim optimizer imports TorchDynamo (and with it Inductor) when it is built,
    # through its torch._disable_dynamo-wrapped methods: 2-3 s of every training job
    "torch._dynamo",
    "fairat.training.loop",
    "fairat.evaluation.evaluate",
    "fairat.evaluation.zoo",
    "fairat.attacks.autoattack",
    # the table and figure jobs: pandas, scipy, matplotlib (Agg) and seaborn, about 2.7 s each
    "fairat.reporting.figures",
    "fairat.reporting.paper_figures",
    "fairat.reporting.paper_tables",
    "fairat.theory.figures",
    "fairat.reporting.confusion_figures",
    "fairat.reporting.bootstrap",
    "fairat.reporting.sweeps",
    "snakemake.io",  # what unpickling the job's snakemake object needs
    "snakemake.logging",
)
IDLE_SECONDS = float(os.environ.get("FAIRAT_JOBSERVER_IDLE", "30"))
REQUEST_TIMEOUT = 10.0  # seconds the server waits for a connected client's request
START_TIMEOUT = 60.0  # seconds to wait for a new server to accept, then run in-process
# environment variables read at import time by torch, numpy, CUDA or Python itself
IMPORT_ENV = ("TORCH", "CUDA", "OMP", "MKL", "KMP", "OPENBLAS", "PYTHON", "LD_", "NVIDIA")
# ... but not these: read at a job's first CUDA call, which the copy makes, not the server
NAME_IGNORES = ("FAIRAT_JOBSERVER_IDLE", "CUDA_VISIBLE_DEVICES")
_FDS = 3  # stdin, stdout, stderr
_IN_COPY = False  # set in a forked copy: its hand_over call returns and the script runs


def enabled() -> bool:
    """Whether jobs go through a server here (module docstring)."""
    return (
        sys.platform == "linux"
        and os.environ.get("FAIRAT_JOBSERVER", "1") != "0"
        and "SLURM_JOB_ID" not in os.environ
    )


def server_name() -> str:
    """The abstract socket name of the server that can run this process's scripts."""
    h = hashlib.sha256()
    h.update(f"{os.getuid()}\0{sys.executable}\0{sys.prefix}\0".encode())
    h.update("\0".join(sys.path[1:]).encode())  # [0] is the script's own directory
    for key in sorted(os.environ):
        if key.startswith(IMPORT_ENV) and key not in NAME_IGNORES:
            h.update(f"\0{key}={os.environ[key]}".encode())
    package = Path(__file__).resolve().parents[1]  # src/fairat
    for path in sorted(package.rglob("*.py")):
        st = path.stat()
        h.update(f"\0{path}:{st.st_mtime_ns}:{st.st_size}".encode())
    return f"\0fairat-jobserver-{os.getuid()}-{h.hexdigest()[:20]}"


def hand_over(snakemake: Any, script: str) -> None:
    """Run the rest of ``script`` (the calling workflow script, ``__file__``) in a job server's
    copy and exit with its status; return at once inside that copy, or where no server is to be
    used or can be had (then the script runs here, as without this call). A job that asks for
    a GPU first takes a GPU slot, here or there (:func:`fairat.runtime.gpuslots.claim`)."""
    if _IN_COPY:
        return
    slot = gpuslots.claim(snakemake)
    if not enabled() or not Path(script).is_file():
        return
    conn = _connect(server_name())
    if conn is None:
        return
    request = {
        "script": str(Path(script).resolve()),
        "snakemake": pickle.dumps(snakemake, protocol=4),
        "cwd": os.getcwd(),
        "env": dict(os.environ),
        "path": list(sys.path),
    }
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    try:
        _send(conn, request, fds=list(range(_FDS)) + ([slot.fd] if slot else []))
        reply, _ = _recv(conn)
    except OSError:  # the server closed as it went idle
        reply = None
    if reply is None or "pid" not in reply:
        conn.close()  # the server went away before starting the job: run it here
        return
    sys.exit(_wait(conn, reply["pid"]))


def _connect(name: str) -> socket.socket | None:
    """A connection to the server, starting one if none listens; None if none can be had."""
    conn = _try_connect(name)
    if conn is not None:
        return conn
    server = subprocess.Popen(
        [sys.executable, "-m", "fairat.runtime.jobserver", name.lstrip("\0")],  # no NUL in argv
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # not in the job's process group: a job's signal is not its
        cwd="/",
    )
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        conn = _try_connect(name)
        if conn is not None:
            return conn
        if server.poll() is not None:  # lost the race to bind (or failed): one more look
            return _try_connect(name)
        time.sleep(0.05)
    return None


def _try_connect(name: str) -> socket.socket | None:
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(name)
    except OSError:
        conn.close()
        return None
    return conn


def _wait(conn: socket.socket, pid: int) -> int:
    """Wait for copy ``pid``'s exit status, forwarding SIGINT, SIGTERM and SIGHUP to it."""

    def forward(signum, _frame):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, forward)
    reply, _ = _recv(conn)
    if reply is None:
        print(
            f"fairat job server: job process {pid} ended without an exit status "
            "(killed by a signal?)",
            file=sys.stderr,
        )
        return 1
    return int(reply["exit"])


# --- messages: a 4-byte length, then a pickle; file descriptors ride with the first chunk


def _send(conn: socket.socket, obj: Any, fds: list[int] | None = None) -> None:
    data = pickle.dumps(obj, protocol=4)
    data = struct.pack("!I", len(data)) + data
    if fds:
        sent = socket.send_fds(conn, [data[:4]], fds)
        data = data[sent:]
    conn.sendall(data)


def _recv(conn: socket.socket, nfds: int = 0) -> tuple[Any, list[int]]:
    """One message and the descriptors sent with it (at most ``nfds``); the message is None at
    end of stream."""
    fds: list[int] = []
    if nfds:
        head, fds, _flags, _addr = socket.recv_fds(conn, 4, nfds)
    else:
        head = b""
    head += _recv_exact(conn, 4 - len(head))
    if len(head) < 4:
        return None, fds
    size = struct.unpack("!I", head)[0]
    body = _recv_exact(conn, size)
    return (pickle.loads(body) if len(body) == size else None), fds


def _recv_exact(conn: socket.socket, size: int) -> bytes:
    chunks, got = [], 0
    while got < size:
        chunk = conn.recv(size - got)
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


# --- the server


def serve(name: str) -> None:
    """Bind ``name`` (exit quietly if another server has it), import :data:`PRELOAD`, then
    fork a copy per accepted job until :data:`IDLE_SECONDS` pass without one."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listener.bind(name)
    except OSError:
        return  # another server won the race; the clients use it
    listener.listen(64)  # clients may connect while the imports below run
    for module in PRELOAD:  # a missing optional extra is the job's to report, not ours
        with contextlib.suppress(ImportError):
            __import__(module)
    children: set[int] = set()
    last_active = time.monotonic()
    while True:
        ready, _, _ = select.select([listener], [], [], 1.0)
        children = {pid for pid in children if not _reaped(pid)}
        if ready:
            conn, _ = listener.accept()
            if _peer_uid(conn) != os.getuid():
                conn.close()
                continue
            pid = _start_copy(listener, conn)
            if pid:
                children.add(pid)
            last_active = time.monotonic()
        elif children:
            last_active = time.monotonic()
        elif time.monotonic() - last_active > IDLE_SECONDS:
            return


def _reaped(pid: int) -> bool:
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return done == pid


def _peer_uid(conn: socket.socket) -> int:
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", creds)[1]


def _start_copy(listener: socket.socket, conn: socket.socket) -> int:
    """Fork a copy for the job on ``conn``; returns its pid (0 if the request was bad)."""
    conn.settimeout(REQUEST_TIMEOUT)  # a client that connects and sends nothing must not stall
    try:
        request, fds = _recv(conn, nfds=_FDS + 1)  # + a GPU slot's lock
    except (OSError, pickle.UnpicklingError, EOFError):
        conn.close()
        return 0
    conn.settimeout(None)
    if request is None or len(fds) not in (_FDS, _FDS + 1):
        for fd in fds:
            os.close(fd)
        conn.close()
        return 0
    pid = os.fork()
    if pid:
        for fd in fds:
            os.close(fd)
        conn.close()
        return pid
    code = 1
    try:
        listener.close()
        code = _run_copy(conn, request, fds)
    except BaseException:  # noqa: BLE001 (the copy must always report and exit)
        traceback.print_exc()
    finally:
        _finish(conn, code)
    return 0  # not reached


def _run_copy(conn: socket.socket, request: dict, fds: list[int]) -> int:
    """Inside the fork: become the job process, run the script, return its exit status."""
    global _IN_COPY
    _IN_COPY = True
    os.setsid()
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD):
        signal.signal(signum, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for target, fd in enumerate(fds[:_FDS]):
        os.dup2(fd, target)
        os.close(fd)
    for fd in fds[_FDS:]:  # a GPU slot's lock: held, open, until this copy exits
        os.set_inheritable(fd, False)
    _rebind_streams()
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    sys.path[:] = request["path"]
    _send(conn, {"pid": os.getpid()})
    threading.Thread(target=_die_with_client, args=(conn,), daemon=True).start()
    snakemake = pickle.loads(request["snakemake"])
    try:
        runpy.run_path(
            request["script"], init_globals={"snakemake": snakemake}, run_name="__main__"
        )
    except SystemExit as stop:
        if stop.code is None:
            return 0
        if isinstance(stop.code, int):
            return stop.code
        print(stop.code, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        traceback.print_exc()
        return 130
    except BaseException:  # noqa: BLE001 (as the interpreter does for an uncaught exception)
        traceback.print_exc()
        return 1
    return 0


def _rebind_streams() -> None:
    """New sys.std* objects over descriptors 0-2, buffered as a fresh interpreter buffers
    them (stdout line-buffered on a terminal, stderr always)."""
    sys.stdin = sys.__stdin__ = io.TextIOWrapper(io.FileIO(0, "r", closefd=False))
    out = io.TextIOWrapper(
        io.BufferedWriter(io.FileIO(1, "w", closefd=False)), line_buffering=os.isatty(1)
    )
    err = io.TextIOWrapper(
        io.BufferedWriter(io.FileIO(2, "w", closefd=False)),
        line_buffering=True,
        errors="backslashreplace",
    )
    sys.stdout = sys.__stdout__ = out
    sys.stderr = sys.__stderr__ = err


def _die_with_client(conn: socket.socket) -> None:
    """Block until the job process closes its end (it never sends after the request), then
    kill this copy: a job killed from outside must not run on."""
    with contextlib.suppress(OSError):
        conn.recv(1)
    os.kill(os.getpid(), signal.SIGKILL)


def _finish(conn: socket.socket, code: int) -> None:
    try:
        atexit._run_exitfuncs()
    except BaseException:  # noqa: BLE001
        traceback.print_exc()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    with contextlib.suppress(OSError):
        _send(conn, {"exit": code})
    os._exit(code)


if __name__ == "__main__":
    # through the imported module, not this __main__ copy of it: a job's own
    # `from fairat.runtime.jobserver import hand_over` must see the flag that _run_copy sets
    from fairat.runtime.jobserver import serve as _serve

    _serve("\0" + sys.argv[1])
