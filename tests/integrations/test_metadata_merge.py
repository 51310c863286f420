"""Metadata is written one way: the locked merge. An HTTP tool's mapped fields and a `set_metadata`
made while the tool's request is in flight both survive (before, the tool saved the turn's copy of the
metadata over the row, losing the concurrent write)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from asgiref.sync import async_to_sync

from conversations.services import conversation_merge_metadata
from tests.integrations.conftest import make_tool, run_turn_events

pytestmark = pytest.mark.django_db(transaction=True)


class _WriterApi:
    """A third-party API that, while answering, lets another writer (a set_metadata of another
    process) change the conversation's metadata."""

    def __init__(self, conversation) -> None:
        conversation_ref = conversation

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                conversation_merge_metadata(conversation=conversation_ref, patch={"note": "written meanwhile"})
                body = json.dumps({"data": {"city": "Lisbon"}}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> _WriterApi:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_concurrent_set_metadata_and_the_tools_mapped_fields_both_survive(
    bot, conversation, allow_loopback, openai_double
):
    with _WriterApi(conversation) as api:
        make_tool(
            bot,
            name="lookup_city",
            url=api.url + "/city",
            response_mapper={"city": "{{response.data.city}}"},
        )
        openai_double.queue_tool_call("lookup_city", {"args": {}, "next_reply": "You are in {{.city}}."})
        events = async_to_sync(run_turn_events)(conversation, "where am I?")

    assert any(getattr(e, "text", None) == "You are in Lisbon." for e in events)
    conversation.refresh_from_db()
    assert conversation.metadata == {"note": "written meanwhile", "city": "Lisbon"}
