"""Hostile programs against the Mechanism sandbox: each is contained within its deadline and none
passes. "Passes" means the parent saw the exact expected values for every case."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest

from rooms.sandbox import SandboxLimits, SandboxReport, isolation, run_function, values_equal

LIMITS = SandboxLimits(cpu_seconds=2, wall_seconds=4.0, memory_bytes=256 * 1024 * 1024)
CASES = [[2, 3], [10, -4], [0, 0]]
EXPECTED = [5, 6, 0]
CONTAINED_WITHIN = LIMITS.wall_seconds + 8.0  # generous: the machine is noisy, but bounded


def passes(report: SandboxReport) -> bool:
    """The parent's verdict: every case returned exactly the expected value."""
    return (
        report.status == "completed"
        and len(report.results) == len(EXPECTED)
        and all(values_equal(r, e) for r, e in zip(report.results, EXPECTED, strict=True))
    )


def run(source: str) -> SandboxReport:
    started = time.monotonic()
    report = run_function(source, "add", CASES, LIMITS)
    assert time.monotonic() - started < CONTAINED_WITHIN, report
    return report


def test_correct_code_passes() -> None:
    report = run("def add(a, b):\n    return a + b\n")
    assert passes(report), report
    assert report.isolation == isolation().level


def test_wrong_code_fails_with_values() -> None:
    report = run("def add(a, b):\n    return a - b\n")
    assert report.status == "completed"
    assert not passes(report)
    assert report.results[0].value == ["int", "-1"]


def test_raising_code_reports_the_error() -> None:
    report = run("def add(a, b):\n    raise ValueError('nope')\n")
    assert not passes(report)
    assert report.results[0].error == "ValueError: nope"


