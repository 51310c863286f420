"""`manage.py voicebot_mock_api --port 9001`: run the fake third-party API for demos."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from integrations.mock_api import MockApiServer


class Command(BaseCommand):
    help = "Run the mock third-party API (users, doctors, appointments, echo) on loopback."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=9001)

    def handle(self, *args, host: str, port: int, **options) -> None:
        server = MockApiServer(host, port)
        self.stdout.write(f"Mock API on {server.url} (Ctrl+C to stop)")
        try:
            server.httpd.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.httpd.server_close()
