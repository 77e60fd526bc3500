"""Cell processes forked from a launcher that has already imported the heavy libraries.

A cell needs a fresh *process*: no JAX backend, no compiled program, no cache, its own cores, XLA flags
and session, so that its compile times are real and a crash costs only that cell. It does not need a
fresh *interpreter*: starting Python and importing JAX, NumPyro and ArviZ took 4.4-10 s of every cell
on the project's 2-core hosts, paid again by each cell of a run. A launcher (``python -m
harness.launcher``) pays for the imports once and forks one child per cell. The child starts its own
session, takes the cell's environment and working directory, writes its output to the cell's log and
runs :func:`harness.worker.main`; JAX's backend, its thread pools and every compile begin in the child,
after the fork, as in a process started from nothing.

Why this is safe to fork: the launcher imports only libraries that compute nothing at import
(:data:`PRELOAD`; BlackJAX does, with ``jnp``, so it and the harness's own modules are imported in the
child), and before every fork it checks that no JAX backend has started (a backend's threads would
not survive the fork). JAX reads its ``JAX_*`` settings when it is imported, so a launcher serves
only cells whose environment, apart from what is read later (:data:`PER_CELL`: the XLA flags, read
when the child's backend starts, and the run id), and working directory equal its own
(:func:`launcher_for` keeps one per such key).

The runner talks to a launcher over its stdin and stdout, one JSON line per message: a request
``{"id", "argv", "env", "cwd", "log"}`` is answered ``{"id", "pid"}`` (or ``{"id", "error"}``), and
each child that ends is reported ``{"pid", "status", "peak_rss_mb"}`` (``os.wait4``'s wait status and
peak resident memory). A launcher whose stdin closes (its runner ended, or was killed) kills the
process groups of the children it still has and exits.
"""

from __future__ import annotations

import atexit
import collections
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
from typing import NamedTuple

from harness.environment import RUN_ENV, peak_rss_mb

#: Libraries the launcher imports before its first fork: what every cell imports and nothing that
#: computes at import (checked: no JAX backend starts). BlackJAX computes with ``jnp`` when imported.
PRELOAD = ("numpy", "scipy.stats", "jax", "jax.numpy", "numpyro", "numpyro.distributions", "numpyro.infer",
           "optax", "arviz")

#: Environment variables read only after the fork (when the child's JAX backend starts, or by the
#: harness at run time): they may differ between the cells one launcher serves.
PER_CELL = frozenset({"XLA_FLAGS", RUN_ENV})

#: Launchers kept alive at once (a run uses one per device platform; tests change the environment).
MAX_LAUNCHERS = 3

POLL_S = 0.05


class LauncherError(RuntimeError):
    """The launcher could not start a cell, or ended before reporting one."""


class Ended(NamedTuple):
    """How a child ended: ``os.wait4``'s wait status and its peak resident memory in MiB."""

    status: int
    peak_rss_mb: float


class Launcher:
    """One launcher process and the runner's side of its pipe (safe to use from several threads)."""

    def __init__(self, env: dict, cwd: str):
        self._err = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [sys.executable, "-X", "faulthandler", "-m", "harness.launcher"], env=env, cwd=cwd,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._err, start_new_session=True)
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._replies: dict[int, dict] = {}
        self._ended: dict[int, Ended] = {}
        self._live: set[int] = set()
        self._next_id = 0
        self._closed = False
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            msg = json.loads(line)
            with self._changed:
                if "id" in msg:
                    self._replies[msg["id"]] = msg
                else:
                    self._ended[msg["pid"]] = Ended(msg["status"], msg["peak_rss_mb"])
                    self._live.discard(msg["pid"])
                self._changed.notify_all()
        self.proc.wait()
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def _why_closed(self) -> str:
        self._err.seek(0)
        lines = [ln.strip() for ln in self._err.read().decode(errors="replace").splitlines() if ln.strip()]
        return f"launcher process exited {self.proc.returncode}" + (f": {lines[-1]}" if lines else "")

    @property
    def idle(self) -> bool:
        with self._lock:
            return not self._live

    def spawn(self, argv: list[str], env: dict, log_path: str, timeout_s: float) -> int:
        """Fork a child that runs ``harness.worker.main(argv)`` with ``env``, writing to ``log_path``;
        its pid (the id of its process group too). Waits at most ``timeout_s`` for the launcher."""
        with self._changed:
            if self._closed:
                raise LauncherError(self._why_closed())
            rid, self._next_id = self._next_id, self._next_id + 1
            msg = {"id": rid, "argv": argv, "env": env, "cwd": os.getcwd(), "log": str(log_path)}
            try:
                self.proc.stdin.write((json.dumps(msg) + "\n").encode())
                self.proc.stdin.flush()
            except (BrokenPipeError, ValueError):
                pass  # the reader sees it end
            if not self._changed.wait_for(lambda: rid in self._replies or self._closed, timeout_s):
                raise LauncherError(f"launcher did not start the cell within {timeout_s:g} s")
            if rid not in self._replies:
                raise LauncherError(self._why_closed())
            reply = self._replies.pop(rid)
            if "error" in reply:
                raise LauncherError(reply["error"])
            self._live.add(reply["pid"])
            return reply["pid"]

    def poll(self, pid: int, timeout_s: float = 0.0) -> Ended | None:
        """How child ``pid`` ended, waiting up to ``timeout_s`` (None: still running). LauncherError when
        the launcher ended before reporting it."""
        with self._changed:
            self._changed.wait_for(lambda: pid in self._ended or self._closed, timeout_s)
            if pid in self._ended:
                return self._ended.pop(pid)
            if self._closed:
                raise LauncherError(f"{self._why_closed()} before its cell process {pid} ended")
            return None

    def close(self) -> None:
        """End the launcher now, even in the middle of its imports (a child it still has sees it go and
        ends: :func:`harness.worker._exit_with_parent`)."""
        self.proc.kill()
        self.proc.wait()
        self.proc.stdin.close()


