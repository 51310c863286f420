"""Settings: one module, every knob from the environment (12-factor).

`.env` in the project root is read by django-environ. Invalid values fail at start with a message that
names the variable (see `_fail`). Each app's knobs sit in its own section below; `.env.example`
documents every variable.
"""

from __future__ import annotations

import ipaddress
import json
import os
import tempfile
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
_OUR_PREFIXES = ("DJANGO_", "VOICEBOT_", "OPENAI_", "DATABASE_", "REDIS_", "CELERY_")
_env_file = Path(environ.Env().str("VOICEBOT_ENV_FILE", default=str(BASE_DIR / ".env")))
if _env_file.is_file():
    environ.Env.read_env(_env_file, overwrite=False)
# An empty value (`DATABASE_URL=` as in .env.example) means "use the default", not "set to empty".
for _name in [n for n, v in os.environ.items() if not v.strip() and n.startswith(_OUR_PREFIXES)]:
    del os.environ[_name]


def _fail(variable: str, problem: str) -> None:
    raise ImproperlyConfigured(f"Environment variable {variable}: {problem}")


def _int(variable: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
    try:
        value = env.int(variable, default=default)
    except (ValueError, TypeError):
        _fail(variable, f"must be an integer, got {env.str(variable)!r}")
    if minimum is not None and value < minimum:
        _fail(variable, f"must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        _fail(variable, f"must be at most {maximum}, got {value}")
    return value


def _float(variable: str, default: float, *, minimum: float | None = None) -> float:
    try:
        value = env.float(variable, default=default)
    except (ValueError, TypeError):
        _fail(variable, f"must be a number, got {env.str(variable)!r}")
    if minimum is not None and value < minimum:
        _fail(variable, f"must be at least {minimum}, got {value}")
    return value


def _list(variable: str, default: str = "") -> list[str]:
    return [item.strip() for item in env.str(variable, default=default).split(",") if item.strip()]


# --- Django core ---------------------------------------------------------------------------------
DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY:
    if DEBUG or env.bool("VOICEBOT_ALLOW_INSECURE_DEFAULTS", default=True):
        # Development default; `make run` writes a random one into .env on first start.
        SECRET_KEY = "django-insecure-voicebot-development-only"
    else:
        _fail("DJANGO_SECRET_KEY", "is required when VOICEBOT_ALLOW_INSECURE_DEFAULTS is false")
SECRET_KEY_FALLBACKS = _list("DJANGO_SECRET_KEY_FALLBACKS")
ALLOWED_HOSTS = _list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = _list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and Redoc served from our static files (offline, CSP 'self')
    "django_htmx",
    "channels",
    "django_prometheus",
    "observability",  # metrics, traces, turn logs: a leaf every app may call
    "axes",
    "csp",
    "bots",
    "conversations",
    "integrations",
    "audio",
    "embed",
    "telephony",
    "studio",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",  # first: times the whole request
    "django.middleware.security.SecurityMiddleware",
    "config.security_headers.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",  # records the view and status
    "axes.middleware.AxesMiddleware",  # last: turns a lockout into the 429 answer
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'voicebot.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL + a busy timeout let the websocket threads and the request threads share one file.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"}
    )
    # A file (not :memory:) test database, one per test run, so a daphne process started by the
    # browser tests can serve the same data.
    DATABASES["default"]["TEST"] = {
        "NAME": env.str(
            "VOICEBOT_TEST_DATABASE_NAME",
            default=str(Path(tempfile.gettempdir()) / f"voicebot-test-{os.getpid()}.sqlite3"),
        )
    }
# Persistent connections for every engine: the sockets' database_sync_to_async calls would otherwise
# close and reopen the connection on each message (measured: p95 324 ms -> 23 ms at 200 conversations).
DATABASES["default"].setdefault("CONN_MAX_AGE", _int("DATABASE_CONN_MAX_AGE", 60, minimum=0))
DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("DJANGO_STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

# Saved HTTP responses, exports and other server-made files (never paths from client input).
MEDIA_ROOT = Path(env.str("VOICEBOT_DATA_DIR", default=str(BASE_DIR / "var" / "data")))
MEDIA_URL = "/media-not-served/"

# Request bodies (config/body_limits.py bounds them before Django parses them; see docs/deployment.md).
VOICEBOT_MAX_REQUEST_BODY_BYTES = _int("VOICEBOT_MAX_REQUEST_BODY_BYTES", 2 * 1024 * 1024, minimum=1024)
VOICEBOT_REQUEST_BODY_TIMEOUT_S = _float("VOICEBOT_REQUEST_BODY_TIMEOUT_S", 20.0, minimum=0.1)
VOICEBOT_UPLOAD_BODY_TIMEOUT_S = _float("VOICEBOT_UPLOAD_BODY_TIMEOUT_S", 120.0, minimum=0.1)
DATA_UPLOAD_MAX_MEMORY_SIZE = VOICEBOT_MAX_REQUEST_BODY_BYTES  # form fields / JSON held in memory
FILE_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024  # bigger bodies and files spool to a temporary file
DATA_UPLOAD_MAX_NUMBER_FILES = 10
# Files this project writes are private to its user: saved responses, exports (through the storage),
# the SQLite database and its -wal/-shm, everything else a process makes (umask, VOICEBOT_UMASK).
FILE_UPLOAD_PERMISSIONS = 0o600
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700
try:
    VOICEBOT_UMASK = int(env.str("VOICEBOT_UMASK", default="077"), 8)
except ValueError:
    _fail("VOICEBOT_UMASK", f"must be an octal umask like 077, got {env.str('VOICEBOT_UMASK')!r}")
if not 0 <= VOICEBOT_UMASK <= 0o777:
    _fail("VOICEBOT_UMASK", "must be between 000 and 777")
os.umask(VOICEBOT_UMASK)

# Login throttling (config/login_throttle.py, django-axes): per username + client address, counted in
# the database; after the limit even the right password is refused until the cool-off has passed.
AUTHENTICATION_BACKENDS = [
    "config.login_throttle.LoginThrottleBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = _int("VOICEBOT_LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=_int("VOICEBOT_LOGIN_COOLOFF_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "config.login_throttle.lockout_response"
AXES_VERBOSE = False

# Content-Security-Policy (django-csp; config/security_headers.py adds the per-path allowances). No
# inline scripts anywhere; style attributes are allowed (templates and htmx use them), <style> blocks
# are not, except on /public/ (the widget demo page and the widget's own shadow-DOM stylesheet).
# 'self' in connect-src covers ws:// and wss:// to the same host (CSP Level 3).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "style-src-attr": ["'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "media-src": ["'self'", "blob:"],
        "connect-src": ["'self'"],
        "worker-src": ["'self'", "blob:"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}
# The API docs (Swagger UI, Redoc: sidecar files, scripts from 'self') set styles with <style> blocks.
VOICEBOT_CSP_PATH_UPDATES = {
    "/public/": {"style-src": ["'unsafe-inline'"]},
    "/api/docs/": {"style-src": ["'unsafe-inline'"]},
    "/api/redoc/": {"style-src": ["'unsafe-inline'"]},
}

LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/login/"

# Production hardening switches (documented in README, checked by `check --deploy`).
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=False)
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = _int("DJANGO_SECURE_HSTS_SECONDS", 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=False)
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("DJANGO_BEHIND_TLS_PROXY", default=False) else None
)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# --- Observability (observability/, docs/operations.md) ----------------------------------------------
# Logs: text or one JSON object per line; every record inside a turn carries its conversation id and
# each turn logs one line (logger voicebot.turns) with ids, channel, timings and outcome.
VOICEBOT_LOG_FORMAT = env.str("VOICEBOT_LOG_FORMAT", default="text").strip().lower()
if VOICEBOT_LOG_FORMAT not in ("text", "json"):
    _fail("VOICEBOT_LOG_FORMAT", f"must be text or json, got {VOICEBOT_LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"conversation": {"()": "observability.logs.ConversationFilter"}},
    "formatters": {
        "plain": {
            "()": "observability.logs.TextFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s: %(message)s",
        },
        "json": {"()": "observability.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if VOICEBOT_LOG_FORMAT == "json" else "plain",
            "filters": ["conversation"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("VOICEBOT_LOG_LEVEL", default="INFO")},
    "loggers": {"django.channels.server": {"level": "WARNING"}, "httpx": {"level": "WARNING"}},
}
# GET /metrics (Prometheus): a staff user's token, or a source address in this list (IPs or CIDRs;
# empty: none). Multiprocess mode is PROMETHEUS_MULTIPROC_DIR (read by prometheus_client itself).
VOICEBOT_METRICS_ALLOWED_IPS = _list("VOICEBOT_METRICS_ALLOWED_IPS")
for _entry in VOICEBOT_METRICS_ALLOWED_IPS:
    try:
        ipaddress.ip_network(_entry, strict=False)
    except ValueError:
        _fail("VOICEBOT_METRICS_ALLOWED_IPS", f"{_entry!r} is not an IP address or CIDR network")
PROMETHEUS_EXPORT_MIGRATIONS = False  # django-prometheus: no database query at start

# --- REST framework ------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAdminUser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "EXCEPTION_HANDLER": "bots.api_errors.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "VoiceBot Studio API",
    "DESCRIPTION": "Bots, keys, tools, conversations, chat and voice turns.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAdminUser"],
    # Swagger UI and Redoc from drf-spectacular-sidecar's static files: the docs work offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
}

# --- Channels and Celery -------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [REDIS_URL]}}}
    # Django's cache backends whose async methods do not hop threads (per lock or limit command).
    CACHES = {"default": {"BACKEND": "bots.cache_backends.RedisCache", "LOCATION": REDIS_URL}}
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "bots.cache_backends.LocMemCache", "LOCATION": "voicebot"}}

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "memory://")
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=REDIS_URL or "cache+memory://")
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE: dict = {}  # filled by the integrations section below

