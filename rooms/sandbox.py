"""Run untrusted, model-written Python in a sandbox and return what its function returned.

Layers, strongest available first (``isolation()`` reports which one is active):

- ``namespaces``: ``unshare --net --pid --fork --kill-child --mount-proc`` as root: no network
  (loopback only, and down), its own PID space and /proc (the host's processes are invisible),
  and the worker drops to uid ``nobody`` before running the code.
- ``user-namespaces``: the same through an unprivileged user namespace, for non-root hosts.
- ``rlimits``: no namespaces available (e.g. a container's seccomp refuses them): resource limits,
  a subreaper supervisor and process groups only. There is **no network isolation** at this level,
  and the parent process marks itself non-dumpable so the code cannot read its environment.

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
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from rooms._sandbox_supervisor import encode_value

log = logging.getLogger(__name__)

SUPERVISOR = Path(__file__).with_name("_sandbox_supervisor.py")
NOBODY_UID = 65534
PR_SET_DUMPABLE = 4
IsolationName = Literal["namespaces", "user-namespaces", "rlimits"]


class SandboxLimits(BaseModel):
    """Resource limits for one sandboxed run."""

    model_config = ConfigDict(frozen=True)

    cpu_seconds: int = 2
    """CPU time of the worker (SIGXCPU, then SIGKILL one second later)."""
    wall_seconds: float = 5.0
    """Wall-clock deadline enforced by the supervisor; the parent allows a few seconds more."""
    memory_bytes: int = 512 * 1024 * 1024
    """Address-space limit of the worker."""
    file_size_bytes: int = 1024 * 1024
    """Largest file the worker may write."""
    open_files: int = 32
    """Open file descriptors."""
    processes: int = 32
    """Processes/threads of the sandbox user (bounds fork bombs)."""
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
    drop_uid: int | None
    """The uid the worker drops to, if any."""
    network_isolated: bool
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
            drop_uid=NOBODY_UID,
            network_isolated=True,
            description="network, PID and mount namespaces; worker runs as nobody; rlimits",
        )
    elif unshare and _probe([unshare, "--user", "--map-root-user", *flags]):
        found = Isolation(
            level="user-namespaces",
            prefix=[unshare, "--user", "--map-root-user", *flags],
            drop_uid=None,
            network_isolated=True,
            description="user, network, PID and mount namespaces; rlimits",
        )
    else:
        found = Isolation(
            level="rlimits",
            prefix=[],
            drop_uid=NOBODY_UID if is_root else None,
            network_isolated=False,
            description="rlimits, process group and subreaper only: NO network isolation",
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
    async code. Never raises for anything the untrusted code does.
    """
    limits = limits or SandboxLimits()
    level = isolation()
    started = time.monotonic()
    root = Path(tempfile.mkdtemp(prefix="qer-sandbox-"))
    try:
        workdir = root / "work"
        workdir.mkdir()
        if level.drop_uid is not None:
            os.chown(workdir, level.drop_uid, level.drop_uid)
        root.chmod(0o755)
        job_path = root / "job.json"
        job = {
            "source": source,
            "function": function,
            "cases": cases,
            "limits": limits.model_dump(),
            "workdir": str(workdir),
            "drop_uid": level.drop_uid,
        }
        job_path.write_text(json.dumps(job), encoding="utf-8")
        argv = [*level.prefix, sys.executable, "-I", "-S", str(SUPERVISOR), str(job_path)]
        raw, detail = _run_supervisor(argv, cwd=root, deadline=limits.wall_seconds + 10.0)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    wall = round(time.monotonic() - started, 4)
    if raw is None:
        return SandboxReport(
            status="sandbox_error", isolation=level.level, wall_seconds=wall, detail=detail
        )
    raw["isolation"] = level.level
    raw["wall_seconds"] = wall
    return SandboxReport.model_validate(raw)


def _run_supervisor(argv: list[str], cwd: Path, deadline: float) -> tuple[dict | None, str]:
    """Run the supervisor; return its parsed report, or None and why."""
    proc = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
        argv,
        cwd=cwd,
        env={},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=deadline)
    except subprocess.TimeoutExpired:
        _kill_group(proc.pid)
        proc.communicate()
        return None, "supervisor missed its deadline and was killed"
    finally:
        _kill_group(proc.pid)
    lines = stdout.decode("utf-8", "replace").strip().splitlines()
    if not lines:
        return None, f"supervisor printed nothing (rc={proc.returncode}): {stderr[-300:]!r}"
    try:
        return json.loads(lines[-1]), ""
    except ValueError:
        return None, f"unreadable supervisor report: {lines[-1][:200]!r}"


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def values_equal(result: CaseResult, expected: Any) -> bool:
    """True when the case returned exactly ``expected`` (type-strict, see ``encode_value``)."""
    return result.ok and result.value == encode_value(expected)
