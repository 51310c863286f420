"""Create `.env` from `.env.example` on first run, with fresh random secrets. Never overwrites."""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent


def main(root: Path = ROOT) -> int:
    target = root / ".env"
    if target.exists():
        return 0
    text = (root / ".env.example").read_text()
    text = text.replace("DJANGO_SECRET_KEY=", f"DJANGO_SECRET_KEY={secrets.token_urlsafe(50)}", 1)
    text = text.replace("VOICEBOT_SECRET_KEY=", f"VOICEBOT_SECRET_KEY={Fernet.generate_key().decode()}", 1)
    # Created 0600 (never readable by others, not even for a moment), and never over an existing file.
    with os.fdopen(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as handle:
        handle.write(text)
    print(f"Wrote {target} with new DJANGO_SECRET_KEY and VOICEBOT_SECRET_KEY (keep it; it decrypts stored keys).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
