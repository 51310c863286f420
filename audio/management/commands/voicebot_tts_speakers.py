"""`manage.py voicebot_tts_speakers`: the speakers (and languages) a voice offers.

XTTS by default (the reference's command); `--engine piper --voice <name|path>` lists a multi-speaker
Piper voice's speakers."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from audio.tts import TtsError, TtsSpec, load_tts
from bots.models import DEFAULT_XTTS_MODEL


class Command(BaseCommand):
    help = "List the speakers and languages of a TTS model."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--engine", choices=["xtts", "piper"], default="xtts")
        parser.add_argument("--model", default=DEFAULT_XTTS_MODEL, help="XTTS model name")
        parser.add_argument("--voice", default="", help="Piper voice name or .onnx path")

    def handle(self, *args, **options) -> None:
        try:
            if options["engine"] == "xtts":
                from audio.tts.xtts import load_coqui

                model = load_coqui(options["model"])
                speakers = list(getattr(model, "speakers", None) or [])
                languages = list(getattr(model, "languages", None) or [])
            else:
                voice = load_tts(TtsSpec(vendor="piper", voice=options["voice"]))
                speakers, languages = voice.speakers(), []
        except TtsError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"languages: {', '.join(languages) if languages else '-'}")
        if not speakers:
            self.stdout.write("No speakers exposed by this model.")
        for speaker in speakers:
            self.stdout.write(speaker)
