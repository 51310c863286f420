"""A provider key's base_url: local model servers (loopback, private) work, cloud metadata and
link-local addresses are refused when the key is saved (REST and Studio) and when the client connects."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync

from bots.models import ProviderKey
from bots.network_policy import PROVIDER_BLOCKED_MESSAGE, provider_base_url_problem, provider_peer_allowed
from bots.services import provider_key_create
from conversations.engine.provider_http import ProviderAddressBlocked, guarded_async_http_client
from conversations.provider_keys import provider_key_check
from tests.integrations.conftest import run_turn_events
from tests.studio.conftest import HTMX

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "sk-test-abcdefghijklmnopqrstuvwxyz"
METADATA_URLS = [
    "http://169.254.169.254/v1",
    "http://169.254.170.2/v2/credentials",
    "http://[fe80::1]:8080/v1",
    "http://[fd00:ec2::254]/latest",
    "http://100.100.100.200/latest/meta-data",
    "http://metadata.google.internal/computeMetadata/v1",
    "http://[::ffff:169.254.169.254]/v1",
]


@pytest.mark.parametrize("base_url", METADATA_URLS)
def test_the_rest_api_refuses_a_metadata_or_link_local_base_url(staff_api, base_url):
    response = staff_api.post(
        "/api/keys", {"provider": "openai", "name": "Evil", "secret": SECRET, "base_url": base_url}, format="json"
    )
    assert response.status_code == 400
    assert "Blocked: cloud metadata and link-local addresses" in response.content.decode()
    assert not ProviderKey.objects.exists()


def test_the_studio_form_refuses_a_metadata_base_url_inline(staff_client):
    response = staff_client.post(
        "/keys/provider/",
        {
            "provider-name": "Evil",
            "provider-secret": SECRET,
            "provider-base_url": "http://169.254.169.254/v1",
            "provider-api_style": "chat_completions",
        },
        **HTMX,
    )
    assert response.status_code == 400
    assert "Blocked: cloud metadata and link-local addresses" in response.content.decode()
    assert not ProviderKey.objects.exists()


def test_loopback_private_and_public_model_servers_stay_allowed():
    for url in ("http://127.0.0.1:11434/v1", "http://localhost:8000/v1", "http://10.0.0.5/v1", "http://[::1]:9/v1"):
        assert provider_base_url_problem(url) is None, url
    assert provider_base_url_problem("") is None
    assert provider_peer_allowed("127.0.0.1") and provider_peer_allowed("192.168.1.20")
    assert not provider_peer_allowed("169.254.169.254") and not provider_peer_allowed("fe80::1%lo")


def test_a_key_for_the_loopback_double_works_end_to_end(staff_api, bot, openai_double):
    response = staff_api.post(
        "/api/keys",
        {"provider": "openai", "name": "Local", "secret": SECRET, "base_url": openai_double.base_url},
        format="json",
    )
    assert response.status_code == 201
    key = ProviderKey.objects.get()
    ok, message = provider_key_check(key)
    assert ok, message

    from bots.services import bot_update
    from conversations.services import conversation_start

    bot_update(bot=bot, openai_key_id=key.id)
    openai_double.queue_text("Hello from the local server.")
    events = async_to_sync(run_turn_events)(conversation_start(bot=bot), "hi")
    assert events[-1].text == "Hello from the local server."


class _ConnectedTo:
    """What httpcore reports for a new connection: a stream that knows its peer."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.closed = False

    def get_extra_info(self, name: str):
        return (self.address, 80) if name == "server_addr" else None

    async def aclose(self) -> None:
        self.closed = True


async def _connect_through_guard(address: str) -> tuple[BaseException | None, _ConnectedTo]:
    """Run the guarded client's request hook, then report a connection to `address` to its trace."""
    import httpx2

    client = guarded_async_http_client()
    request = httpx2.Request("GET", "http://rebound.example/v1/models")
    for hook in client.event_hooks["request"]:
        await hook(request)
    stream = _ConnectedTo(address)
    try:
        await request.extensions["trace"]("connection.connect_tcp.complete", {"return_value": stream})
    except ProviderAddressBlocked as exc:
        return exc, stream
    finally:
        await client.aclose()
    return None, stream


@pytest.mark.parametrize("address", ["169.254.169.254", "fe80::1", "fd00:ec2::254", "::ffff:169.254.169.254"])
def test_the_client_refuses_a_name_that_resolves_to_metadata_when_it_connects(address):
    error, stream = async_to_sync(_connect_through_guard)(address)
    assert isinstance(error, ProviderAddressBlocked)
    assert error.message == PROVIDER_BLOCKED_MESSAGE and stream.closed


def test_the_client_lets_a_loopback_connection_through():
    error, stream = async_to_sync(_connect_through_guard)("127.0.0.1")
    assert error is None and not stream.closed


def test_a_service_created_key_is_refused_too():
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as refused:
        provider_key_create(name="Evil", secret=SECRET, base_url="http://[fe80::1%25eth0]/v1")
    assert "Blocked" in str(refused.value.message_dict["base_url"])


def test_the_admin_form_refuses_a_metadata_base_url(admin_client):
    from django.urls import reverse

    response = admin_client.post(
        reverse("admin:bots_providerkey_add"),
        {
            "name": "Evil",
            "provider": "openai",
            "secret": SECRET,
            "base_url": "http://169.254.169.254/v1",
            "api_style": "responses",
        },
    )
    assert response.status_code == 200
    assert "Blocked: cloud metadata and link-local addresses" in response.content.decode()
    assert not ProviderKey.objects.exists()


def test_the_openai_tts_client_goes_through_the_connect_time_guard():
    """OpenAI TTS talks to the same provider as the chat model: its HTTP client checks the peer too."""
    from audio.tts.base import TtsSpec
    from audio.tts.openai import OpenAITts

    spec = TtsSpec(vendor="openai", model="tts-1", voice="alloy", api_key="sk-x", base_url="http://rebound.example/v1")
    engine = OpenAITts(spec)
    assert any(getattr(hook, "__name__", "") == "_check_sync" for hook in engine._client._client.event_hooks["request"])
