"""Re-encrypt every stored secret with the first key of VOICEBOT_SECRET_KEY.

Rotation: put the new key first and keep the old one after it (`VOICEBOT_SECRET_KEY=new,old`), run
this command, then drop the old key. All rows are rewritten in one transaction: if any secret cannot
be decrypted with the configured keys, nothing is changed and the command names the row.
The columns are those the apps register with `bots.crypto.register_encrypted_column` at start.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from bots import crypto


class Command(BaseCommand):
    help = "Re-encrypt every stored secret (keys, headers, signing secrets) with the first VOICEBOT_SECRET_KEY."

    def handle(self, *args, **options) -> None:
        problem = crypto.check_secret_key()
        if problem:
            raise CommandError(problem)
        counts: dict[str, int] = {}
        with transaction.atomic():
            for entry in crypto.encrypted_columns():
                counts[entry.label] = self._rotate(entry.model, entry.column)
        for label, count in counts.items():
            self.stdout.write(f"Re-encrypted {count} {label}.")
        self.stdout.write(self.style.SUCCESS(f"Done: {sum(counts.values())} secrets now use the first key."))

    def _rotate(self, model, column: str) -> int:
        count = 0
        rows = model.objects.exclude(**{column: ""}).values_list("pk", column)
        for pk, ciphertext in rows.iterator():
            try:
                rotated = crypto.rotate_text(ciphertext)
            except crypto.SecretError as exc:
                raise CommandError(f"{model._meta.label} {pk}: {exc} Nothing was changed.") from None
            model.objects.filter(pk=pk).update(**{column: rotated})
            count += 1
        return count
