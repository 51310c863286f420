"""A Twilio call double: the phone network's side of a call, over real HTTP and a real websocket.

It does what Twilio does for an inbound call to a number whose voice webhook is our bot:
- POSTs the signed voice webhook (`X-Twilio-Signature` computed with twilio's own `RequestValidator`
  and the test account's auth token, over the public URL) and reads the TwiML answer;
- opens the `<Stream>` URL and speaks the Media Streams JSON: `connected`, `start` (with the TwiML's
  `<Parameter>`s as customParameters), a `media` frame of 20 ms μ-law every 20 ms for the whole call
  (the caller's speech when there is some, silence otherwise), `dtmf`, `stop`;
- plays what it receives like a phone: frames go into a play-out buffer in real time, each `mark` is
  echoed when the audio before it has played, `clear` empties the buffer and echoes the pending marks
  at once (as Twilio does; a server must not count those as heard).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from twilio.request_validator import RequestValidator
from websockets.asyncio.client import connect

from audio.pcm import decode_audio, float32_to_pcm16, resample
from telephony.media import FRAME_BYTES, PHONE_SAMPLE_RATE, ULAW_SILENCE, pcm16_to_ulaw

SILENCE_FRAME = ULAW_SILENCE * FRAME_BYTES


def wav_to_caller_frames(wav: bytes) -> list[bytes]:
    """A WAV file as the 20 ms μ-law frames a phone would send."""
    samples, rate = decode_audio(wav)
    ulaw = pcm16_to_ulaw(float32_to_pcm16(resample(samples, rate, PHONE_SAMPLE_RATE)))
    ulaw += ULAW_SILENCE * (-len(ulaw) % FRAME_BYTES)
    return [ulaw[i : i + FRAME_BYTES] for i in range(0, len(ulaw), FRAME_BYTES)]


@dataclass
class Webhook:
    status: int
    body: str
    stream_url: str = ""
    parameters: dict[str, str] = field(default_factory=dict)


@dataclass
class Received:
    at: float  # perf_counter when the frame arrived
    frame: bytes


class CallDouble:
    def __init__(
        self,
        *,
        public_base_url: str,
        bot_id: Any,
        account_sid: str,
        auth_token: str,
        caller: str = "+15551234567",
        called: str = "+15557654321",
    ) -> None:
        self.public_base_url = public_base_url.rstrip("/")
        self.bot_id = str(bot_id)
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.caller = caller
        self.called = called
        self.call_sid = "CA" + uuid.uuid4().hex
        self.stream_sid = "MZ" + uuid.uuid4().hex
        self.received: list[Received] = []
        self.marks_echoed: list[str] = []
        self.clears: list[float] = []
        self.speech_ended_at: float | None = None  # perf_counter of the last frame of the latest utterance
        self.close_code: int | None = None
        self._speech: list[bytes] = []
        self._play_end = 0.0
        self._echoes: dict[str, asyncio.Task] = {}
        self._socket = None
        self._tasks: list[asyncio.Task] = []

    def same_call(self) -> CallDouble:
        """Another party claiming this call (same bot, account and call SID): a replay or an intruder."""
        other = CallDouble(
            public_base_url=self.public_base_url,
            bot_id=self.bot_id,
            account_sid=self.account_sid,
            auth_token=self.auth_token,
        )
        other.call_sid = self.call_sid
        return other

    # --- the webhook -------------------------------------------------------------------------------
    def webhook_params(self) -> dict[str, str]:
        return {
            "AccountSid": self.account_sid,
            "CallSid": self.call_sid,
            "From": self.caller,
            "To": self.called,
            "CallStatus": "ringing",
            "Direction": "inbound",
        }

    def post_webhook(self, *, server_url: str, signature: str | None = None) -> Webhook:
        """POST the voice webhook to `server_url` (where the server listens), signed for the public URL."""
        path = f"/telephony/twilio/{self.bot_id}/voice"
        params = self.webhook_params()
        if signature is None:
            signature = RequestValidator(self.auth_token).compute_signature(self.public_base_url + path, params)
        request = urllib.request.Request(
            server_url.rstrip("/") + path,
            data=urllib.parse.urlencode(params).encode(),
            headers={"X-Twilio-Signature": signature} if signature else {},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, body = response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return Webhook(status=exc.code, body=exc.read().decode(errors="replace"))
        return parse_twiml(status, body)

    # --- the stream --------------------------------------------------------------------------------
    async def open_stream(self, url: str, parameters: dict[str, str], *, signed: bool = True) -> None:
        """Open the socket as Twilio does: the handshake signed for `url` (unless `signed` is False),
        then `connected` and `start` with the TwiML's parameters."""
        headers = {"X-Twilio-Signature": RequestValidator(self.auth_token).compute_signature(url, {})} if signed else {}
        self._socket = await connect(url, max_size=2**20, additional_headers=headers)
        await self._send({"event": "connected", "protocol": "Call", "version": "1.0.0"})
        await self._send(
            {
                "event": "start",
                "sequenceNumber": "1",
                "start": {
                    "accountSid": self.account_sid,
                    "streamSid": self.stream_sid,
                    "callSid": self.call_sid,
                    "tracks": ["inbound"],
                    "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
                    "customParameters": parameters,
                },
                "streamSid": self.stream_sid,
            }
        )
        self._tasks = [asyncio.create_task(self._microphone()), asyncio.create_task(self._listen())]

    async def say(self, frames: list[bytes], *, wait: bool = True) -> None:
        """Speak these frames (in real time, from the next frame on); `wait`: until they are sent."""
        self._speech.extend(frames)
        while wait and self._speech:
            await asyncio.sleep(0.02)

    async def press(self, digit: str) -> None:
        await self._send(
            {"event": "dtmf", "streamSid": self.stream_sid, "dtmf": {"track": "inbound_track", "digit": digit}}
        )

    async def hang_up(self) -> None:
        with contextlib.suppress(Exception):
            await self._send(
                {
                    "event": "stop",
                    "streamSid": self.stream_sid,
                    "stop": {"accountSid": self.account_sid, "callSid": self.call_sid},
                }
            )
        await self.wait_closed(timeout_s=10)

    async def wait_closed(self, *, timeout_s: float) -> int | None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                while self.close_code is None:
                    await asyncio.sleep(0.05)
        await self.close()
        return self.close_code

    async def close(self) -> None:
        for task in [*self._tasks, *self._echoes.values()]:
            task.cancel()
        for task in [*self._tasks, *self._echoes.values()]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._socket is not None:
            await self._socket.close()

    async def wait_quiet(self, *, quiet_s: float, timeout_s: float, after: float = 0.0) -> None:
        """Until some audio arrived after `after` and then none for `quiet_s` (the bot finished talking)."""
        async with asyncio.timeout(timeout_s):
            while True:
                await asyncio.sleep(0.05)
                last = self.received[-1].at if self.received else 0.0
                if last > after and time.perf_counter() - last > quiet_s and time.perf_counter() > self._play_end:
                    return

    def frames_after(self, since: float) -> list[bytes]:
        return [r.frame for r in self.received if r.at > since]

    # --- internals ---------------------------------------------------------------------------------
    async def _send(self, message: dict[str, Any]) -> None:
        await self._socket.send(json.dumps(message))

    async def _microphone(self) -> None:
        """One 20 ms frame every 20 ms for the whole call, like a phone line."""
        started, sent = time.perf_counter(), 0
        while True:
            if self._speech:
                frame = self._speech.pop(0)
                if not self._speech:
                    self.speech_ended_at = time.perf_counter()
            else:
                frame = SILENCE_FRAME
            sent += 1
            payload = base64.b64encode(frame).decode()
            await self._send(
                {
                    "event": "media",
                    "sequenceNumber": str(sent + 1),
                    "streamSid": self.stream_sid,
                    "media": {"track": "inbound", "chunk": str(sent), "timestamp": str(sent * 20), "payload": payload},
                }
            )
            await asyncio.sleep(max(0.0, started + sent * 0.02 - time.perf_counter()))

    async def _listen(self) -> None:
        try:
            async for text in self._socket:
                message = json.loads(text)
                now = time.perf_counter()
                if message.get("event") == "media":
                    frame = base64.b64decode(message["media"]["payload"])
                    self.received.append(Received(now, frame))
                    self._play_end = max(self._play_end, now) + len(frame) / PHONE_SAMPLE_RATE
                elif message.get("event") == "mark":
                    name = message["mark"]["name"]
                    self._echoes[name] = asyncio.create_task(self._echo(name, self._play_end))
                elif message.get("event") == "clear":
                    self.clears.append(now)
                    self._play_end = now
                    pending, self._echoes = self._echoes, {}
                    for name, task in pending.items():  # Twilio sends back the marks it still held
                        if not task.done():
                            task.cancel()
                            await self._send_mark(name)
        except Exception:
            pass
        finally:
            self.close_code = self._socket.close_code if self._socket.close_code is not None else 1006

    async def _echo(self, name: str, at: float) -> None:
        await asyncio.sleep(max(0.0, at - time.perf_counter()))
        self.marks_echoed.append(name)
        await self._send_mark(name)

    async def _send_mark(self, name: str) -> None:
        await self._send({"event": "mark", "sequenceNumber": "0", "streamSid": self.stream_sid, "mark": {"name": name}})


def parse_twiml(status: int, body: str) -> Webhook:
    hook = Webhook(status=status, body=body)
    with contextlib.suppress(ET.ParseError):
        stream = ET.fromstring(body).find("./Connect/Stream")
        if stream is not None:
            hook.stream_url = stream.get("url", "")
            hook.parameters = {p.get("name"): p.get("value") for p in stream.findall("Parameter")}
    return hook


def transcribe_phone_audio(frames: list[bytes], model_dir: str) -> str:
    """What the caller heard, transcribed with the project's ASR (8 kHz μ-law → 16 kHz)."""
    from audio.asr import AsrSpec, transcribe_sync
    from telephony.media import ulaw_frames_to_samples

    samples = resample(ulaw_frames_to_samples(frames), PHONE_SAMPLE_RATE, 16000)
    return transcribe_sync(AsrSpec("faster_whisper", model_dir, "cpu"), np.asarray(samples), "en").text