HOSTILE: dict[str, str] = {
    "fork_bomb": (
        "import os\n"
        "def add(a, b):\n"
        "    while True:\n"
        "        try:\n"
        "            os.fork()\n"
        "        except OSError:\n"
        "            pass\n"
    ),
    "infinite_loop": "def add(a, b):\n    while True:\n        pass\n",
    "sleep_forever": "import time\ndef add(a, b):\n    time.sleep(10_000)\n",
    "memory_bomb": (
        "def add(a, b):\n    x = [bytearray(10**8) for _ in range(100)]\n    return a + b\n"
    ),
    "write_5gb": (
        "def add(a, b):\n"
        "    with open('big.bin', 'wb') as f:\n"
        "        block = b'x' * (1 << 20)\n"
        "        for _ in range(5 * 1024):\n"
        "            f.write(block)\n"
        "    return a + b\n"
    ),
    "unbounded_stdout": "def add(a, b):\n    while True:\n        print('spam' * 1000)\n",
    "read_stdin": "import sys\ndef add(a, b):\n    data = sys.stdin.read()\n    return int(data)\n",
    "sys_exit_zero": "import sys\nsys.exit(0)\ndef add(a, b):\n    return 0\n",
    "sys_exit_in_function": "import sys\ndef add(a, b):\n    sys.exit(0)\n",
    "os_exit_zero": "import os\ndef add(a, b):\n    os._exit(0)\n",
    "eq_override": (
        "class Anything(int):\n"
        "    def __eq__(self, other):\n"
        "        return True\n"
        "    __hash__ = int.__hash__\n"
        "def add(a, b):\n"
        "    return Anything(0)\n"
    ),
    "eq_override_object": (
        "class Anything:\n"
        "    def __eq__(self, other):\n"
        "        return True\n"
        "def add(a, b):\n"
        "    return Anything()\n"
    ),
    "patch_assert_and_builtins": (
        "import builtins\n"
        "builtins.AssertionError = type('Never', (Exception,), {})\n"
        "builtins.isinstance = lambda *a: True\n"
        "def add(a, b):\n"
        "    return None\n"
    ),
    "patch_encoder": (
        "import sys\n"
        "sup = sys.modules.get('__main__')\n"
        "if sup is not None and hasattr(sup, 'encode_value'):\n"
        "    sup.encode_value = lambda v, depth=0: ['int', '5']\n"
        "def add(a, b):\n"
        "    return 0\n"
    ),
    "hardcoded_visible_cases_only": (
        "def add(a, b):\n    return {(2, 3): 5, (10, -4): 6}.get((a, b), 1)\n"
    ),
    "signal_parent": (
        "import os, signal\n"
        "def add(a, b):\n"
        "    try:\n"
        "        os.kill(os.getppid(), signal.SIGKILL)\n"
        "    except OSError:\n"
        "        pass\n"
        "    return None\n"
    ),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_program_is_contained_and_fails(name: str) -> None:
    report = run(HOSTILE[name])
    assert not passes(report), (name, report)


def test_unbounded_stdout_hits_the_output_cap() -> None:
    report = run(HOSTILE["unbounded_stdout"])
    assert report.status == "output_limit"
    assert len(report.output) <= LIMITS.output_bytes


def test_memory_bomb_is_refused_memory() -> None:
    report = run(HOSTILE["memory_bomb"])
    assert report.results and report.results[0].error is not None
    assert "MemoryError" in report.results[0].error


def test_big_write_stops_at_the_file_size_limit() -> None:
    report = run(HOSTILE["write_5gb"])
    assert not passes(report)
    # SIGXFSZ (25) kills it, or the write raises EFBIG when the signal is ignored
    assert report.exit.get("signal") == 25 or any(
        r.error and "File too large" in r.error for r in report.results
    )


def test_stdin_is_empty() -> None:
    report = run_function(
        "import sys\ndef add(a, b):\n    return sys.stdin.read()\n", "add", [[1, 2]], LIMITS
    )
    assert report.results[0].value == ["str", ""]


def test_environment_is_empty_and_other_processes_environ_unreadable() -> None:
    """A process of ours holding a secret in its environment (as the app holds HF_TOKEN)."""
    canary = f"sk-CANARY-{uuid.uuid4()}"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"],
        env={"QER_SECRET_CANARY": canary},
    )
    try:
        time.sleep(0.2)
        readable_here = Path(f"/proc/{holder.pid}/environ").read_bytes().decode("latin-1")
        assert canary in readable_here  # the secret really is there to steal
        source = (
            "import os\n"
            "def add(a, b):\n"
            "    found = [str(dict(os.environ))]\n"
            "    pids = os.listdir('/proc') if os.path.isdir('/proc') else []\n"
            "    for pid in pids:\n"
            "        if pid.isdigit():\n"
            "            try:\n"
            "                with open(f'/proc/{pid}/environ', 'rb') as f:\n"
            "                    found.append(f.read().decode('latin-1'))\n"
            "            except OSError as exc:\n"
            "                found.append(type(exc).__name__)\n"
            f"    for pid in (os.getppid(), {holder.pid}, {os.getpid()}):\n"
            "        try:\n"
            "            with open(f'/proc/{pid}/environ', 'rb') as f:\n"
            "                found.append(f.read().decode('latin-1'))\n"
            "        except OSError as exc:\n"
            "            found.append(type(exc).__name__)\n"
            "    return '|'.join(found)\n"
        )
        report = run_function(source, "add", [[0, 0]], LIMITS)
    finally:
        holder.kill()
        holder.wait()
    assert report.status == "completed", report
    seen = report.results[0].value[1]
    own_env = seen.split("|", 1)[0]
    # empty, but for the locale Python itself sets when there is none (PEP 538)
    assert own_env in ("{}", "{'LC_CTYPE': 'C.UTF-8'}"), own_env
    assert canary not in seen
    assert canary not in report.output


def test_socket_to_a_loopback_server_is_refused() -> None:
    if not isolation().network_isolated:
        pytest.skip(f"isolation level {isolation().level!r} has no network isolation")
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    accepted: list[socket.socket] = []

    def accept() -> None:
        server.settimeout(6)
        with contextlib.suppress(OSError):
            accepted.append(server.accept()[0])

    thread = threading.Thread(target=accept)
    thread.start()
    source = (
        "import socket\n"
        "def add(a, b):\n"
        "    s = socket.socket()\n"
        "    s.settimeout(2)\n"
        f"    s.connect(('127.0.0.1', {port}))\n"
        "    s.sendall(b'leak')\n"
        "    return a + b\n"
    )
    report = run(source)
    thread.join()
    server.close()
    assert not accepted, "the sandboxed code reached a loopback server"
    assert not passes(report)
    assert report.results[0].error is not None
    assert "OSError" in report.results[0].error or "Unreachable" in report.results[0].error


def _processes_named(name: str) -> list[int]:
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            if Path(f"/proc/{pid}/comm").read_text().strip() == name:
                found.append(int(pid))
        except OSError:
            continue
    return found


