"""Run untrusted, model-written Python in a sandbox and return what its function returned.

Layers, strongest available first (``isolation()`` reports which one is active):

- ``namespaces``: ``unshare --net --pid --fork --kill-child --mount-proc`` as root: no network
  (loopback only, and down), its own PID space, and the worker chrooted into an empty,
  size-limited private tmpfs (no host file, database, socket or /proc in view); it drops to a uid
  of its own for this run and to no capabilities.
- ``user-namespaces``: the same through an unprivileged user namespace, for non-root hosts (the
  worker keeps the caller's uid but no capability, inside the empty chroot).
- ``rlimits``: no namespaces available (e.g. a container's seccomp refuses them): resource limits,
  a subreaper supervisor and process groups only; as root the worker still gets a uid of its own
  (so a ``kill(-1)`` sweep reaches all it left behind). There is **no network or filesystem
  isolation** at this level, so as a non-root user it is refused unless the operator sets
  ``QER_SANDBOX_ALLOW_UNSAFE=1`` (the code would run as the app's own user).

Always: separate process, ``python -I -S``, fresh temporary directory, empty environment, stdin on
/dev/null, CPU / memory / file-size / open-file / process limits, a wall-clock deadline, output
caps, and every descendant killed at the end. The worker never decides pass/fail: it returns tagged
values that the caller compares against expected values computed in the parent.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import json
import logging
import os
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from rooms._sandbox_supervisor import encode_value

log = logging.getLogger(__name__)

SUPERVISOR = Path(__file__).with_name("_sandbox_supervisor.py")
RUN_UID_BASE = 1_500_000_000
"""Per-run uids are drawn from [base, base + span): far above any real account or subuid range."""
RUN_UID_SPAN = 500_000_000
REPORT_CAP_BYTES = 4 * 1024 * 1024
MAX_PARALLEL = max(2, os.cpu_count() or 2)
"""Sandbox runs at once in this process, whatever the number of matches: a run waits for a slot
(its time limits start once it has one), so 200 matches never fork 200 sandboxes at once."""
_SLOTS = threading.BoundedSemaphore(MAX_PARALLEL)
PR_SET_DUMPABLE = 4
IsolationName = Literal["namespaces", "user-namespaces", "rlimits"]


class SandboxLimits(BaseModel):
    """Resource limits for one sandboxed run."""

    model_config = ConfigDict(frozen=True)

    cpu_seconds: int = 2
    """CPU time of the worker (SIGXCPU, then SIGKILL one second later)."""
    wall_seconds: float = 5.0
    """Wall-clock deadline enforced by the supervisor; the parent allows a few seconds more."""
    memory_bytes: int = 256 * 1024 * 1024
    """Address-space limit of each worker process."""
    file_size_bytes: int = 1024 * 1024
    """Largest file the worker may write."""
    disk_bytes: int = 16 * 1024 * 1024
    """Size of the private tmpfs the worker writes into (namespace levels)."""
    open_files: int = 32
    """Open file descriptors."""
    processes: int = 8
    """Processes/threads of the run's uid (bounds fork bombs; with ``memory_bytes`` it bounds the
    run's memory to about processes x memory_bytes)."""
    output_bytes: int = 64 * 1024
    """stdout+stderr of the worker kept; more kills it (status ``output_limit``)."""
    result_bytes: int = 1024 * 1024
    """Size cap of the returned values."""


class CaseResult(BaseModel):
    """What the candidate function did on one input case."""

    ok: bool
    """True if it returned (False if it raised)."""
    value: Any = None
    """The returned value, tagged by ``encode_value``."""
    error: str | None = None
    """Exception type and message when it raised."""


class SandboxReport(BaseModel):
    """Outcome of one sandboxed run."""

    status: Literal["completed", "timeout", "output_limit", "no_result", "sandbox_error"]
    """``completed`` means the function was called on every case (it may still have raised)."""
    results: list[CaseResult] = []
    """One entry per case when completed."""
    output: str = ""
    """The worker's stdout/stderr, truncated to the output cap."""
    isolation: IsolationName
    """Which isolation level was active."""
    wall_seconds: float
    """Wall time of the whole run, measured by the parent."""
    exit: dict[str, int] = {}
    """The worker's exit code or killing signal."""
    killed: int = 0
    """Leftover processes the supervisor had to kill."""
    detail: str = ""
    """Extra explanation for ``sandbox_error``."""


