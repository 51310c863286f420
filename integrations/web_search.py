"""The `web_search` system tool (INVENTORY §5.2), rebuilt on maintained services instead of scraping.

Default provider: the OpenAI Responses API's hosted web search tool (`tools=[{"type":"web_search"}]`)
on `bot.web_search_model`, with the bot's key; the answer and its cited URLs come back in one call.
Optional provider for self-hosters: a SearXNG instance's JSON API (`VOICEBOT_SEARXNG_URL`), reached
through `integrations.egress` (so a private SearXNG host must be in VOICEBOT_HTTP_ALLOWED_HOSTS); its
snippets are summarised by the bot's web-search model. Progress is sent as Interim events.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from typing import Any
from urllib.parse import urlencode

from asgiref.sync import sync_to_async
from django.conf import settings

from conversations.engine.events import Interim
from conversations.engine.llm import (
    LLMError,
    LLMTarget,
    client_for,
    complete,
    describe_error,
    resolve_target,
    uses_responses_api,
)
from conversations.engine.tools import ToolContext, ToolOutcome
from conversations.templating import render_template
from integrations.egress import EgressError, fetch

MAX_SNIPPET_CHARS = 600


def _args(args: dict[str, Any]) -> tuple[str, str, list[str], int]:
    term = str(args.get("search_term") or args.get("query") or "").strip()
    why = str(args.get("why") or args.get("reason") or "").strip()
    raw_queries = args.get("vector_search_queries") or args.get("vector_searcg_queries") or ""
    queries = [q.strip() for q in str(raw_queries).split(",") if q.strip()][:9]
    try:
        max_results = max(3, min(20, int(args.get("max_results") or 10)))
    except (TypeError, ValueError):
        max_results = 10
    return term, why, queries, max_results


def _citations(response: Any) -> list[str]:
    urls: list[str] = []
    for item in getattr(response, "output", None) or []:
        for part in getattr(item, "content", None) or []:
            for note in getattr(part, "annotations", None) or []:
                url = getattr(note, "url", None)
                if url and url not in urls:
                    urls.append(url)
    return urls


async def _search_target(bot: Any) -> LLMTarget:
    """The bot's key and server with its web-search model."""
    target = await sync_to_async(resolve_target)(bot)
    return dataclasses.replace(target, model=bot.effective_web_search_model)


async def search_openai(bot: Any, term: str, why: str, queries: list[str]) -> dict[str, Any]:
    target = await _search_target(bot)
    if not uses_responses_api(target):
        raise LLMError("Hosted web search needs the Responses API; set VOICEBOT_SEARXNG_URL for this key.", "no_search")
    prompt = (
        f"Search the web for: {term}\nPurpose: {why}\n"
        + (f"Also cover: {', '.join(queries)}\n" if queries else "")
        + "Answer concisely and cite source URLs inline."
    )
    try:
        response = await client_for(target).responses.create(
            model=target.model, input=prompt, tools=[{"type": "web_search"}]
        )
    except Exception as exc:
        raise describe_error(exc) from exc
    return {"provider": "openai", "summary": (response.output_text or "").strip(), "sources": _citations(response)}


def _searxng_results(term: str, max_results: int) -> list[dict[str, str]]:
    base = settings.VOICEBOT_SEARXNG_URL.rstrip("/")
    response = fetch("GET", f"{base}/search?{urlencode({'q': term, 'format': 'json'})}")
    if response.status_code >= 400:
        raise EgressError("http_error", f"SearXNG answered {response.status_code}.", url=response.url)
    try:
        data = response.json()
    except ValueError as exc:
        raise EgressError("bad_response", "SearXNG did not return JSON (enable format=json).") from exc
    results = []
    for row in (data.get("results") or [])[:max_results] if isinstance(data, dict) else []:
        url = str(row.get("url") or "")
        if url.startswith(("http://", "https://")):
            results.append(
                {
                    "url": url,
                    "title": str(row.get("title") or "")[:200],
                    "snippet": str(row.get("content") or "")[:MAX_SNIPPET_CHARS],
                }
            )
    return results


async def search_searxng(bot: Any, term: str, why: str, max_results: int, emit: Any) -> dict[str, Any]:
    results = await asyncio.to_thread(_searxng_results, term, max_results)
    if not results:
        return {"provider": "searxng", "summary": "No results.", "sources": []}
    await emit(Interim("progress", "Summarizing…"))
    target = await _search_target(bot)
    system = "Be concise and cite sources (URLs inline). Use only the snippets given."
    user = f"WHY: {why}\nSEARCH_TERM: {term}\nRESULTS_JSON: {json.dumps(results, ensure_ascii=False)}"
    summary = await complete(target, system=system, user=user)
    return {"provider": "searxng", "summary": summary.strip(), "sources": [r["url"] for r in results]}


class WebSearchTool:
    name = "web_search"
    can_disable = True

    def definition(self) -> dict[str, Any]:
        return {
            "type": "function",
            "name": self.name,
            "description": "Search the web and get a short answer with source URLs.",
            "parameters": {
                "type": "object",
                "properties": {
                    "search_term": {"type": "string", "description": "Search term/query."},
                    "vector_search_queries": {
                        "type": "string",
                        "description": "Comma-separated sub-questions the answer should cover (optional).",
                    },
                    "why": {"type": "string", "description": "Why the user needs this (what to answer)."},
                    "wait_reply": {"type": "string", "description": "Short filler message to say while searching."},
                    "next_reply": {
                        "type": "string",
                        "description": "Optional fixed reply; leave empty to answer from the search result.",
                    },
                    "top_k": {"type": "integer", "default": 5},
                    "max_results": {"type": "integer", "default": 10},
                },
                "required": ["search_term", "why"],
                "additionalProperties": True,
            },
            "strict": False,
        }

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolOutcome:
        term, why, queries, max_results = _args(args if isinstance(args, dict) else {})
        problems = [m for m, bad in (("search_term is required", not term), ("why is required", not why)) if bad]
        if problems:
            return ToolOutcome(result={"ok": False, "error": {"message": "; ".join(problems)}}, ok=False)
        await ctx.emit(Interim("progress", "Searching the web…"))
        try:
            if settings.VOICEBOT_SEARXNG_URL:
                found = await search_searxng(ctx.bot, term, why, max_results, ctx.emit)
            else:
                found = await search_openai(ctx.bot, term, why, queries)
        except (LLMError, EgressError) as exc:
            return ToolOutcome(result={"ok": False, "error": {"message": f"WEB_SEARCH_ERROR: {exc}"}}, ok=False)
        next_reply = str(args.get("next_reply") or "").strip()
        reply = render_template(next_reply, {"meta": ctx.metadata}).strip() if next_reply else ""
        return ToolOutcome(result={"ok": True, **found}, reply=reply or None)
