"""Trusted supervisor for running untrusted model-written code (see ``rooms/sandbox.py``).

Run as ``python -I -S _sandbox_supervisor.py`` with the job as JSON on stdin and an empty
environment, inside fresh namespaces when the OS allows. With namespaces (``confine``) it mounts a
small private tmpfs as the work directory. It forks one worker that:

- starts its own process group, with stdin on /dev/null and stdout/stderr on a capped pipe;
- with namespaces, chroots into the empty tmpfs (no host file, database, socket or /proc in view);
- sets resource limits (CPU, address space, file size, open files, processes, no core dumps);
- drops to the run's own unprivileged uid when started as root, drops every capability, and sets
  ``no_new_privs``;
- executes the candidate source and calls the named function on each input case;
- writes the *tagged* return values (exact builtin types only) to a private result pipe.

The supervisor enforces the wall-clock deadline and output caps, then kills every remaining
descendant (it is a child subreaper, so a ``setsid`` double-fork escapee is re-parented to it and
killed too; with a per-run uid, a helper with that uid also sends ``kill(-1)``) and prints one
JSON report line. It never decides pass/fail: the parent compares the
returned values against expected values it computed itself, including cases the model never saw.

This file must stay importable by the parent (``encode_value`` is shared) and runnable with
``-S`` (standard library only).
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import json
import os
import resource
import select
import signal
import sys
import time
from typing import Any

PRELOADED_MODULES: tuple[str, ...] = (
    "array", "bisect", "cmath", "collections", "collections.abc", "copy", "dataclasses",
    "datetime", "decimal", "enum", "fractions", "functools", "heapq", "itertools", "math",
    "operator", "random", "re", "socket", "statistics", "string", "textwrap", "typing",
    "unicodedata",
)  # fmt: skip
"""Standard-library modules imported before the privilege drop: the interpreter's files may not be
readable by the unprivileged user (e.g. a Python installed under /root), so model code can import
these and little else."""

PR_SET_DUMPABLE = 4
PR_CAPBSET_DROP = 24
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
MS_NOSUID, MS_NODEV = 2, 4
CAP_LAST = 63
LINUX_CAPABILITY_VERSION_3 = 0x20080522
_MAX_DEPTH = 20


class UnsupportedValue(TypeError):
    """A return value that is not made of exact builtin types."""


def encode_value(value: Any, depth: int = 0) -> Any:
    """Tag a value with its exact type so that 1, 1.0, True, [1] and (1,) all differ.

    Only exact builtin types are accepted (subclasses are refused), so a returned object cannot
    smuggle in a custom ``__eq__``. Parent and worker share this function.
    """
    if depth > _MAX_DEPTH:
        raise UnsupportedValue("value nested too deeply")
    kind = type(value)
    if value is None:
        return ["none", None]
    if kind is bool:
        return ["bool", value]
    if kind is int:
        return ["int", str(value)]
    if kind is float:
        return ["float", repr(value)]
    if kind is str:
        return ["str", value]
    if kind is list or kind is tuple:
        return [kind.__name__, [encode_value(item, depth + 1) for item in value]]
    if kind is dict:
        items = [[encode_value(k, depth + 1), encode_value(v, depth + 1)] for k, v in value.items()]
        items.sort(key=lambda pair: json.dumps(pair[0]))
        return ["dict", items]
    if kind is set or kind is frozenset:
        elements = sorted((encode_value(item, depth + 1) for item in value), key=json.dumps)
        return ["set", elements]
    raise UnsupportedValue(f"unsupported return type {kind.__name__}")


def _libc_prctl(option: int, arg: int) -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(option, arg, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _set_limits(limits: dict[str, int]) -> None:
    cpu = limits["cpu_seconds"]
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_AS, (limits["memory_bytes"], limits["memory_bytes"]))
    resource.setrlimit(
        resource.RLIMIT_FSIZE, (limits["file_size_bytes"], limits["file_size_bytes"])
    )
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits["open_files"], limits["open_files"]))
    resource.setrlimit(resource.RLIMIT_NPROC, (limits["processes"], limits["processes"]))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _drop_privileges(uid: int | None) -> None:
    if uid is None or os.geteuid() != 0:
        return
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
    if os.geteuid() == 0:  # pragma: no cover - the kernel refused; never run untrusted code as root
        os._exit(125)


class _CapHeader(ctypes.Structure):
    _fields_ = (("version", ctypes.c_uint32), ("pid", ctypes.c_int))


class _CapData(ctypes.Structure):
    _fields_ = (
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    )


def _drop_capabilities() -> bool:
    """Empty the bounding, effective, permitted and inheritable sets (a user namespace's root
    keeps full capabilities inside it otherwise). True when the kernel accepted."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in range(CAP_LAST + 1):
        libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)  # EINVAL past the last known cap: fine
    header = _CapHeader(LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    return int(libc.capset(ctypes.byref(header), data)) == 0


def _mount_private_tmpfs(path: str, size_bytes: int, uid: int | None) -> None:
    """A size-limited tmpfs on ``path``, visible only in this mount namespace."""
    owner = 0 if uid is None else uid
    options = f"size={size_bytes},mode=0700,uid={owner},gid={owner}".encode()
    libc = ctypes.CDLL(None, use_errno=True)
    rc = libc.mount(b"tmpfs", path.encode(), b"tmpfs", MS_NOSUID | MS_NODEV, options)
    if rc != 0:
        raise OSError(ctypes.get_errno(), f"mount tmpfs on {path}")


def _run_cases(source: str, function: str, cases: list[list[Any]]) -> list[dict[str, Any]]:
    namespace: dict[str, Any] = {"__name__": "solution"}
    try:
        code = compile(source, "solution.py", "exec")
        exec(code, namespace)  # noqa: S102 - the whole point: this runs in the sandboxed worker
    except BaseException as exc:  # SystemExit and KeyboardInterrupt included: all are failures
        return [{"ok": False, "error": f"import: {type(exc).__name__}: {exc}"[:300]}] * len(cases)
    func = namespace.get(function)
    if not callable(func):
        return [{"ok": False, "error": f"no function named {function!r}"}] * len(cases)
    results: list[dict[str, Any]] = []
    for args in cases:
        try:
            results.append({"ok": True, "value": encode_value(func(*args))})
        except BaseException as exc:
            results.append({"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]})
    return results


def _worker(job: dict[str, Any], out_w: int, res_w: int) -> None:
    """The forked child: confine itself, run the cases, report on ``res_w``. Never returns."""
    try:
        os.setpgid(0, 0)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(out_w, 1)
        os.dup2(out_w, 2)
        os.closerange(3, res_w)
        os.closerange(res_w + 1, 65536)
        os.chdir(job["workdir"])  # before the drop: the run's root directory is 0700
        if job["confine"]:
            os.chroot(".")
            os.chdir("/")
        _set_limits(job["limits"])
        _drop_privileges(job.get("drop_uid"))
        if not _drop_capabilities() and job["confine"]:
            os._exit(124)  # keep no capability inside the namespaces, or run nothing
        _libc_prctl(PR_SET_NO_NEW_PRIVS, 1)
        results = _run_cases(job["source"], job["function"], job["cases"])
        with contextlib.suppress(BaseException):
            sys.stdout.flush()
            sys.stderr.flush()
        payload = json.dumps({"results": results}).encode()
        view = memoryview(payload)
        while view:
            written = os.write(res_w, view)
            view = view[written:]
    except BaseException:  # noqa: S110 - any failure here is reported as "no result"
        pass
    os._exit(0)


def _children(parent: int) -> list[int]:
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) > 1 and int(fields[1]) == parent:
            found.append(int(name))
    return found


def _kill_descendants(deadline_s: float = 3.0) -> int:
    """Kill everything below this process (orphans are re-parented here: we are a subreaper)."""
    me = os.getpid()
    killed = 0
    stop = time.monotonic() + deadline_s
    while time.monotonic() < stop:
        kids = _children(me)
        for pid in kids:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except ProcessLookupError:
                pass
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                pid = -1
            if pid <= 0:
                break
        if not kids and not _children(me):
            break
        time.sleep(0.01)
    return killed


def _kill_uid(uid: int) -> None:
    """Fork a helper with the run's uid that kills every process of that uid (``kill(-1)``
    reaches exactly the processes a sender may signal: those of its own uid)."""
    pid = os.fork()
    if pid == 0:
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            for _ in range(200):
                try:
                    os.kill(-1, signal.SIGKILL)  # never reaches the sender itself
                except ProcessLookupError:
                    break
                time.sleep(0.005)
        finally:
            os._exit(0)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


def _well_formed(results: Any, n_cases: int) -> bool:
    """The worker's results must be exactly one ``{ok, value|error}`` object per case."""
    if not isinstance(results, list) or len(results) != n_cases:
        return False
    for item in results:
        if not isinstance(item, dict) or not isinstance(item.get("ok"), bool):
            return False
        if not item["ok"] and not isinstance(item.get("error"), str):
            return False
    return True


def _exit_info(wait_status: int) -> dict[str, int]:
    if os.WIFSIGNALED(wait_status):
        return {"signal": os.WTERMSIG(wait_status)}
    return {"exit_code": os.WEXITSTATUS(wait_status)}


def _read_ready(
    fds: set[int], timeout: float, out_r: int, output: bytearray, result: bytearray
) -> list[int]:
    """Read one chunk from each ready pipe into its buffer; closed pipes leave ``fds``."""
    if not fds:
        time.sleep(timeout)
        return []
    readable, _, _ = select.select(list(fds), [], [], timeout)
    for fd in readable:
        chunk = os.read(fd, 65536)
        if chunk:
            (output if fd == out_r else result).extend(chunk)
        else:
            fds.discard(fd)
    return readable


def _preload() -> None:
    for name in PRELOADED_MODULES:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)


def supervise(job: dict[str, Any]) -> dict[str, Any]:
    _libc_prctl(PR_SET_DUMPABLE, 0)
    _libc_prctl(PR_SET_CHILD_SUBREAPER, 1)
    _preload()
    if job["confine"]:
        _mount_private_tmpfs(job["workdir"], job["limits"]["disk_bytes"], job.get("drop_uid"))
    limits = job["limits"]
    out_r, out_w = os.pipe()
    res_r, res_w = os.pipe()
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        os.close(out_r)
        os.close(res_r)
        _worker(job, out_w, res_w)
    os.close(out_w)
    os.close(res_w)
    output = bytearray()
    result = bytearray()
    status = "completed"
    exit_info: dict[str, int] = {}
    open_fds = {out_r, res_r}
    deadline = start + limits["wall_seconds"]
    exited = False
    drained = 0
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            status = "timeout"
            break
        if not exited:
            done, wait_status = os.waitpid(pid, os.WNOHANG)
            if done:
                exited = True
                exit_info = _exit_info(wait_status)
        # Once the worker is gone, take only what is already buffered: an escapee that inherited
        # the pipes must not keep us here.
        timeout = 0.0 if exited else min(0.05, remaining)
        readable = _read_ready(open_fds, timeout, out_r, output, result)
        if len(output) > limits["output_bytes"] or len(result) > limits["result_bytes"]:
            status = "output_limit"
            break
        if exited and not readable:
            break
        if exited:
            drained += 1
            if drained > 64:
                break
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    if job.get("drop_uid") is not None:
        _kill_uid(job["drop_uid"])
    killed = _kill_descendants()
    report: dict[str, Any] = {
        "status": status,
        "output": bytes(output[: limits["output_bytes"]]).decode("utf-8", "replace"),
        "exit": exit_info,
        "killed": killed,
        "wall_seconds": round(time.monotonic() - start, 4),
    }
    if status == "completed":
        try:
            results = json.loads(bytes(result))["results"]
        except (ValueError, KeyError, TypeError, RecursionError):
            results = None
        if _well_formed(results, len(job["cases"])):
            report["results"] = results
        else:
            report["status"] = "no_result"
    return report


def main() -> None:
    job = json.loads(sys.stdin.buffer.read())
    report = supervise(job)
    sys.stdout.write(json.dumps(report) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
