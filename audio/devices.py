"""Sound devices through sounddevice (PortAudio), imported lazily with a clear error when missing."""

from __future__ import annotations

from typing import Any


class AudioDeviceError(RuntimeError):
    pass


def sounddevice() -> Any:
    try:
        import sounddevice as sd
    except OSError as exc:  # the Python package is there, the PortAudio library is not
        raise AudioDeviceError(
            "PortAudio is not installed (Debian/Ubuntu: apt-get install libportaudio2; macOS: brew install portaudio). "
            "Use --input-wav/--output-wav to run without a sound card."
        ) from exc
    except ImportError as exc:
        raise AudioDeviceError("sounddevice is not installed: pip install -r requirements-voice.txt") from exc
    return sd


def list_devices() -> list[dict[str, Any]]:
    sd = sounddevice()
    hostapis = sd.query_hostapis()
    devices = []
    for index, device in enumerate(sd.query_devices()):
        devices.append(
            {
                "index": index,
                "name": device["name"],
                "inputs": device["max_input_channels"],
                "outputs": device["max_output_channels"],
                "sample_rate": device["default_samplerate"],
                "hostapi": hostapis[device["hostapi"]]["name"] if device["hostapi"] < len(hostapis) else "",
            }
        )
    return devices


def resolve_device(spec: str | None, *, kind: str) -> int | None:
    """A device index or part of a device name → index; empty → the system default (None)."""
    if spec is None or str(spec).strip() == "":
        return None
    spec = str(spec).strip()
    devices = list_devices()
    channels = "inputs" if kind == "input" else "outputs"
    if spec.isdigit():
        index = int(spec)
        if any(d["index"] == index and d[channels] > 0 for d in devices):
            return index
        raise AudioDeviceError(f"No {kind} device with index {index} (see manage.py voicebot_devices)")
    matches = [d for d in devices if spec.lower() in d["name"].lower() and d[channels] > 0]
    if not matches:
        raise AudioDeviceError(f"No {kind} device matches {spec!r} (see manage.py voicebot_devices)")
    return matches[0]["index"]
