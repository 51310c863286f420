"""The bot page's "Preview voice" button: a short sentence in the bot's saved voice, as a WAV.

Staff only. The voice picker (templates/studio/bots/_voice_picker.html) may pass the speaker (and,
for XTTS, the language) it shows before they are saved, so a speaker can be heard before choosing
it. Synthesis uses the same engines and model cache as a conversation.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_POST

from audio import tts
from bots.crypto import SecretError
from bots.engines import TtsEngine
from bots.models import Bot
from studio.permissions import staff_required

logger = logging.getLogger(__name__)
PREVIEW_TEXT = "Hello! This is how I sound. How can I help you today?"


@staff_required
@require_POST
def bot_voice_preview(request: HttpRequest, bot_id: Any) -> HttpResponse:
    bot = get_object_or_404(Bot.objects.select_related("openai_key"), pk=bot_id)
    speaker = request.POST.get("speaker_id", "").strip()[:200]
    language = request.POST.get("tts_language", "").strip()[:16]
    try:
        spec = tts.spec_for_bot(bot)
        if speaker:
            spec = (
                replace(spec, voice=speaker) if spec.vendor == TtsEngine.OPENAI else replace(spec, speaker_id=speaker)
            )
        if language and spec.vendor == TtsEngine.XTTS:
            spec = replace(spec, language=language)
        audio = tts.synthesize_sync(spec, PREVIEW_TEXT)
    except (tts.TtsError, SecretError) as exc:
        return JsonResponse({"detail": str(exc)}, status=400)
    except Exception as exc:  # a voice file the engine cannot run (e.g. a speaker it does not have)
        logger.warning("voice preview of bot %s failed: %r", bot.pk, exc)
        return JsonResponse({"detail": f"This voice could not speak: {exc.__class__.__name__}"}, status=400)
    response = HttpResponse(audio.wav, content_type="audio/wav")
    response["Cache-Control"] = "no-store"
    return response
