"""Running a project's tests for ``rlcore upgrade``, supervised: streamed, timed, always stopped (private).

:func:`run_tests` runs ``<python> -m pytest`` with :data:`PYTEST_ARGS` in the project, in its own
process group, and streams its output with the elapsed time. The group is stopped when the run
exceeds its timeout (:class:`TestsTimedOut`) or an exception (Ctrl-C, SIGTERM) interrupts it,
and a small watchdog process stops it if the upgrade itself is killed outright.
"""

from __future__ import annotations

import collections
import contextlib
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, TextIO

__all__ = ["DEFAULT_TIMEOUT_S", "PYTEST_ARGS", "TestsTimedOut", "run_tests"]

#: The test command's arguments after ``<python> -m pytest``.
PYTEST_ARGS = ("-q", "-p", "no:cacheprovider", "-W", "error::rlcore.deprecation.RLCoreDeprecationWarning")
_TAIL_LINES = 15
_HEARTBEAT_S = 5.0
_STOP_GRACE_S = 5.0
#: Default for ``--timeout``: how long the project's tests may run.
DEFAULT_TIMEOUT_S = 1800.0
# Run by a separate interpreter in its own session: it waits for the upgrade's end of its stdin
# pipe to close. A clean finish writes "done" first; an upgrade killed with SIGKILL cannot, and
# the watchdog then kills the tests' process group, which would otherwise run on unsupervised.
_WATCHDOG = """
import os, signal, sys
if not sys.stdin.buffer.read().endswith(b"done"):
    try:
        os.killpg(int(sys.argv[1]), signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
"""


class TestsTimedOut(Exception):
    """The project's tests ran longer than the timeout (their process group has been stopped)."""


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the test run's whole process group: SIGTERM, then SIGKILL after a grace period."""
    if process.poll() is not None:
        return
    if not hasattr(os, "killpg"):  # Windows: no process groups to signal
        process.kill()
        process.wait()
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=_STOP_GRACE_S)
            return
        except subprocess.TimeoutExpired:
            continue


def _pump(stream: IO[bytes], lines: queue.Queue[str | None]) -> None:
    for raw in iter(stream.readline, b""):
        lines.put(raw.decode("utf-8", errors="replace").rstrip("\r\n"))
    lines.put(None)


def _start_watchdog(process_group: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", _WATCHDOG, str(process_group)],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # a Ctrl-C or SIGTERM meant for the upgrade does not reach it
    )


def _release_watchdog(watchdog: subprocess.Popen[bytes]) -> None:
    assert watchdog.stdin is not None
    with contextlib.suppress(OSError):
        watchdog.stdin.write(b"done")
        watchdog.stdin.close()
    watchdog.wait()


def run_tests(
    project: Path, python: str, log: TextIO, timeout: float | None = DEFAULT_TIMEOUT_S
) -> tuple[int, list[str]]:
    """Run the project's tests with ``python``; stream them to ``log`` with the elapsed time.

    Returns the exit status and the last lines of the output. On an exception (Ctrl-C,
    SIGTERM) the run's process group is stopped before the exception propagates; a watchdog
    process stops it too if this process is killed outright.

    Raises:
        TestsTimedOut: the tests ran longer than ``timeout`` seconds (``None``: no limit);
            their process group has been stopped.
    """
    command = [python, "-m", "pytest", *PYTEST_ARGS]
    name = project.name
    tail: collections.deque[str] = collections.deque(maxlen=_TAIL_LINES)
    with tempfile.TemporaryDirectory(prefix="rlcore-upgrade-") as scratch:
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", HYPOTHESIS_STORAGE_DIRECTORY=scratch)
        start = time.monotonic()
        print(f"  {name}: running {' '.join(command[1:])}", file=log, flush=True)
        # Its own session: a terminal's Ctrl-C reaches only us, and we stop the whole group
        # (pytest-xdist workers included) after restoring nothing half-way.
        process = subprocess.Popen(
            command,
            cwd=project,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        watchdog = _start_watchdog(process.pid) if hasattr(os, "killpg") else None
        try:
            assert process.stdout is not None
            lines: queue.Queue[str | None] = queue.Queue()
            threading.Thread(target=_pump, args=(process.stdout, lines), daemon=True).start()
            last_print = start
            while True:
                if timeout is not None and time.monotonic() - start > timeout:
                    raise TestsTimedOut(f"tests did not finish within {timeout:g}s (--timeout)")
                try:
                    line = lines.get(timeout=0.5)
                except queue.Empty:
                    if time.monotonic() - last_print >= _HEARTBEAT_S:
                        print(f"  {name} [{time.monotonic() - start:6.1f}s] ...", file=log, flush=True)
                        last_print = time.monotonic()
                    continue
                if line is None:
                    break
                if line.strip():
                    tail.append(line)
                print(f"  {name} [{time.monotonic() - start:6.1f}s] {line}", file=log, flush=True)
                last_print = time.monotonic()
            # Output closed: the run is ending (or detached its output), still within the limit.
            remaining = None if timeout is None else max(0.0, timeout - (time.monotonic() - start))
            try:
                returncode = process.wait(timeout=remaining)
            except subprocess.TimeoutExpired:
                raise TestsTimedOut(f"tests did not finish within {timeout:g}s (--timeout)") from None
        except BaseException:
            _stop(process)
            raise
        finally:
            if watchdog is not None:
                _release_watchdog(watchdog)
            if process.stdout is not None:
                process.stdout.close()
    print(f"  {name}: tests exited {returncode} after {time.monotonic() - start:.1f}s", file=log, flush=True)
    return returncode, list(tail)
