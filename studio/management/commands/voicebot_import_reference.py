"""`manage.py voicebot_import_reference <reference voicebot.db>`: bring the reference's data over.

The reference's Fernet key comes from the environment variable REFERENCE_SECRET_KEY (never a command
argument, which would land in shell history and process lists). `--dry-run` prints what would be
imported and writes nothing. See docs/migrating.md and `studio.reference_import`.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from studio.reference_import import ReferenceImportError, import_reference


class Command(BaseCommand):
    help = (
        "Import bots, provider keys, integration tools, client keys, conversations and messages from the "
        "reference's SQLite database, keeping their ids. Set REFERENCE_SECRET_KEY to the reference's "
        "VOICEBOT_SECRET_KEY. Safe to run again: rows already here are left as they are."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("database", help="Path to the reference's SQLite database (voicebot.db)")
        parser.add_argument("--dry-run", action="store_true", help="Report what would be imported; write nothing")

    def handle(self, *args, **options) -> None:
        path = Path(options["database"]).expanduser()
        dry_run = options["dry_run"]
        try:
            report = import_reference(
                path, reference_secret_key=os.environ.get("REFERENCE_SECRET_KEY", ""), dry_run=dry_run
            )
        except ReferenceImportError as exc:
            raise CommandError(str(exc)) from exc
        heading = f"Reference database {path}"
        self.stdout.write(f"{heading} (dry run: nothing was written):" if dry_run else f"{heading}:")
        for line in report.lines():
            self.stdout.write(line)
        if report.signing_secrets:
            self.stdout.write(
                "Signing secrets of the imported client keys (shown once; a site signs user_token with it "
                "so a signed-in user can reopen an imported conversation, see docs/embed.md):"
            )
            for key_id, name, secret in report.signing_secrets:
                self.stdout.write(f"  {name} ({key_id}): {secret}")
        self.stdout.write(self.style.SUCCESS("Dry run done." if dry_run else "Import done."))