# --- Secrets (bots) ------------------------------------------------------------------------------
# Comma-separated Fernet keys: the first encrypts, all decrypt (rotation). See bots/crypto.py.
VOICEBOT_SECRET_KEY = env.str("VOICEBOT_SECRET_KEY", default="")

# --- OpenAI and the engine (conversations) -------------------------------------------------------
OPENAI_API_KEY = env.str("OPENAI_API_KEY", default="")
OPENAI_BASE_URL = env.str("OPENAI_BASE_URL", default="")
try:
    OPENAI_PRICING = json.loads(env.str("OPENAI_PRICING_JSON", default="") or "{}")
    if not isinstance(OPENAI_PRICING, dict):
        raise ValueError("not an object")
except ValueError as exc:
    _fail("OPENAI_PRICING_JSON", f"must be a JSON object {{model: {{input_per_1m, output_per_1m}}}} ({exc})")
VOICEBOT_OPENAI_TIMEOUT_S = _float("VOICEBOT_OPENAI_TIMEOUT_S", 60.0, minimum=1.0)
VOICEBOT_OPENAI_MAX_RETRIES = _int("VOICEBOT_OPENAI_MAX_RETRIES", 2, minimum=0, maximum=10)
VOICEBOT_MAX_TOOL_STEPS = _int("VOICEBOT_MAX_TOOL_STEPS", 5, minimum=1, maximum=50)
VOICEBOT_HISTORY_TOKEN_BUDGET = _int("VOICEBOT_HISTORY_TOKEN_BUDGET", 24000, minimum=500)
# One turn at a time per conversation: the lock frees itself after this long if its holder died.
VOICEBOT_TURN_LOCK_SECONDS = _int("VOICEBOT_TURN_LOCK_SECONDS", 300, minimum=10)
# Messages sent while a turn runs wait in line (conversations/engine/turn_lock.py): at most this many
# behind the running turn, for at most this long; over either bound the sender gets a clear error.
VOICEBOT_TURN_QUEUE_MAX = _int("VOICEBOT_TURN_QUEUE_MAX", 3, minimum=0, maximum=100)
VOICEBOT_TURN_QUEUE_WAIT_SECONDS = _float("VOICEBOT_TURN_QUEUE_WAIT_SECONDS", 120.0, minimum=1.0)
# The ASGI server freezes its start-up objects out of the garbage collector's full collections
# (config/gc_freeze.py: two 165-228 ms event-loop stalls per benchmark phase before; docs/performance.md).
VOICEBOT_GC_FREEZE = env.bool("VOICEBOT_GC_FREEZE", default=True)
VOICEBOT_GC_GEN0_THRESHOLD = _int("VOICEBOT_GC_GEN0_THRESHOLD", 10_000, minimum=0, maximum=1_000_000)
OPENAI_API_STYLE = env.str("OPENAI_API_STYLE", default="responses")
if OPENAI_API_STYLE not in ("responses", "chat_completions"):
    _fail("OPENAI_API_STYLE", f"must be responses or chat_completions, got {OPENAI_API_STYLE!r}")
