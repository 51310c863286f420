"""A raw-socket HTTP client that streams big multipart bodies, and RSS readers for a server process.

Used by tests/security/test_request_bodies.py and scripts/measure_asgi_servers.py: the client stops
sending as soon as the server answers or closes, so a server that refuses early is seen to do so.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import uuid
from pathlib import Path

MIB = 1024 * 1024


def rss_kib(pid: int) -> int:
    """VmRSS of `pid` and all its descendants (hypercorn serves from a child process)."""
    total = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            total += int(line.split()[1])
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            for child in (task / "children").read_text().split():
                with contextlib.suppress(OSError):
                    total += rss_kib(int(child))
    return total


class PeakRss:
    """Samples a process's RSS in a thread; `peak` is the highest seen."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = rss_kib(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(OSError):
                self.peak = max(self.peak, rss_kib(self.pid))
            time.sleep(0.02)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        time.sleep(0.3)
        self._stop.set()
        self._thread.join()
        with contextlib.suppress(OSError):
            self.peak = max(self.peak, rss_kib(self.pid))


def post_streamed(
    port: int, path: str, total: int, *, chunked: bool = False, chunk: int = MIB, deadline_s: float = 120.0
) -> tuple[int | None, float]:
    """Stream `total` bytes of a multipart body; return (status or None, seconds). Stops sending as soon
    as the server answers or closes."""
    boundary = "measure" + uuid.uuid4().hex
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="audio"; filename="a.wav"\r\n'
        "Content-Type: audio/wav\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    filler = total - len(head) - len(tail)
    headers = [
        f"POST {path} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        f"Content-Type: multipart/form-data; boundary={boundary}",
        "Transfer-Encoding: chunked" if chunked else f"Content-Length: {total}",
        "",
        "",
    ]
    started = time.monotonic()
    sock = socket.create_connection(("127.0.0.1", port), timeout=deadline_s)
    answer = b""
    try:
        sock.sendall("\r\n".join(headers).encode())
        pieces = [head]
        block = b"\0" * chunk
        sent = 0
        sock.setblocking(False)

        def send(data: bytes) -> bool:
            view = memoryview(chunked and f"{len(data):x}\r\n".encode() + data + b"\r\n" or data)
            while view:
                if time.monotonic() - started > deadline_s:
                    return False
                try:
                    readable = sock.recv(65536)
                    if readable == b"":
                        return False
                    nonlocal answer
                    answer += readable
                    return False
                except BlockingIOError:
                    pass
                try:
                    view = view[sock.send(view) :]
                except BlockingIOError:
                    time.sleep(0.005)
            return True

        ok = send(pieces[0])
        while ok and sent < filler:
            piece = block if filler - sent >= chunk else block[: filler - sent]
            ok = send(piece)
            sent += len(piece)
        if ok:
            ok = send(tail)
        if ok and chunked:
            sock.sendall(b"0\r\n\r\n")
        sock.setblocking(True)
        sock.settimeout(max(1.0, deadline_s - (time.monotonic() - started)))
        with contextlib.suppress(OSError):
            while b"\r\n" not in answer:
                data = sock.recv(65536)
                if not data:
                    break
                answer += data
    except (BrokenPipeError, ConnectionResetError):
        pass
    finally:
        sock.close()
    status = None
    if answer.startswith(b"HTTP/"):
        status = int(answer.split(b" ", 2)[1])
    return status, time.monotonic() - started
