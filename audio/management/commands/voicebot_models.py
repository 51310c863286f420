"""`manage.py voicebot_models [list]`, `pull NAME`, `remove NAME`: the speech models on this machine.

A voice turn never downloads; larger models are pulled here (or with the bot page's Download button)
from the Hugging Face hub (`HF_ENDPOINT` names a mirror). See `audio.model_store`.
"""

from __future__ import annotations

import threading
import time

from django.core.management.base import BaseCommand, CommandError

from audio import model_store

BAR_WIDTH = 30


class Command(BaseCommand):
    help = "List, pull or remove speech models (faster-whisper sizes, Piper voices)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("action", nargs="?", default="list", choices=["list", "pull", "remove"])
        parser.add_argument("name", nargs="?", help="tiny.en, small, … or a Piper voice like en_US-lessac-medium")

    def handle(self, *args, action: str, name: str | None, **options) -> None:
        if action == "list":
            return self._list()
        if not name:
            raise CommandError(f"Name the model to {action}: manage.py voicebot_models {action} NAME")
        if action == "pull":
            return self._pull(name)
        return self._remove(name)

    def _list(self) -> None:
        rows = model_store.known_models()
        width = max(len(row.name) for row in rows)
        for row in rows:
            engine = "faster-whisper" if row.kind == model_store.ASR else "piper"
            status = "installed" if row.installed else "not installed"
            note = " (packaged)" if row.packaged else ""
            self.stdout.write(f"{row.name:<{width}}  {engine:<14}  {status:<13}  {row.size_label}{note}")

    def _pull(self, name: str) -> None:
        current = model_store.state(name)
        if current.installed:
            self.stdout.write(f"{name} is already installed ({current.size_label}) at {current.path}")
            return
        if not current.pullable:
            raise CommandError(f"{name!r} is not a model this command can pull (a faster-whisper size or Piper voice).")
        self.stdout.write(f"Pulling {name} ({current.size_label})")
        bar = _Bar(self.stdout, name)
        try:
            result = model_store.pull(name, progress=bar.update)
        except model_store.ModelStoreError as exc:
            bar.finish()
            raise CommandError(str(exc)) from exc
        bar.finish(done=True)
        self.stdout.write(self.style.SUCCESS(f"Installed {name} ({result.size_label}) at {result.path}"))

    def _remove(self, name: str) -> None:
        current = model_store.state(name)
        if current.packaged:
            raise CommandError(f"{name} comes with a pip package; uninstall the package to remove it.")
        try:
            removed = model_store.remove(name)
        except model_store.ModelStoreError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Removed {name}" if removed else f"{name} is not installed")


class _Bar:
    """A one-line progress bar (redrawn with a carriage return, at most every 0.2 s and at 100 %)."""

    def __init__(self, stdout, name: str) -> None:
        self.stdout = stdout
        self.name = name
        self.lock = threading.Lock()
        self.drawn_at = 0.0
        self.last = (0, 0)

    def update(self, done: int, total: int) -> None:
        with self.lock:
            self.last = (done, total)
            now = time.monotonic()
            if now - self.drawn_at < 0.2 and not (total and done >= total):
                return
            self.drawn_at = now
            self._draw(done, total)

    def _draw(self, done: int, total: int) -> None:
        fraction = min(1.0, done / total) if total else 0.0
        filled = int(fraction * BAR_WIDTH)
        size = f"{model_store.format_size(done)} / {model_store.format_size(total)}" if total else ""
        line = f"\r{self.name} [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {fraction * 100:5.1f}% {size}"
        self.stdout.write(line, ending="")
        self.stdout.flush()

    def finish(self, *, done: bool = False) -> None:
        with self.lock:
            if done:
                self._draw(*self.last)
            self.stdout.write("")