LOGGING["loggers"]["httpx2"] = {"level": "WARNING"}  # the openai SDK's HTTP client logs every request at INFO

# --- Integrations --------------------------------------------------------------------------------
# host, .suffix, IP or CIDR, each optionally :port ([v6]:port); without a port every port is allowed.
VOICEBOT_HTTP_ALLOWED_HOSTS = _list("VOICEBOT_HTTP_ALLOWED_HOSTS")
for _entry in VOICEBOT_HTTP_ALLOWED_HOSTS:
    _port = _entry.rsplit("]", 1)[-1].rsplit(":", 1)[-1] if _entry.count(":") == 1 or "]:" in _entry else ""
    if _port and not (_port.isdigit() and 1 <= int(_port) <= 65535):
        _fail("VOICEBOT_HTTP_ALLOWED_HOSTS", f"{_entry!r}: the port must be a number from 1 to 65535")
VOICEBOT_HTTP_CONNECT_TIMEOUT_S = _float("VOICEBOT_HTTP_CONNECT_TIMEOUT_S", 10.0, minimum=0.1)
VOICEBOT_HTTP_READ_TIMEOUT_S = _float("VOICEBOT_HTTP_READ_TIMEOUT_S", 20.0, minimum=0.1)
VOICEBOT_HTTP_MAX_RESPONSE_BYTES = _int("VOICEBOT_HTTP_MAX_RESPONSE_BYTES", 5 * 1024 * 1024, minimum=1024)
# Jinja2 static replies and {{ }} placeholders: the most text one render may build, and (Jinja2) its time.
VOICEBOT_TEMPLATE_MAX_OUTPUT_KIB = _int("VOICEBOT_TEMPLATE_MAX_OUTPUT_KIB", 256, minimum=1, maximum=64 * 1024)
VOICEBOT_TEMPLATE_TIME_BUDGET_MS = _int("VOICEBOT_TEMPLATE_TIME_BUDGET_MS", 1000, minimum=10, maximum=60_000)
VOICEBOT_DOWNLOAD_BASE_URL = env.str("VOICEBOT_DOWNLOAD_BASE_URL", default="127.0.0.1:8000")
VOICEBOT_DOWNLOAD_TTL_MINUTES = _int("VOICEBOT_DOWNLOAD_TTL_MINUTES", 15, minimum=1)
VOICEBOT_SEARXNG_URL = env.str("VOICEBOT_SEARXNG_URL", default="")
VOICEBOT_SAVED_RESPONSE_TTL_HOURS = _int("VOICEBOT_SAVED_RESPONSE_TTL_HOURS", 24, minimum=1)
VOICEBOT_CODEX_TIMEOUT_S = _float("VOICEBOT_CODEX_TIMEOUT_S", 45.0, minimum=1.0)
VOICEBOT_SANDBOX_DIR = env.str("VOICEBOT_SANDBOX_DIR", default="")
VOICEBOT_SANDBOX_PYTHON = env.str("VOICEBOT_SANDBOX_PYTHON", default="")
VOICEBOT_SANDBOX_WALL_SECONDS = _float("VOICEBOT_SANDBOX_WALL_SECONDS", 20.0, minimum=1.0)
VOICEBOT_SANDBOX_CPU_SECONDS = _int("VOICEBOT_SANDBOX_CPU_SECONDS", 10, minimum=1)
VOICEBOT_SANDBOX_MEMORY_MB = _int("VOICEBOT_SANDBOX_MEMORY_MB", 512, minimum=64)
VOICEBOT_SANDBOX_FILE_SIZE_MB = _int("VOICEBOT_SANDBOX_FILE_SIZE_MB", 20, minimum=1)
VOICEBOT_SANDBOX_HIDE_PATHS = _list("VOICEBOT_SANDBOX_HIDE_PATHS")
# One private tmpfs per run (work dir + /tmp + /var/tmp + /dev/shm together), MiB.
VOICEBOT_SANDBOX_TMPFS_MB = _int("VOICEBOT_SANDBOX_TMPFS_MB", 64, minimum=8)
# When the server is root, each concurrent run gets its own uid from this range (held by a file lock).
VOICEBOT_SANDBOX_UID_FIRST = _int("VOICEBOT_SANDBOX_UID_FIRST", 2_000_000_000, minimum=1000, maximum=4_000_000_000)
VOICEBOT_SANDBOX_UID_COUNT = _int("VOICEBOT_SANDBOX_UID_COUNT", 1000, minimum=1, maximum=100_000)
# Eager mode: sandbox runs wait in this many dedicated threads per process (more at once: "busy").
VOICEBOT_SANDBOX_RUNNERS = _int("VOICEBOT_SANDBOX_RUNNERS", 8, minimum=1, maximum=256)
# Codex steps one bot may have in flight at once, across processes (the Django cache); more: an error.
VOICEBOT_CODEX_MAX_RUNS_PER_BOT = _int("VOICEBOT_CODEX_MAX_RUNS_PER_BOT", 4, minimum=1)
# Codex result text given to the model and stored (KiB); longer output is cut with a note.
VOICEBOT_CODEX_RESULT_KB = _int("VOICEBOT_CODEX_RESULT_KB", 16, minimum=1, maximum=1024)
CELERY_BEAT_SCHEDULE["voicebot-cleanup-expired"] = {
    "task": "integrations.tasks.cleanup_expired",
    "schedule": _int("VOICEBOT_CLEANUP_INTERVAL_S", 600, minimum=60),
}

