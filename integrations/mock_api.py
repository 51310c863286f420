"""A fake third-party REST API for tests and demos (the reference's `mock_api`, INVENTORY §13).

Standard library only (`ThreadingHTTPServer`), so a test can start it on port 0 in a thread and a demo
can run it with `manage.py voicebot_mock_api --port 9001`. Endpoints:

- `GET /health` → `{"ok": true}`
- `GET /v1/user?user_id=u_123` → `{"data": {firstName, lastName, ssn, dob}}` (deterministic fake person)
- `GET /v1/doctors?city=&specialty=&accepts_new_patients=&limit=20&sort=rating_desc|rating_asc|name_asc`
- `POST /v1/appointments` (JSON body `{doctor_id, patient_name, note}`) → `{"data": {...,"id"}}`, 400 on bad JSON
- `ANY /v1/echo` → `{method, path, query, headers, body, json}`: what the server received
- `GET /v1/redirect?to=<url>` → 302 to `to`
- `GET /v1/big?bytes=N` → N bytes of JSON-ish filler (for size caps)
"""

from __future__ import annotations

import json
import threading
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

FIRST_NAMES = ["Aarav", "Aisha", "Riya", "Kabir", "Neha", "Arjun"]
LAST_NAMES = ["Sharma", "Khan", "Gupta", "Verma", "Singh", "Mehta"]

DOCTORS: list[dict[str, Any]] = [
    {
        "id": "d_001",
        "name": "Dr. Maya Patel",
        "specialty": "Orthopedics",
        "city": "Mexico City",
        "state": "CDMX",
        "phone": "+52 55 5555 0101",
        "accepts_new_patients": True,
        "rating": 4.7,
    },
    {
        "id": "d_002",
        "name": "Dr. Luis Hernández",
        "specialty": "Orthopedics",
        "city": "Guadalajara",
        "state": "JAL",
        "phone": "+52 33 5555 0202",
        "accepts_new_patients": True,
        "rating": 4.5,
    },
    {
        "id": "d_003",
        "name": "Dr. Sofia Martínez",
        "specialty": "Cardiology",
        "city": "Mexico City",
        "state": "CDMX",
        "phone": "+52 55 5555 0303",
        "accepts_new_patients": False,
        "rating": 4.8,
    },
    {
        "id": "d_004",
        "name": "Dr. Rahul Jain",
        "specialty": "Orthopedics",
        "city": "Pune",
        "state": "MH",
        "phone": "+91 20 5555 0404",
        "accepts_new_patients": True,
        "rating": 4.6,
    },
]


def fake_user(user_id: str) -> dict[str, str]:
    seed = sum(ord(c) for c in user_id) % 1000
    return {
        "firstName": FIRST_NAMES[seed % 6],
        "lastName": LAST_NAMES[seed % 6],
        "ssn": f"{100 + seed % 900}-{10 + seed % 90:02d}-{1000 + seed % 9000}",
        "dob": date(1990 + seed % 20, 1 + seed % 12, 1 + seed % 28).isoformat(),
    }


def find_doctors(query: dict[str, str]) -> list[dict[str, Any]]:
    rows = list(DOCTORS)
    if query.get("city"):
        rows = [d for d in rows if d["city"].lower() == query["city"].lower()]
    if query.get("specialty"):
        rows = [d for d in rows if d["specialty"].lower() == query["specialty"].lower()]
    accepts = query.get("accepts_new_patients", "").lower()
    if accepts in ("true", "1", "yes", "false", "0", "no"):
        wanted = accepts in ("true", "1", "yes")
        rows = [d for d in rows if d["accepts_new_patients"] is wanted]
    sort = query.get("sort", "rating_desc")
    if sort == "rating_asc":
        rows.sort(key=lambda d: d["rating"])
    elif sort == "name_asc":
        rows.sort(key=lambda d: d["name"])
    else:
        rows.sort(key=lambda d: -d["rating"])
    try:
        limit = max(1, min(200, int(query.get("limit", "20"))))
    except ValueError:
        limit = 20
    return rows[:limit]


class MockApiHandler(BaseHTTPRequestHandler):
    server_version = "VoiceBotMockAPI/1.0"
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet in tests
        return

    def _send(self, status: int, payload: Any, *, headers: dict[str, str] | None = None) -> None:
        body = payload if isinstance(payload, bytes) else json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(min(length, 1024 * 1024)) if length > 0 else b""

    def _route(self) -> None:
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        body = self._read_body()
        path = parts.path.rstrip("/") or "/"
        if path == "/health":
            return self._send(200, {"ok": True})
        if path == "/v1/echo":
            try:
                parsed = json.loads(body) if body else None
            except ValueError:
                parsed = None
            return self._send(
                200,
                {
                    "method": self.command,
                    "path": parts.path,
                    "query": {k: v for k, v in parse_qs(parts.query, keep_blank_values=True).items()},
                    "headers": {k: v for k, v in self.headers.items()},
                    "body": body.decode("utf-8", errors="replace"),
                    "json": parsed,
                },
            )
        if path == "/v1/user" and self.command == "GET":
            return self._send(200, {"data": fake_user(query.get("user_id") or "u_123")})
        if path == "/v1/doctors" and self.command == "GET":
            return self._send(200, {"data": find_doctors(query)})
        if path == "/v1/appointments" and self.command == "POST":
            try:
                data = json.loads(body or b"null")
            except ValueError:
                return self._send(400, {"error": "Body is not valid JSON."})
            if not isinstance(data, dict) or not data.get("doctor_id"):
                return self._send(400, {"error": "doctor_id is required."})
            confirmation = {**data, "id": f"apt_{abs(hash(json.dumps(data, sort_keys=True))) % 100000:05d}"}
            return self._send(201, {"data": confirmation})
        if path == "/v1/redirect":
            return self._send(302, {"redirect": query.get("to", "")}, headers={"Location": query.get("to", "/")})
        if path == "/v1/big":
            size = max(0, min(50 * 1024 * 1024, int(query.get("bytes", "0") or 0)))
            return self._send(200, b'"' + b"x" * size + b'"')
        return self._send(404, {"error": "Not found"})

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _route


class MockApiServer:
    """The mock API in a background thread: `with MockApiServer() as api: requests.get(api.url + "/health")`."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.httpd = ThreadingHTTPServer((host, port), MockApiHandler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="mock-api", daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> MockApiServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)

    def __enter__(self) -> MockApiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
