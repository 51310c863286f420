"""The project starts: migrations apply, the health endpoint answers, the admin login page renders."""

from __future__ import annotations


def test_it_reports_healthy_when_the_database_answers(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"ok": True, "database": "ok"}


def test_it_serves_the_admin_login_page(client, db):
    response = client.get("/admin/login/")
    assert response.status_code == 200
    assert b"Django administration" in response.content or b"VoiceBot" in response.content


def test_it_starts_with_the_env_example_file_as_written(tmp_path):
    """`make run` copies .env.example (whose values are mostly empty) to .env: empty means default."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env_file = tmp_path / ".env"
    env_file.write_text((root / ".env.example").read_text())
    code = (
        "from django.conf import settings;"
        "print(settings.DATABASES['default']['ENGINE'], settings.CELERY_TASK_ALWAYS_EAGER, settings.MEDIA_ROOT)"
    )
    clean_env = {
        k: v for k, v in __import__("os").environ.items() if not k.startswith(("DATABASE_", "REDIS_", "CELERY_"))
    }
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import django, os; os.environ['DJANGO_SETTINGS_MODULE']='config.settings'; django.setup(); {code}",
        ],
        cwd=root,
        env={**clean_env, "VOICEBOT_ENV_FILE": str(env_file)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    engine, eager, media_root = result.stdout.split()
    assert engine == "django.db.backends.sqlite3"
    assert eager == "True"
    assert media_root.endswith("var/data")