# --- Audio ---------------------------------------------------------------------------------------
# Model caches: Whisper / faster-whisper downloads (size names) and Piper voices (<name>.onnx + .json).
VOICEBOT_MODELS_DIR = Path(env.str("VOICEBOT_MODELS_DIR", default=str(BASE_DIR / "var" / "models")))
VOICEBOT_PIPER_VOICES_DIR = Path(env.str("VOICEBOT_PIPER_VOICES_DIR", default=str(VOICEBOT_MODELS_DIR / "piper")))
VOICEBOT_PIPER_DEFAULT_VOICE = env.str("VOICEBOT_PIPER_DEFAULT_VOICE", default="en_US-joe-medium")
# Where `voicebot_models pull` and the bot page's download button fetch models (docs/voice.md "Models"):
# the Hugging Face hub, or a mirror named by HF_ENDPOINT (the hub client's own variable).
VOICEBOT_MODEL_HUB_ENDPOINT = env.str("HF_ENDPOINT", default="").rstrip("/")
# Voice turns keep the user's and the bot's audio (files under VOICEBOT_DATA_DIR/voice), deleted by the
# cleanup job after the retention (0 days: kept until the conversation is deleted).
VOICEBOT_STORE_VOICE_AUDIO = env.bool("VOICEBOT_STORE_VOICE_AUDIO", default=True)
VOICEBOT_VOICE_AUDIO_RETENTION_DAYS = _int("VOICEBOT_VOICE_AUDIO_RETENTION_DAYS", 30, minimum=0)
VOICEBOT_MODEL_CACHE_SIZE = _int("VOICEBOT_MODEL_CACHE_SIZE", 4, minimum=1, maximum=32)
VOICEBOT_ASR_BEAM_SIZE = _int("VOICEBOT_ASR_BEAM_SIZE", 1, minimum=1, maximum=10)
VOICEBOT_ASR_CPU_THREADS = _int("VOICEBOT_ASR_CPU_THREADS", 0, minimum=0)
VOICEBOT_TTS_USE_GPU = env.bool("VOICEBOT_TTS_USE_GPU", default=True)
# VAD (reference defaults) and the talk socket / upload limits.
VOICEBOT_VAD_AGGRESSIVENESS = _int("VOICEBOT_VAD_AGGRESSIVENESS", 2, minimum=0, maximum=3)
VOICEBOT_VAD_SILENCE_MS = _int("VOICEBOT_VAD_SILENCE_MS", 800, minimum=90)
VOICEBOT_VAD_MIN_SPEECH_MS = _int("VOICEBOT_VAD_MIN_SPEECH_MS", 250, minimum=0)
VOICEBOT_VAD_MAX_SPEECH_MS = _int("VOICEBOT_VAD_MAX_SPEECH_MS", 15000, minimum=1000)
# Streaming voice (docs/voice.md "Latency"): VAD engine, semantic end of turn, streaming ASR, early model call.
VOICEBOT_VAD_ENGINE = env.str("VOICEBOT_VAD_ENGINE", default="webrtc")
if VOICEBOT_VAD_ENGINE not in ("webrtc", "silero"):
    _fail("VOICEBOT_VAD_ENGINE", f"must be webrtc or silero, got {VOICEBOT_VAD_ENGINE!r}")
