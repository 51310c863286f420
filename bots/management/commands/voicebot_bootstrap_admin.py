"""Create the `admin` superuser on first run; print its random password once (or use VOICEBOT_ADMIN_PASSWORD)."""

from __future__ import annotations

import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError


class Command(BaseCommand):
    help = "Create the 'admin' superuser if no superuser exists yet."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")

    def handle(self, *args, username: str, **options):
        User = get_user_model()
        try:
            if User.objects.filter(is_superuser=True).exists():
                return
        except DatabaseError as exc:  # one clear line for `make run`, not a traceback
            raise CommandError(f"Database unavailable ({exc}); check DATABASE_URL and run migrate.") from exc
        password = os.environ.get("VOICEBOT_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        User.objects.create_superuser(username=username, email="", password=password)
        if os.environ.get("VOICEBOT_ADMIN_PASSWORD"):
            self.stdout.write(self.style.SUCCESS(f"Created superuser '{username}' with VOICEBOT_ADMIN_PASSWORD."))
        else:
            self.stdout.write(
                self.style.WARNING(
                    f"Created superuser '{username}' with password: {password}\n"
                    "This is shown only once. Change it at /admin/password_change/."
                )
            )
