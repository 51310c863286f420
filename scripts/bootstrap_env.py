"""Create `.env` from `.env.example` on first run, with fresh random secrets. Never overwrites."""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    target = ROOT / ".env"
    if target.exists():
        return 0
    text = (ROOT / ".env.example").read_text()
    text = text.replace("DJANGO_SECRET_KEY=", f"DJANGO_SECRET_KEY={secrets.token_urlsafe(50)}", 1)
    text = text.replace("VOICEBOT_SECRET_KEY=", f"VOICEBOT_SECRET_KEY={Fernet.generate_key().decode()}", 1)
    target.write_text(text)
    target.chmod(0o600)
    print(f"Wrote {target} with new DJANGO_SECRET_KEY and VOICEBOT_SECRET_KEY (keep it; it decrypts stored keys).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