VOICEBOT_TURN_DETECTOR = env.str("VOICEBOT_TURN_DETECTOR", default="smart_turn")
if VOICEBOT_TURN_DETECTOR not in ("smart_turn", "silence"):
    _fail("VOICEBOT_TURN_DETECTOR", f"must be smart_turn or silence, got {VOICEBOT_TURN_DETECTOR!r}")
VOICEBOT_SMART_TURN_MODEL = env.str("VOICEBOT_SMART_TURN_MODEL", default="")
VOICEBOT_TURN_COMPLETE_MS = _int("VOICEBOT_TURN_COMPLETE_MS", 200, minimum=60, maximum=2000)
VOICEBOT_TURN_MAX_SILENCE_MS = _int("VOICEBOT_TURN_MAX_SILENCE_MS", 2000, minimum=300, maximum=10000)
VOICEBOT_TURN_THRESHOLD = _float("VOICEBOT_TURN_THRESHOLD", 0.5, minimum=0.0)
VOICEBOT_ASR_WINDOW_S = _int("VOICEBOT_ASR_WINDOW_S", 10, minimum=5, maximum=30)
VOICEBOT_ASR_PARTIAL_MS = _int("VOICEBOT_ASR_PARTIAL_MS", 500, minimum=100)
VOICEBOT_ASR_PAUSE_MS = _int("VOICEBOT_ASR_PAUSE_MS", 200, minimum=60)
VOICEBOT_EARLY_REPLY = env.bool("VOICEBOT_EARLY_REPLY", default=True)
VOICEBOT_MAX_UTTERANCE_BYTES = _int("VOICEBOT_MAX_UTTERANCE_BYTES", 16000 * 2 * 60, minimum=32000)
VOICEBOT_MAX_UPLOAD_BYTES = _int("VOICEBOT_MAX_UPLOAD_BYTES", 25 * 1024 * 1024, minimum=1024)
# Local mic loop (voicebot_run).
VOICEBOT_INPUT_DEVICE = env.str("VOICEBOT_INPUT_DEVICE", default="")
VOICEBOT_OUTPUT_DEVICE = env.str("VOICEBOT_OUTPUT_DEVICE", default="")
VOICEBOT_TTS_MIC_RELEASE_MS = _int("VOICEBOT_TTS_MIC_RELEASE_MS", 500, minimum=0)


