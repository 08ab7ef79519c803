"""A stand-in for the Hugging Face Hub's HTTP API, on 127.0.0.1, for one dataset repo.

Enough of the API for ``HfApi.repo_info``, ``list_repo_tree``, ``create_commit`` (preupload answers
"regular", so file contents travel inline in the commit) and ``snapshot_download`` (HEAD/GET on
``resolve``). Every commit call is recorded. ``faults`` queues what the next commit calls do:
an HTTP status (``412``, ``429``, ``503``...) answered instead of committing, or ``"drop"``: apply
the commit, then close the connection without an answer (the client never learns it worked).
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit


def blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


@dataclass
class Commit:
    oid: str
    parent: str | None
    summary: str
    paths: list[str]


@dataclass
class HubStandIn:
    repo_id: str = "qer/results"
    files: dict[str, bytes] = field(default_factory=dict)
    head: str = "0" * 40
    commits: list[Commit] = field(default_factory=list)
    commit_calls: int = 0
    faults: deque[int | str] = field(default_factory=deque)
    unhandled: list[str] = field(default_factory=list)
    """Requests the stand-in does not emulate (answered 404)."""
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> HubStandIn:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                hub.handle(self, "GET")

            def do_HEAD(self) -> None:
                hub.handle(self, "HEAD")

            def do_POST(self) -> None:
                hub.handle(self, "POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    # -- routing ------------------------------------------------------------------------------
    def handle(self, request: BaseHTTPRequestHandler, method: str) -> None:
        path = unquote(urlsplit(request.path).path)
        api = f"/api/datasets/{self.repo_id}"
        body = b""
        if method == "POST":
            body = request.rfile.read(int(request.headers.get("content-length", 0)))
        with self.lock:
            if method == "GET" and (path == api or path.startswith(f"{api}/revision/")):
                return self.json(request, self.info())
            if method == "GET" and path.startswith(f"{api}/tree/"):
                return self.json(request, self.tree())
            if method == "POST" and path.startswith(f"{api}/preupload/"):
                return self.json(request, self.preupload(json.loads(body)))
            if method == "POST" and path.startswith(f"{api}/commit/"):
                return self.commit(request, body)
            prefix = f"/datasets/{self.repo_id}/resolve/"
            if path.startswith(prefix):
                name = path[len(prefix) :].split("/", 1)[1]
                return self.resolve(request, method, name)
            if method == "POST" and path == "/api/validate-yaml":  # the card's metadata
                return self.json(request, {"errors": [], "warnings": []})
            if method == "POST" and path == "/api/repos/create":
                return self.json(request, {"error": "already exists"}, 409)
        self.unhandled.append(f"{method} {path}")
        self.json(request, {"error": f"not emulated: {method} {path}"}, 404)

    def json(self, request: BaseHTTPRequestHandler, data: Any, status: int = 200) -> None:
        raw = json.dumps(data).encode()
        request.send_response(status)
        request.send_header("content-type", "application/json")
        request.send_header("content-length", str(len(raw)))
        request.end_headers()
        request.wfile.write(raw)

    # -- endpoints ----------------------------------------------------------------------------
    def info(self) -> dict[str, Any]:
        return {
            "id": self.repo_id,
            "_id": "stand-in",
            "sha": self.head,
            "private": False,
            "siblings": [{"rfilename": p} for p in sorted(self.files)],
        }

    def tree(self) -> list[dict[str, Any]]:
        return [
            {"type": "file", "path": p, "oid": blob_id(d), "size": len(d)}
            for p, d in sorted(self.files.items())
        ]

    def preupload(self, payload: dict[str, Any]) -> dict[str, Any]:
        return {
            "files": [
                {
                    "path": f["path"],
                    "uploadMode": "regular",
                    "shouldIgnore": False,
                    "oid": blob_id(self.files[f["path"]]) if f["path"] in self.files else None,
                }
                for f in payload["files"]
            ]
        }

    def commit(self, request: BaseHTTPRequestHandler, body: bytes) -> None:
        self.commit_calls += 1
        fault = self.faults.popleft() if self.faults else None
        if isinstance(fault, int):
            return self.json(request, {"error": f"stand-in fault {fault}"}, fault)
        lines = [json.loads(line) for line in body.splitlines() if line.strip()]
        header = lines[0]["value"]
        if header.get("parentCommit") not in (None, self.head):
            return self.json(request, {"error": "A commit has happened since"}, 412)
        paths = []
        for line in lines[1:]:
            if line["key"] != "file":
                return self.json(request, {"error": f"not emulated: {line['key']}"}, 400)
            self.files[line["value"]["path"]] = base64.b64decode(line["value"]["content"])
            paths.append(line["value"]["path"])
        oid = hashlib.sha1(f"{self.head}{body!r}".encode(), usedforsecurity=False).hexdigest()
        self.commits.append(Commit(oid, self.head, header["summary"], paths))
        self.head = oid
        if fault == "drop":
            request.close_connection = True
            request.connection.shutdown(2)
            return None
        return self.json(request, {"commitUrl": f"{self.url}/c/{oid}", "commitOid": oid,
                                   "success": True, "pullRequestUrl": None})  # fmt: skip

    def resolve(self, request: BaseHTTPRequestHandler, method: str, name: str) -> None:
        data = self.files.get(name)
        if data is None:
            return self.json(request, {"error": "entry not found"}, 404)
        request.send_response(200)
        request.send_header("x-repo-commit", self.head)
        request.send_header("etag", f'"{blob_id(data)}"')
        request.send_header("content-length", str(len(data)))
        request.send_header("content-type", "application/octet-stream")
        request.end_headers()
        if method == "GET":
            request.wfile.write(data)
        return None
