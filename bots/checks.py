"""System check: warn at start (runserver, migrate, check) when VOICEBOT_SECRET_KEY is unusable.

A warning, not an error: the server still starts and every page works; only storing or using an
encrypted secret (provider keys, integration headers, client-key signing secrets) is refused, with
the same message, where it happens.
"""

from __future__ import annotations

from django.core.checks import Tags, Warning, register

from bots import crypto


@register(Tags.security)
def check_voicebot_secret_key(app_configs=None, **kwargs) -> list[Warning]:
    problem = crypto.check_secret_key()
    if problem is None:
        return []
    return [
        Warning(
            problem,
            hint="Set VOICEBOT_SECRET_KEY in .env (make run generates one). Without it stored keys cannot be used.",
            id="voicebot.W001",
        )
    ]