# --- Telephony (docs/phone.md) -------------------------------------------------------------------
# The https:// address Twilio reaches (behind the proxy): webhook signatures are checked against it and
# the Media Streams URL (wss://) is built from it. Empty: phone webhooks answer 503.
VOICEBOT_PUBLIC_BASE_URL = env.str("VOICEBOT_PUBLIC_BASE_URL", default="").rstrip("/")
if VOICEBOT_PUBLIC_BASE_URL and not VOICEBOT_PUBLIC_BASE_URL.startswith(("https://", "http://")):
    _fail(
        "VOICEBOT_PUBLIC_BASE_URL",
        f"must start with https:// (or http:// for local tests), got {VOICEBOT_PUBLIC_BASE_URL!r}",
    )
# How long the one-time token a verified webhook issues stays usable by the stream it announced.
VOICEBOT_TWILIO_STREAM_TOKEN_TTL_S = _int("VOICEBOT_TWILIO_STREAM_TOKEN_TTL_S", 60, minimum=5, maximum=600)
# Recorded calls (phone lines with "record audio") are deleted by the cleanup job this many days after
# the call (0: kept until their bot is deleted).
VOICEBOT_CALL_RECORDING_RETENTION_DAYS = _int("VOICEBOT_CALL_RECORDING_RETENTION_DAYS", 30, minimum=0)
# Refuse a Media Streams handshake without a valid X-Twilio-Signature (Twilio signs it like a webhook).
VOICEBOT_TWILIO_VERIFY_STREAM_SIGNATURE = env.bool("VOICEBOT_TWILIO_VERIFY_STREAM_SIGNATURE", default=True)