def test_setsid_double_fork_escapee_is_killed_and_does_not_hold_the_pipe() -> None:
    marker = f"qer{uuid.uuid4().hex[:10]}"
    source = (
        "import ctypes, os, time\n"
        "def add(a, b):\n"
        "    if os.fork() == 0:\n"
        "        os.setsid()\n"
        "        if os.fork() == 0:\n"
        f"            ctypes.CDLL(None).prctl(15, {marker.encode()!r}, 0, 0, 0)\n"
        "            for _ in range(600):\n"
        "                print('still here', flush=True)\n"
        "                time.sleep(0.1)\n"
        "        os._exit(0)\n"
        "    time.sleep(0.3)\n"
        "    return a + b\n"
    )
    started = time.monotonic()
    report = run(source)
    elapsed = time.monotonic() - started
    assert report.status == "completed", report
    assert passes(report)  # the function itself was right; the escapee just must not survive
    assert elapsed < CONTAINED_WITHIN
    time.sleep(0.2)
    assert _processes_named(marker) == [], "the escapee survived the sandbox"


def test_fork_bomb_leaves_no_processes_behind() -> None:
    marker = f"qer{uuid.uuid4().hex[:10]}"
    source = (
        "import ctypes, os\n"
        "def add(a, b):\n"
        f"    ctypes.CDLL(None).prctl(15, {marker.encode()!r}, 0, 0, 0)\n"
        "    while True:\n"
        "        try:\n"
        "            os.fork()\n"
        "        except OSError:\n"
        "            pass\n"
    )
    report = run(source)
    assert not passes(report)
    time.sleep(0.2)
    assert _processes_named(marker) == []


def test_common_standard_library_imports_work() -> None:
    source = (
        "import math, collections, itertools, functools, heapq, bisect, re, string\n"
        "def add(a, b):\n"
        "    return int(math.fsum([a, b]))\n"
    )
    assert passes(run(source))


def test_values_are_type_strict() -> None:
    report = run_function(
        "def add(a, b):\n    return [True, 1.0, (1,), {'k': {1, 2}}]\n", "add", [[0, 0]], LIMITS
    )
    assert values_equal(report.results[0], [True, 1.0, (1,), {"k": {1, 2}}])
    assert not values_equal(report.results[0], [1, 1, [1], {"k": {1, 2}}])


# --- findings of the security review (each was a working attack before the fix) -------------


def test_host_files_are_out_of_reach(tmp_path: Path) -> None:
    """A private file (0600, like the arena database) is unreadable at every level; with
    namespaces even a world-readable file is out of view and nothing outside can be written."""
    secret = tmp_path / "arena.sqlite3"
    secret.write_text("def add(a, b): return a + b  # the answer key")
    secret.chmod(0o600)
    public = tmp_path / "public.txt"
    public.write_text("world-readable")
    public.chmod(0o644)
    tmp_path.chmod(0o755)
    outside = tmp_path / "pwned"
    source = (
        "import os\n"
        "def add(a, b):\n"
        "    out = []\n"
        f"    for p in ({str(secret)!r}, {str(public)!r}, '/etc/passwd'):\n"
        "        try:\n"
        "            out.append(open(p).read(20))\n"
        "        except OSError as e:\n"
        "            out.append(type(e).__name__)\n"
        "    try:\n"
        f"        open({str(outside)!r}, 'w').write('x')\n"
        "        out.append('WROTE')\n"
        "    except OSError as e:\n"
        "        out.append(type(e).__name__)\n"
        "    out.append(str(sorted(os.listdir('/'))))\n"
        "    return out\n"
    )
    report = run(source)
    seen = [item[1] for item in report.results[0].value[1]]
    assert "answer key" not in seen[0]
    if isolation().confine:
        assert seen[1:4] == ["FileNotFoundError"] * 3 and seen[4] == "[]"
        assert not outside.exists()


def test_a_concurrent_run_cannot_copy_the_other_contestants_code() -> None:
    """The review's thief: poll for another run's job and call its function."""
    thief = (
        "import os, json, time\n"
        "def _steal():\n"
        "    end = time.monotonic() + 3\n"
        "    while time.monotonic() < end:\n"
        "        for base in ('/tmp', os.path.dirname(os.getcwd())):\n"
        "            try:\n"
        "                names = os.listdir(base)\n"
        "            except OSError:\n"
        "                continue\n"
        "            for n in names:\n"
        "                for f in ('job.json', 'work/job.json'):\n"
        "                    try:\n"
        "                        job = json.load(open(os.path.join(base, n, f)))\n"
        "                    except (OSError, ValueError):\n"
        "                        continue\n"
        "                    ns = {}\n"
        "                    exec(job['source'], ns)\n"
        "                    return ns[job['function']]\n"
        "        time.sleep(0.01)\n"
        "_other = _steal()\n"
        "def add(a, b):\n"
        "    return _other(a, b) if _other else 0\n"
    )
    honest = "import time\ntime.sleep(1.0)\ndef add(a, b):\n    return a + b\n"
    reports: dict[str, SandboxReport] = {}
    threads = [
        threading.Thread(target=lambda k=k, s=s: reports.__setitem__(k, run(s)))
        for k, s in (("thief", thief), ("honest", honest))
    ]
    for thread in threads:
        thread.start()
        time.sleep(0.3)
    for thread in threads:
        thread.join()
    assert passes(reports["honest"])
    assert not passes(reports["thief"])