_launchers: collections.OrderedDict[tuple, Launcher] = collections.OrderedDict()
_pool_lock = threading.Lock()


def launcher_for(env: dict) -> Launcher:
    """The live launcher for ``env`` and this working directory (started when there is none): one per
    environment apart from :data:`PER_CELL`, the least recently used idle one closed past
    :data:`MAX_LAUNCHERS`."""
    cwd = os.getcwd()
    key = (cwd, tuple(sorted((k, v) for k, v in env.items() if k not in PER_CELL)))
    with _pool_lock:
        launcher = _launchers.get(key)
        if launcher is None or launcher.proc.poll() is not None:
            launcher = _launchers[key] = Launcher({k: v for k, v in env.items() if k not in PER_CELL}, cwd)
        _launchers.move_to_end(key)
        for old in [k for k, v in _launchers.items() if k != key and v.idle][:max(0, len(_launchers) - MAX_LAUNCHERS)]:
            _launchers.pop(old).close()
        return launcher


@atexit.register
def _close_all() -> None:
    with _pool_lock:
        while _launchers:
            _launchers.popitem()[1].close()


# --- the launcher process ------------------------------------------------------------------------


def _send(msg: dict) -> None:
    os.write(1, (json.dumps(msg) + "\n").encode())


def _child(req: dict) -> None:
    """In the forked child: become the cell's process and run it; never returns."""
    code = 1
    try:
        os.setsid()
        log = os.open(req["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        os.chdir(req["cwd"])
        os.environ.clear()
        os.environ.update(req["env"])
        from harness import worker

        code = worker.main(req["argv"])
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    except BaseException:  # noqa: BLE001 - the log says what; the runner reads the exit code
        import traceback

        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001
                pass
        os._exit(code)


def _fork(req: dict) -> dict:
    from jax._src import xla_bridge

    if xla_bridge.backends_are_initialized():  # its threads would not survive a fork
        return {"id": req["id"], "error": "the launcher's JAX backend has started; it cannot fork a fresh cell"}
    pid = os.fork()
    if pid == 0:
        _child(req)
    return {"id": req["id"], "pid": pid}


def _reap(children: set[int]) -> None:
    while children:
        try:
            pid, status, usage = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        children.discard(pid)
        _send({"pid": pid, "status": status, "peak_rss_mb": peak_rss_mb(usage)})


def main() -> int:
    import importlib
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # ArviZ's notice of its refactor
        for name in PRELOAD:
            importlib.import_module(name)
    children: set[int] = set()
    buf = b""
    try:
        while True:
            if select.select([0], [], [], POLL_S)[0]:
                data = os.read(0, 1 << 16)
                if not data:
                    return 0
                buf += data
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    reply = _fork(json.loads(line))
                    children.update([reply["pid"]] if "pid" in reply else [])
                    _send(reply)
            _reap(children)
    finally:
        for pid in children:
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


if __name__ == "__main__":
    sys.exit(main())