# --- Embed ---------------------------------------------------------------------------------------
# Public chat socket limits (see docs/embed.md). Rate limits are fixed one-minute windows counted in
# the Django cache, so they hold across daphne processes when REDIS_URL is set.
VOICEBOT_EMBED_MAX_MESSAGE_CHARS = _int("VOICEBOT_EMBED_MAX_MESSAGE_CHARS", 4000, minimum=1)
VOICEBOT_EMBED_MAX_FRAME_BYTES = _int("VOICEBOT_EMBED_MAX_FRAME_BYTES", 32768, minimum=256)
VOICEBOT_EMBED_MAX_USER_ID_CHARS = _int("VOICEBOT_EMBED_MAX_USER_ID_CHARS", 200, minimum=1, maximum=200)
VOICEBOT_EMBED_RATE_PER_KEY_PER_MINUTE = _int("VOICEBOT_EMBED_RATE_PER_KEY_PER_MINUTE", 600, minimum=1)
VOICEBOT_EMBED_RATE_PER_CONVERSATION_PER_MINUTE = _int("VOICEBOT_EMBED_RATE_PER_CONVERSATION_PER_MINUTE", 20, minimum=1)
VOICEBOT_EMBED_HISTORY_LIMIT = _int("VOICEBOT_EMBED_HISTORY_LIMIT", 100, minimum=1, maximum=1000)
VOICEBOT_EMBED_RESUME_TOKEN_MAX_AGE_DAYS = _int("VOICEBOT_EMBED_RESUME_TOKEN_MAX_AGE_DAYS", 90, minimum=1)
VOICEBOT_EMBED_USER_TOKEN_MAX_TTL_DAYS = _int("VOICEBOT_EMBED_USER_TOKEN_MAX_TTL_DAYS", 30, minimum=1)
