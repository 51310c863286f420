"""ASGI entry point served by uvicorn: Django for HTTP, Channels for the websockets, a small lifespan.

Every HTTP request body is bounded before Django parses it (`config.body_limits`: 413 over the size
limit, 408 when it trickles in past the time budget); uvicorn streams bodies with flow control, which
is what makes that bound real (daphne buffered and parsed whole multipart bodies first; see
docs/deployment.md for the measurements).

Studio sockets (`/ws/...`) need a logged-in session and a same-site Origin; the public embed socket
(`/public/v1/ws/...`) authenticates with a client key and checks Origin against that key itself. The phone
socket (`/telephony/twilio/<bot>/stream`) serves only a stream a signed Twilio webhook announced
(a one-time token; telephony/consumers.py).
"""

from __future__ import annotations

import os

import django
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402
from django.urls import Resolver404, resolve  # noqa: E402

from audio.routing import websocket_urlpatterns as studio_websockets  # noqa: E402
from config.body_limits import BodyLimit, RequestBodyLimitMiddleware  # noqa: E402
from config.gc_freeze import freeze_startup_objects  # noqa: E402
from embed.routing import websocket_urlpatterns as public_websockets  # noqa: E402
from telephony.routing import websocket_urlpatterns as phone_websockets  # noqa: E402

# Routes that take an upload bigger than the default body limit (with credentials only).
UPLOAD_ROUTES = {"api-bot-talk-stream"}
MULTIPART_OVERHEAD_BYTES = 64 * 1024  # boundaries and part headers around the WAV file


def route_name(path: str) -> str | None:
    try:
        return resolve(path).url_name
    except Resolver404:
        return None


async def lifespan(scope, receive, send) -> None:
    """Answer the server's lifespan events (startup has already happened in django.setup())."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


http_app = RequestBodyLimitMiddleware(
    django_asgi_app,
    default=BodyLimit(settings.VOICEBOT_MAX_REQUEST_BODY_BYTES, settings.VOICEBOT_REQUEST_BODY_TIMEOUT_S),
    upload=BodyLimit(
        settings.VOICEBOT_MAX_UPLOAD_BYTES + MULTIPART_OVERHEAD_BYTES, settings.VOICEBOT_UPLOAD_BODY_TIMEOUT_S
    ),
    upload_routes=UPLOAD_ROUTES,
    route_name=route_name,
    session_cookie_name=settings.SESSION_COOKIE_NAME,
)

# Session auth for every socket (the public consumer ignores the user); each Studio route wraps its
# consumer in AllowedHostsOriginValidator in audio/routing.py, the public consumer checks the
# client key's own origin list.
application = ProtocolTypeRouter(
    {
        "http": http_app,
        # The Studio routes wrap themselves in the session/auth stack (audio/routing.py); the widget and
        # phone sockets need no session, and its wrapper would cost every frame they send.
        "websocket": URLRouter([*public_websockets, *studio_websockets, *phone_websockets]),
        "lifespan": lifespan,
    }
)

# Last: everything the server built to start is frozen out of the collector's full collections.
freeze_startup_objects()
