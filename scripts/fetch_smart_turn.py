"""Install the Smart Turn v3.2 end-of-turn model (BSD-2-Clause, Daily) into VOICEBOT_MODELS_DIR.

The ONNX file ships inside the `pipecat-ai==1.14.0` wheel. We take only that file: the wheel is
downloaded with `pip download --no-deps` (pipecat's own dependencies pin soundfile/soxr versions that
conflict with ours, and we need none of its code), the file is extracted, its SHA-256 checked, and
the wheel deleted. pip reads the usual index or a local wheelhouse (PIP_FIND_LINKS / PIP_INDEX_URL),
so an offline machine installs it from a mirror the same way it installs everything else.

Idempotent: does nothing when the file is already there with the right hash. `make run` and
`make test` call it; `python scripts/fetch_smart_turn.py --check` only reports.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

WHEEL = "pipecat-ai==1.14.0"
MEMBER = "pipecat/audio/turn/smart_turn/data/smart-turn-v3.2-cpu.onnx"
FILE_NAME = "smart-turn-v3.2-cpu.onnx"
SHA256 = "2bb026316b14a660486a75b1733cd3fbab8c2fd0314dc9af7be49f8cca967e4f"
ROOT = Path(__file__).resolve().parents[1]


def target_path() -> Path:
    models = os.environ.get("VOICEBOT_MODELS_DIR") or str(ROOT / "var" / "models")
    return Path(models) / "smart_turn" / FILE_NAME


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def installed(path: Path) -> bool:
    return path.is_file() and _sha256(path) == SHA256


def fetch(path: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="smart-turn-") as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", WHEEL, "--no-deps", "--quiet", "-d", tmp], check=True)
        wheel = next(Path(tmp).glob("pipecat_ai-*.whl"))
        with zipfile.ZipFile(wheel) as archive:
            data = archive.read(MEMBER)
        if hashlib.sha256(data).hexdigest() != SHA256:
            raise SystemExit(f"{WHEEL}: {MEMBER} does not have the expected SHA-256; not installed")
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".part")
        partial.write_bytes(data)
        partial.replace(path)


def main(argv: list[str]) -> int:
    path = target_path()
    if installed(path):
        return 0
    if "--check" in argv:
        print(f"Smart Turn model missing: {path} (run scripts/fetch_smart_turn.py)")
        return 1
    print(f"Installing the Smart Turn v3.2 model (BSD-2-Clause) from {WHEEL} into {path}")
    fetch(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
