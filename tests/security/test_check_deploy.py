"""`manage.py check --deploy` is clean with the production switches docs/deployment.md documents."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "DJANGO_DEBUG": "false",
    "DJANGO_SECRET_KEY": "k3y-" + "x9Qz!p2Lm#7vR8tW4yU6iO0aS5dF1gH3jK" * 2,
    "VOICEBOT_ALLOW_INSECURE_DEFAULTS": "false",
    "DJANGO_ALLOWED_HOSTS": "studio.example.com",
    "DJANGO_CSRF_TRUSTED_ORIGINS": "https://studio.example.com",
    "DJANGO_SECURE_SSL_REDIRECT": "true",
    "DJANGO_SECURE_COOKIES": "true",
    "DJANGO_SECURE_HSTS_SECONDS": "31536000",
    "DJANGO_SECURE_HSTS_PRELOAD": "true",
    "DJANGO_BEHIND_TLS_PROXY": "true",
}


def _check(extra: dict[str, str], tmp_path) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "VOICEBOT_ENV_FILE": "/nonexistent/.env",
        "DATABASE_URL": f"sqlite:///{tmp_path}/deploy.sqlite3",
        "VOICEBOT_SECRET_KEY": Fernet.generate_key().decode(),
        **extra,
    }
    env.pop("REDIS_URL", None)
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_the_documented_production_switches(tmp_path):
    result = _check(PRODUCTION, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_flags_the_development_defaults(tmp_path):
    result = _check({"DJANGO_DEBUG": "false"}, tmp_path)
    assert result.returncode != 0
    assert "security.W004" in result.stderr + result.stdout
