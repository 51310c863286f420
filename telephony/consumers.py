"""Twilio Media Streams socket (`/telephony/twilio/<bot>/stream`): parse, authorise, hand to PhoneCall.

Protocol (Twilio → us): `connected`, `start` (streamSid, callSid, customParameters), `media` (base64
μ-law 8 kHz, 20 ms), `dtmf`, `mark` (an echo of ours, once the audio before it played), `stop`.
Us → Twilio: `media`, `mark`, `clear`.

Only a stream that a verified webhook announced is served:
- the handshake must carry Twilio's `X-Twilio-Signature` for the stream URL (checked with the line's
  auth token); without it the socket is never accepted (HTTP 403);
- its `start` must carry the one-time token the webhook issued (a `<Parameter>`), for this bot and
  this call SID. Anything else (no `start` within START_TIMEOUT_S, an unknown, expired or reused
  token, another bot's token) is closed with 4403.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from asgiref.sync import sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from audio import pipeline
from conversations.frames import FrameError, parse_frame
from telephony import services
from telephony.call import PhoneCall, recording_path

logger = logging.getLogger(__name__)
START_TIMEOUT_S = 10.0
MAX_FRAME_BYTES = 16384
CLOSE_NOT_ANNOUNCED = 4403


class TwilioStreamConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        self.bot_id = str(self.scope["url_route"]["kwargs"]["bot_id"])
        self.call: PhoneCall | None = None
        self.closing = False
        self._start_deadline: asyncio.Task | None = None
        signature = dict(self.scope.get("headers", [])).get(b"x-twilio-signature", b"").decode("latin-1")
        if not await sync_to_async(services.stream_signature_valid)(bot_id=self.bot_id, signature=signature):
            logger.info("phone stream for bot %s refused: no valid Twilio signature on the handshake", self.bot_id)
            self.closing = True
            await self.close()  # before accept: the handshake is answered 403
            return
        await self.accept()
        self._start_deadline = asyncio.create_task(self._close_unless_started())

    @classmethod
    async def decode_json(cls, text_data: str) -> Any:
        return parse_frame(text_data, max_bytes=MAX_FRAME_BYTES)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs) -> None:
        try:
            await super().receive(text_data=text_data, bytes_data=bytes_data, **kwargs)
        except FrameError:
            return  # Twilio never sends these; a stray frame is ignored, the call goes on

    async def receive_json(self, content: Any, **kwargs) -> None:
        if self.closing or not isinstance(content, dict):
            return
        event = content.get("event")
        if self.call is None:
            if event == "start":
                await self._start(content.get("start"))
            elif event != "connected":
                await self._refuse()
            return
        body = content.get(event) if isinstance(event, str) else None
        body = body if isinstance(body, dict) else {}
        if event == "media":
            if body.get("track", "inbound") == "inbound":
                await self.call.media(body.get("payload"))
        elif event == "mark":
            self.call.mark(body.get("name"))
        elif event == "dtmf":
            await self.call.dtmf(body.get("digit"))
        elif event == "stop":
            await self._end("stop")
            await self.close()

    async def disconnect(self, code: int) -> None:
        if self._start_deadline is not None:
            self._start_deadline.cancel()
        await self._end("hangup")

    # --- start ---------------------------------------------------------------------------------------
    async def _start(self, start: Any) -> None:
        start = start if isinstance(start, dict) else {}
        parameters = start.get("customParameters")
        parameters = parameters if isinstance(parameters, dict) else {}
        announced = await services.stream_token_consume(parameters.get(services.TOKEN_PARAMETER))
        stream_sid = start.get("streamSid")
        if (
            announced is None
            or announced.bot_id != self.bot_id
            or announced.call_sid != start.get("callSid")
            or not isinstance(stream_sid, str)
            or not stream_sid
        ):
            await self._refuse()
            return
        line = await sync_to_async(services.phone_line_for_bot)(self.bot_id)
        if line is None or not line.accepts_calls:
            await self._refuse()
            return
        self._start_deadline.cancel()
        conversation = await sync_to_async(services.phone_call_start)(
            line=line, call=announced, stream_sid=stream_sid[:64]
        )
        voice = await pipeline.Voice.for_bot(line.bot)
        self.call = PhoneCall(
            send=self.send_json,
            conversation=conversation,
            voice=voice,
            stream_sid=stream_sid,
            record_to=recording_path(conversation) if line.record_audio else None,
        )
        await pipeline.warm_up(voice)
        await self.call.greet()

    async def _close_unless_started(self) -> None:
        await asyncio.sleep(START_TIMEOUT_S)
        if self.call is None:
            await self._refuse()

    async def _refuse(self) -> None:
        if not self.closing:
            self.closing = True
            logger.info("phone stream for bot %s closed: no verified webhook announced it", self.bot_id)
            await self.close(code=CLOSE_NOT_ANNOUNCED)

    async def _end(self, reason: str) -> None:
        call, self.call = self.call, None
        self.closing = True
        if call is not None:
            with contextlib.suppress(Exception):
                await call.end(reason)
