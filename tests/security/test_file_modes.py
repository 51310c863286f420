"""Files the project creates are private to its user (0600): the SQLite database and its -wal/-shm,
saved responses and exports written through the storage, and `.env` from scripts/bootstrap_env.py."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from tests.e2e.conftest import ROOT, server_env


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_new_sqlite_database_and_its_wal_and_shm_are_0600(tmp_path):
    database = tmp_path / "fresh.sqlite3"
    env = server_env(extra={"DATABASE_URL": f"sqlite:///{database}"})
    script = (
        "import django; django.setup()\n"
        "from django.core.management import call_command\n"
        "from django.db import connection\n"
        "call_command('migrate', '--noinput', verbosity=0)\n"
        "connection.cursor().execute('SELECT 1')\n"
        "import os, stat\n"
        "print(' '.join(oct(stat.S_IMODE(os.stat(f'{connection.settings_dict[\"NAME\"]}{s}').st_mode))"
        " for s in ('', '-wal', '-shm')))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True)

    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["0o600", "0o600", "0o600"]


@pytest.mark.django_db
def test_files_saved_through_the_storage_are_0600_in_0700_folders(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "data"
    name = default_storage.save("saved_responses/conversation/response.json", ContentFile(b'{"ok": true}'))

    assert _mode(default_storage.path(name)) == 0o600
    assert _mode(tmp_path / "data" / "saved_responses") == 0o700


def test_files_a_server_process_makes_are_0600(tmp_path):
    made = tmp_path / "made-by-the-process.txt"
    env = server_env()
    script = f"import django; django.setup(); open({str(made)!r}, 'w').write('x')"
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True)

    assert done.returncode == 0, done.stderr[-2000:]
    assert _mode(made) == 0o600


def test_bootstrap_env_writes_a_0600_env_file_and_never_overwrites(tmp_path):
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import bootstrap_env
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    shutil.copy(ROOT / ".env.example", tmp_path / ".env.example")
    previous = os.umask(0o022)  # what a developer's shell has; the file must not depend on it
    try:
        assert bootstrap_env.main(tmp_path) == 0
    finally:
        os.umask(previous)

    written = tmp_path / ".env"
    assert _mode(written) == 0o600
    assert "VOICEBOT_SECRET_KEY=" in written.read_text()
    written.write_text("kept")
    assert bootstrap_env.main(tmp_path) == 0
    assert written.read_text() == "kept"