class Isolation(BaseModel):
    """The isolation level this machine allows, found once per process."""

    level: IsolationName
    prefix: list[str]
    """Command prefix that enters the namespaces (empty at the ``rlimits`` level)."""
    per_run_uid: bool
    """Whether each run's worker gets a uid of its own (when started as root)."""
    confine: bool
    """Chroot into a private tmpfs (needs the mount namespace)."""
    network_isolated: bool
    allowed: bool = True
    """False: not safe here, runs are refused (see ``QER_SANDBOX_ALLOW_UNSAFE``)."""
    description: str


def _probe(prefix: list[str]) -> bool:
    try:
        done = subprocess.run(  # noqa: S603 - fixed argv, no shell
            [*prefix, sys.executable, "-I", "-S", "-c", "import socket"],
            capture_output=True,
            timeout=10,
            env={},
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


@functools.cache
def isolation() -> Isolation:
    """Detect the strongest isolation available here (cached; logged once).

    ``QER_SANDBOX_LEVEL=rlimits`` (or ``user-namespaces``) caps the level, for hosts where the
    namespace probe succeeds but real runs misbehave.
    """
    cap = os.environ.get("QER_SANDBOX_LEVEL", "")
    unshare = shutil.which("unshare") if cap != "rlimits" else None
    flags = ["--net", "--pid", "--fork", "--kill-child", "--mount-proc"]
    is_root = os.geteuid() == 0
    found: Isolation | None = None
    if unshare and is_root and cap != "user-namespaces" and _probe([unshare, *flags]):
        found = Isolation(
            level="namespaces",
            prefix=[unshare, *flags],
            per_run_uid=True,
            confine=True,
            network_isolated=True,
            description="network, PID and mount namespaces; chroot into a private tmpfs; "
            "a uid of its own per run; no capabilities; rlimits",
        )
    elif unshare and _probe([unshare, "--user", "--map-root-user", *flags]):
        found = Isolation(
            level="user-namespaces",
            prefix=[unshare, "--user", "--map-root-user", *flags],
            per_run_uid=False,
            confine=True,
            network_isolated=True,
            description="user, network, PID and mount namespaces; chroot into a private tmpfs; "
            "no capabilities; rlimits",
        )
    else:
        unsafe_ok = os.environ.get("QER_SANDBOX_ALLOW_UNSAFE") == "1"
        found = Isolation(
            level="rlimits",
            prefix=[],
            per_run_uid=is_root,
            confine=False,
            network_isolated=False,
            allowed=is_root or unsafe_ok,
            description="rlimits, process group and subreaper only: NO network or filesystem "
            "isolation" + ("" if is_root else "; code would run as this user"),
        )
        _make_parent_undumpable()
    log.info("sandbox isolation: %s (%s)", found.level, found.description)
    return found


def _make_parent_undumpable() -> None:
    """Stop same-uid children from reading this process's /proc/<pid>/environ and memory."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    except (OSError, AttributeError):
        log.warning("could not mark the process non-dumpable")


def run_function(
    source: str,
    function: str,
    cases: list[list[Any]],
    limits: SandboxLimits | None = None,
) -> SandboxReport:
    """Execute ``source`` in the sandbox and call ``function(*case)`` for each case.

    Blocking (a few tens of milliseconds for well-behaved code); call it from a worker thread in
    async code. Never raises for anything the untrusted code does: every failure is a report.
    """
    limits = limits or SandboxLimits()
    level = isolation()
    if not level.allowed:
        return SandboxReport(
            status="sandbox_error",
            isolation=level.level,
            wall_seconds=0.0,
            detail="no safe sandbox on this host (no namespaces, not root); set "
            "QER_SANDBOX_ALLOW_UNSAFE=1 to run model code as this user anyway",
        )
    with _SLOTS:
        started = time.monotonic()
        root = Path(tempfile.mkdtemp(prefix="qer-sandbox-"))  # 0700: nobody else can look in
        try:
            raw, detail = _run_in(root, level, source, function, cases, limits)
            report = _report(raw, detail, level.level)
        except Exception as exc:  # a bug of ours, or the OS refusing: a failed run, never a crash
            log.exception("sandbox run failed")
            report = _report(None, f"{type(exc).__name__}: {exc}", level.level)
        finally:
            _remove_tree(root)
    report.wall_seconds = round(time.monotonic() - started, 4)
    return report


def _run_in(
    root: Path,
    level: Isolation,
    source: str,
    function: str,
    cases: list[list[Any]],
    limits: SandboxLimits,
) -> tuple[dict[str, Any] | None, str]:
    workdir = root / "work"
    workdir.mkdir(mode=0o700)
    uid = RUN_UID_BASE + secrets.randbelow(RUN_UID_SPAN) if level.per_run_uid else None
    if uid is not None:
        os.chown(workdir, uid, uid)
    job = {
        "source": source,
        "function": function,
        "cases": cases,
        "limits": limits.model_dump(),
        "workdir": str(workdir),
        "drop_uid": uid,
        "confine": level.confine,
    }
    argv = [*level.prefix, sys.executable, "-I", "-S", str(SUPERVISOR)]
    return _run_supervisor(argv, root, json.dumps(job).encode(), limits.wall_seconds + 10.0)


def _report(raw: dict[str, Any] | None, detail: str, level: IsolationName) -> SandboxReport:
    if raw is not None:
        try:
            raw["isolation"] = level
            raw["wall_seconds"] = 0.0
            return SandboxReport.model_validate(raw)
        except (ValueError, TypeError) as exc:
            detail = f"malformed supervisor report: {exc}"[:300]
    return SandboxReport(status="sandbox_error", isolation=level, wall_seconds=0.0, detail=detail)


def _run_supervisor(
    argv: list[str], cwd: Path, job: bytes, deadline: float
) -> tuple[dict[str, Any] | None, str]:
    """Run the supervisor with the job on stdin; return its parsed report, or None and why.

    Its output is read with a cap and a deadline, and the final wait is bounded: nothing it (or
    anything that got hold of its pipes) does can make this block or grow without bound.
    """
    proc = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
        argv,
        cwd=cwd,
        env={},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.write(job)
        proc.stdin.close()
        stdout, stderr, why = _read_capped(proc, deadline)
    finally:
        _kill_group(proc.pid)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
    if why:
        return None, why
    lines = stdout.decode("utf-8", "replace").strip().splitlines()
    if not lines:
        return None, f"supervisor printed nothing (rc={proc.returncode}): {stderr[-300:]!r}"
    try:
        report = json.loads(lines[-1])
    except (ValueError, RecursionError):
        return None, f"unreadable supervisor report: {lines[-1][:200]!r}"
    if not isinstance(report, dict):
        return None, "supervisor report is not an object"
    return report, ""


def _read_capped(proc: subprocess.Popen[bytes], deadline: float) -> tuple[bytes, bytes, str]:
    """Read stdout and stderr until the supervisor exits (then what is buffered), the deadline,
    or the cap; the third item says why reading stopped early ("" when it did not)."""
    assert proc.stdout is not None and proc.stderr is not None
    buffers = {proc.stdout.fileno(): bytearray(), proc.stderr.fileno(): bytearray()}
    open_fds = set(buffers)
    stop_at = time.monotonic() + deadline
    while open_fds:
        remaining = stop_at - time.monotonic()
        if remaining <= 0:
            return b"", b"", "supervisor missed its deadline and was killed"
        exited = proc.poll() is not None
        ready, _, _ = select.select(list(open_fds), [], [], 0 if exited else min(0.1, remaining))
        if exited and not ready:
            break
        for fd in ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                open_fds.discard(fd)
            buffers[fd] += chunk
        if sum(len(b) for b in buffers.values()) > REPORT_CAP_BYTES:
            return b"", b"", "supervisor output over the cap; killed"
    return bytes(buffers[proc.stdout.fileno()]), bytes(buffers[proc.stderr.fileno()]), ""


def _remove_tree(root: Path) -> None:
    """Remove a run's directory, however deep the code nested it (``rm`` does not recurse on the
    Python stack)."""
    try:
        shutil.rmtree(root)
    except (OSError, RecursionError):
        subprocess.run(  # noqa: S603 - fixed argv
            ["rm", "-rf", "--one-file-system", str(root)],  # noqa: S607 - coreutils
            check=False,
            capture_output=True,
            timeout=60,
        )


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def values_equal(result: CaseResult, expected: Any) -> bool:
    """True when the case returned exactly ``expected`` (type-strict, see ``encode_value``)."""
    return result.ok and result.value == encode_value(expected)
