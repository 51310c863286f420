"""ASGI entry point served by daphne: Django for HTTP, Channels for the websockets.

Studio sockets (`/ws/...`) need a logged-in session and a same-site Origin; the public embed socket
(`/public/v1/ws/...`) authenticates with a client key and checks Origin against that key itself.
"""

from __future__ import annotations

import os

import django
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from audio.routing import websocket_urlpatterns as studio_websockets  # noqa: E402
from embed.routing import websocket_urlpatterns as public_websockets  # noqa: E402

# Session auth for every socket (the public consumer ignores the user); each Studio route wraps its
# consumer in AllowedHostsOriginValidator in audio/routing.py, the public consumer checks the
# client key's own origin list.
application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AuthMiddlewareStack(URLRouter([*public_websockets, *studio_websockets])),
    }
)
