"""`manage.py voicebot_devices`: the sound devices PortAudio sees (indexes for --input/--output-device)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from audio.devices import AudioDeviceError, list_devices


class Command(BaseCommand):
    help = "List audio input/output devices."

    def handle(self, *args, **options) -> None:
        try:
            devices = list_devices()
        except AudioDeviceError as exc:
            raise CommandError(str(exc)) from exc
        if not devices:
            self.stdout.write("No audio devices found (use voicebot_run --input-wav/--output-wav).")
        for d in devices:
            self.stdout.write(
                f"[{d['index']}] {d['name']} (in={d['inputs']}, out={d['outputs']}, "
                f"sr={d['sample_rate']:.0f}, hostapi={d['hostapi']})"
            )