def test_unix_socket_on_the_host_is_unreachable(tmp_path: Path) -> None:
    if not isolation().confine:
        pytest.skip(f"isolation level {isolation().level!r} has no filesystem isolation")
    path = tmp_path / "s"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.listen()
    path.chmod(0o777)
    tmp_path.chmod(0o755)
    source = (
        "import socket\n"
        "def add(a, b):\n"
        "    s = socket.socket(socket.AF_UNIX)\n"
        f"    s.connect({str(path)!r})\n"
        "    return a + b\n"
    )
    try:
        report = run(source)
    finally:
        server.close()
    assert not passes(report)
    assert "FileNotFoundError" in (report.results[0].error or "")


@pytest.mark.parametrize(
    "payload",
    [b'{"results": 5}', b'{"results": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}", b"junk"],
)
def test_forged_results_are_a_failed_run_not_an_exception(payload: bytes) -> None:
    source = (
        "import os, stat\n"
        "def add(a, b):\n"
        "    for fd in range(3, 40):\n"
        "        try:\n"
        "            if stat.S_ISFIFO(os.fstat(fd).st_mode):\n"
        f"                os.write(fd, {payload!r})\n"
        "        except OSError:\n"
        "            pass\n"
        "    os._exit(0)\n"
    )
    report = run(source)  # must return, whatever the worker wrote
    assert report.status in {"no_result", "sandbox_error"}
    assert not passes(report)


def _leftover_runs() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("qer-sandbox-*")}


def test_a_deep_directory_tree_is_cleaned_up() -> None:
    before = _leftover_runs()
    source = (
        "import os\n"
        "def add(a, b):\n"
        "    for _ in range(3000):\n"
        "        os.mkdir('d')\n"
        "        os.chdir('d')\n"
        "    return a + b\n"
    )
    run(source)
    assert _leftover_runs() <= before


def test_a_regrowing_process_chain_leaves_no_survivor() -> None:
    marker = f"qer{uuid.uuid4().hex[:10]}"
    source = (
        "import ctypes, os, time\n"
        "def add(a, b):\n"
        "    if os.fork() == 0:\n"
        "        os.setsid()\n"
        f"        ctypes.CDLL(None).prctl(15, {marker.encode()!r}, 0, 0, 0)\n"
        "        while True:\n"
        "            try:\n"
        "                pid = os.fork()\n"
        "            except OSError:\n"
        "                time.sleep(0.001)\n"
        "                continue\n"
        "            if pid:\n"
        "                while True:\n"
        "                    time.sleep(3600)\n"
        "    time.sleep(0.5)\n"
        "    return a + b\n"
    )
    run(source)
    time.sleep(0.3)
    assert _processes_named(marker) == []


def test_an_unsafe_level_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """Non-root with no namespaces: model code would run as the app's own user; refused."""
    from rooms import sandbox

    refused = sandbox.Isolation(
        level="rlimits", prefix=[], per_run_uid=False, confine=False,
        network_isolated=False, allowed=False, description="test",
    )  # fmt: skip
    monkeypatch.setattr(sandbox, "isolation", lambda: refused)
    report = sandbox.run_function("def add(a, b):\n    return a + b\n", "add", [[1, 2]])
    assert report.status == "sandbox_error"
    assert "QER_SANDBOX_ALLOW_UNSAFE" in report.detail


def test_runs_beyond_the_pool_wait_for_a_slot(monkeypatch: pytest.MonkeyPatch) -> None:
    """Many validations at once (200 matches) never run more than MAX_PARALLEL sandboxes at a
    time; every one still gets its report."""
    from rooms import sandbox

    running, peak, lock = 0, 0, threading.Lock()
    real = sandbox._run_in

    def counted(*args: object, **kwargs: object) -> object:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        try:
            return real(*args, **kwargs)
        finally:
            with lock:
                running -= 1

    monkeypatch.setattr(sandbox, "_run_in", counted)
    reports: list[SandboxReport] = []
    source = "def add(a, b):\n    return a + b\n"
    threads = [
        threading.Thread(target=lambda: reports.append(run_function(source, "add", CASES, LIMITS)))
        for _ in range(3 * sandbox.MAX_PARALLEL)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(reports) == 3 * sandbox.MAX_PARALLEL
    assert all(passes(r) for r in reports), {r.status for r in reports}
    assert 1 <= peak <= sandbox.MAX_PARALLEL
