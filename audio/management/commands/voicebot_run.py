"""`manage.py voicebot_run --bot <uuid>`: talk to a bot with the microphone and speakers (or WAV files)."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from audio.asr import AsrError
from audio.devices import AudioDeviceError, resolve_device
from audio.local_loop import MicSource, SpeakerSink, WavSink, WavSource, run_loop
from audio.services import bot_get
from audio.tts import TtsError
from conversations.services import conversation_start


class Command(BaseCommand):
    help = "Local voice loop: mic → VAD → ASR → engine (tools, persisted) → streaming TTS → speakers."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--bot", default=None, help="Bot UUID (default: env VOICEBOT_BOT_UUID)")
        parser.add_argument("--input-device", default=None, help="Mic: index or part of the name")
        parser.add_argument("--output-device", default=None, help="Speaker: index or part of the name")
        parser.add_argument("--input-wav", type=Path, help="Read the user's speech from this WAV instead of a mic")
        parser.add_argument("--output-wav", type=Path, help="Write the bot's speech to this WAV instead of speakers")
        parser.add_argument("--barge-in", action="store_true", help="Speaking over the bot interrupts it")
        parser.add_argument("--no-greeting", action="store_true", help="Skip the bot's opening message")
        parser.add_argument("--live", action="store_true", help="Store as a live conversation (test_flag=false)")

    def handle(self, *args, **options) -> None:
        import os

        from django.conf import settings

        bot_id = options["bot"] or os.environ.get("VOICEBOT_BOT_UUID", "")
        if not bot_id:
            raise CommandError("--bot <uuid> is required (or set VOICEBOT_BOT_UUID)")
        try:
            bot = bot_get(uuid.UUID(str(bot_id)))
        except ValueError as exc:
            raise CommandError(f"Invalid bot id {bot_id!r}") from exc
        if bot is None:
            raise CommandError(f"Bot {bot_id} not found")
        if options["input_wav"] is not None and not options["input_wav"].is_file():
            raise CommandError(f"Input WAV {options['input_wav']} does not exist")
        try:
            source = (
                WavSource(options["input_wav"])
                if options["input_wav"]
                else MicSource(resolve_device(options["input_device"] or settings.VOICEBOT_INPUT_DEVICE, kind="input"))
            )
            sink = (
                WavSink(options["output_wav"])
                if options["output_wav"]
                else SpeakerSink(
                    resolve_device(options["output_device"] or settings.VOICEBOT_OUTPUT_DEVICE, kind="output")
                )
            )
        except (AudioDeviceError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        conversation = conversation_start(bot=bot, test_flag=not options["live"], channel="cli")
        conversation.bot = bot
        self.stdout.write(f"conversation {conversation.pk} with {bot.name}")
        try:
            turns = asyncio.run(
                run_loop(
                    bot=bot,
                    conversation=conversation,
                    source=source,
                    sink=sink,
                    greeting=not options["no_greeting"],
                    barge_in=options["barge_in"],
                    write=self.stdout.write,
                )
            )
        except KeyboardInterrupt:
            turns = -1
        except (AsrError, TtsError, AudioDeviceError) as exc:
            raise CommandError(str(exc)) from exc
        finally:
            sink.close()
        if options["output_wav"]:
            self.stdout.write(f"wrote {options['output_wav']}")
        if turns >= 0:
            self.stdout.write(f"{turns} turn(s)")
