"""A loopback OpenAI `POST /v1/audio/speech` for the OpenAI TTS engine: the real SDK talks to it over
HTTP. It speaks the requested text with espeak-ng (real speech, so tests can transcribe it back) and
answers the WAV the API would; a 401 for a wrong key, as the SDK expects it."""

from __future__ import annotations

import json
import subprocess
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

API_KEY = "sk-test-speech"


class SpeechDouble:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self._server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> SpeechDouble:
        double = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                if self.path.rstrip("/") != "/v1/audio/speech":
                    return self._json(404, {"error": {"message": "Not found", "type": "invalid_request_error"}})
                if self.headers.get("Authorization") != f"Bearer {API_KEY}":
                    return self._json(401, {"error": {"message": "Incorrect API key", "code": "invalid_api_key"}})
                double.requests.append(body)
                with tempfile.TemporaryDirectory() as tmp:
                    out = Path(tmp) / "speech.wav"
                    subprocess.run(["espeak-ng", "-s", "140", "-w", str(out), str(body.get("input", ""))], check=True)
                    wav = out.read_bytes()
                self.send_response(200)
                self.send_header("Content-Type", "audio/wav")
                self.send_header("Content-Length", str(len(wav)))
                self.end_headers()
                self.wfile.write(wav)

            def _json(self, status: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
