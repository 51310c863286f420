"""A loopback model hub: the real `huggingface_hub` client (snapshot_download) talks to it over HTTP.

Speaks the paths the client uses for a snapshot:
- `GET /api/models/<repo>/revision/<rev>`: repo info with the commit `sha` and `siblings`,
- `GET /api/models/<repo>/tree/<rev>[/<path>]?recursive=…`: the file listing (sizes, blob ids),
- `HEAD|GET /<repo>/resolve/<rev>/<file>`: a file, with `X-Repo-Commit`, `ETag` and `Content-Length`.
Unknown repos answer 404 with `X-Error-Code: RepoNotFound`, as the hub does.

    hub = ModelHub().start()
    hub.add_repo("Systran/faster-whisper-small", {"model.bin": b"...", "config.json": b"{}"})
    settings-side: snapshot_download(..., endpoint=hub.url) or HF_ENDPOINT=hub.url

The files can be small: the pull tests check transport and progress, not CTranslate2.
"""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit


class ModelHub:
    def __init__(self) -> None:
        self.repos: dict[str, dict[str, bytes]] = {}
        self.shas: dict[str, str] = {}
        self.requests: list[tuple[str, str]] = []
        self._server: ThreadingHTTPServer | None = None

    def add_repo(self, repo: str, files: dict[str, bytes]) -> None:
        self.repos[repo] = dict(files)
        self.shas[repo] = hashlib.sha1(json.dumps([repo, sorted(files)]).encode()).hexdigest()

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> ModelHub:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet
                pass

            def do_HEAD(self) -> None:
                hub._handle(self, head=True)

            def do_GET(self) -> None:
                hub._handle(self, head=False)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # --- protocol ----------------------------------------------------------------------------------
    def _find_repo(self, parts: list[str]) -> tuple[str, list[str]] | None:
        for size in (2, 1):
            repo = "/".join(parts[:size])
            if repo in self.repos:
                return repo, parts[size:]
        return None

    def _handle(self, handler: BaseHTTPRequestHandler, *, head: bool) -> None:
        path = urlsplit(handler.path).path
        self.requests.append(("HEAD" if head else "GET", path))
        parts = [unquote(p) for p in path.strip("/").split("/")]
        if parts[:2] == ["api", "models"]:
            found = self._find_repo(parts[2:])
            if found is None:
                return self._not_found(handler)
            repo, rest = found
            if rest[:1] == ["revision"]:
                return self._json(handler, self._info(repo), head=head)
            if rest[:1] == ["tree"]:
                prefix = "/".join(rest[2:])
                return self._json(handler, self._tree(repo, prefix), head=head)
            return self._not_found(handler)
        found = self._find_repo(parts)
        if found is None:
            return self._not_found(handler)
        repo, rest = found
        if rest[:1] != ["resolve"] or len(rest) < 3:
            return self._not_found(handler)
        filename = "/".join(rest[2:])
        data = self.repos[repo].get(filename)
        if data is None:
            handler.send_response(404)
            handler.send_header("X-Error-Code", "EntryNotFound")
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        handler.send_response(200)
        handler.send_header("Content-Type", "application/octet-stream")
        handler.send_header("Content-Length", str(len(data)))
        handler.send_header("X-Repo-Commit", self.shas[repo])
        handler.send_header("ETag", f'"{_blob_id(data)}"')
        handler.end_headers()
        if not head:
            handler.wfile.write(data)

    def _info(self, repo: str) -> dict:
        return {
            "id": repo,
            "modelId": repo,
            "sha": self.shas[repo],
            "private": False,
            "siblings": [{"rfilename": name} for name in sorted(self.repos[repo])],
        }

    def _tree(self, repo: str, prefix: str) -> list[dict]:
        entries = []
        for name, data in sorted(self.repos[repo].items()):
            if prefix and not name.startswith(prefix.rstrip("/") + "/"):
                continue
            entries.append({"type": "file", "path": name, "size": len(data), "oid": _blob_id(data)})
        return entries

    @staticmethod
    def _json(handler: BaseHTTPRequestHandler, payload, *, head: bool) -> None:
        body = json.dumps(payload).encode()
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        if not head:
            handler.wfile.write(body)

    @staticmethod
    def _not_found(handler: BaseHTTPRequestHandler) -> None:
        body = b'{"error":"Repository not found"}'
        handler.send_response(404)
        handler.send_header("X-Error-Code", "RepoNotFound")
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)


def _blob_id(data: bytes) -> str:
    """A git blob id, as the hub reports for files stored in git."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
