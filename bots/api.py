"""REST endpoints for options, bots and provider keys: parse, authorise (staff, via settings), call a
service or selector, serialise. No rules here; see `bots.services`."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from bots.models import Bot, ProviderKey
from bots.options import api_options
from bots.selectors import bot_list_with_stats, provider_key_list
from bots.serializers import (
    BotCreateInputSerializer,
    BotInputSerializer,
    BotOutputSerializer,
    BotWithStatsOutputSerializer,
    OkSerializer,
    ProviderKeyInputSerializer,
    ProviderKeyOutputSerializer,
)
from bots.services import bot_create, bot_delete, bot_update, provider_key_create, provider_key_delete


class OptionsApi(APIView):
    @extend_schema(
        operation_id="options",
        summary="Choices for the bot editor (models, engines, voices, languages, pricing)",
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request) -> Response:
        return Response(api_options())


class BotListApi(APIView):
    @extend_schema(
        operation_id="bots_list",
        responses={200: inline_serializer("BotList", {"items": BotWithStatsOutputSerializer(many=True)})},
    )
    def get(self, request: Request) -> Response:
        return Response({"items": BotWithStatsOutputSerializer(bot_list_with_stats(), many=True).data})

    @extend_schema(operation_id="bots_create", request=BotCreateInputSerializer, responses={201: BotOutputSerializer})
    def post(self, request: Request) -> Response:
        serializer = BotCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        bot = bot_create(**serializer.validated_data)
        sent = {"sent": serializer.validated_data}
        return Response(BotOutputSerializer(bot, context=sent).data, status=status.HTTP_201_CREATED)


class BotDetailApi(APIView):
    @extend_schema(operation_id="bots_retrieve", responses={200: BotOutputSerializer})
    def get(self, request: Request, bot_id) -> Response:
        return Response(BotOutputSerializer(get_object_or_404(Bot, pk=bot_id)).data)

    @extend_schema(
        operation_id="bots_update",
        summary="Partial update: only the fields sent are changed",
        request=BotInputSerializer,
        responses={200: BotOutputSerializer},
    )
    def put(self, request: Request, bot_id) -> Response:
        bot = get_object_or_404(Bot, pk=bot_id)
        serializer = BotInputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        bot = bot_update(bot=bot, **serializer.validated_data)
        return Response(BotOutputSerializer(bot, context={"sent": serializer.validated_data}).data)

    @extend_schema(
        operation_id="bots_destroy",
        summary="Delete the bot with its conversations, messages and tools",
        responses={200: OkSerializer},
    )
    def delete(self, request: Request, bot_id) -> Response:
        bot_delete(bot=get_object_or_404(Bot, pk=bot_id))
        return Response({"ok": True})


class ProviderKeyListApi(APIView):
    @extend_schema(
        operation_id="keys_list",
        parameters=[OpenApiParameter("provider", str, description="Only keys of this provider (openai).")],
        responses={200: inline_serializer("ProviderKeyList", {"items": ProviderKeyOutputSerializer(many=True)})},
    )
    def get(self, request: Request) -> Response:
        keys = provider_key_list(provider=(request.query_params.get("provider") or "").strip() or None)
        return Response({"items": ProviderKeyOutputSerializer(keys, many=True).data})

    @extend_schema(
        operation_id="keys_create",
        summary="Store a key encrypted; the secret is never returned",
        request=ProviderKeyInputSerializer,
        responses={201: ProviderKeyOutputSerializer},
    )
    def post(self, request: Request) -> Response:
        serializer = ProviderKeyInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        key = provider_key_create(**serializer.validated_data)
        return Response(ProviderKeyOutputSerializer(key).data, status=status.HTTP_201_CREATED)


class ProviderKeyDetailApi(APIView):
    @extend_schema(
        operation_id="keys_destroy",
        summary="Delete a key (400 while a bot uses it)",
        responses={200: OkSerializer},
    )
    def delete(self, request: Request, key_id) -> Response:
        provider_key_delete(key=get_object_or_404(ProviderKey, pk=key_id))
        return Response({"ok": True})
