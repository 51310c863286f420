"""REST endpoints for a bot's integration tools: parse, authorise (staff), call the tool services."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from bots.models import Bot
from bots.serializers import OkSerializer
from integrations.models import IntegrationTool
from integrations.serializers import ToolInputSerializer, ToolListSerializer, ToolOutputSerializer
from integrations.services_tools import system_tools_for_bot, tool_create, tool_delete, tool_update


def _tool_of(bot_id, tool_id) -> IntegrationTool:
    """404 unless the tool exists AND belongs to that bot."""
    return get_object_or_404(IntegrationTool.objects.select_related("bot"), pk=tool_id, bot_id=bot_id)


class ToolListApi(APIView):
    @extend_schema(operation_id="bot_tools_list", responses={200: ToolListSerializer})
    def get(self, request: Request, bot_id) -> Response:
        bot = get_object_or_404(Bot, pk=bot_id)
        tools = IntegrationTool.objects.filter(bot=bot).order_by("-updated_at")
        return Response(
            {
                "items": ToolOutputSerializer(tools, many=True).data,
                "system_tools": system_tools_for_bot(bot),
                "disabled_tools": sorted(bot.disabled_tools or []),
            }
        )

    @extend_schema(operation_id="bot_tools_create", request=ToolInputSerializer, responses={201: ToolOutputSerializer})
    def post(self, request: Request, bot_id) -> Response:
        bot = get_object_or_404(Bot, pk=bot_id)
        serializer = ToolInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        tool = tool_create(bot=bot, **serializer.validated_data)
        return Response(ToolOutputSerializer(tool).data, status=status.HTTP_201_CREATED)


class ToolDetailApi(APIView):
    @extend_schema(
        operation_id="bot_tools_update",
        summary="Partial update: only the fields sent change; headers absent are kept",
        request=ToolInputSerializer,
        responses={200: ToolOutputSerializer},
    )
    def put(self, request: Request, bot_id, tool_id) -> Response:
        tool = _tool_of(bot_id, tool_id)
        serializer = ToolInputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        tool = tool_update(tool=tool, **serializer.validated_data)
        return Response(ToolOutputSerializer(tool).data)

    @extend_schema(operation_id="bot_tools_destroy", responses={200: OkSerializer})
    def delete(self, request: Request, bot_id, tool_id) -> Response:
        tool_delete(tool=_tool_of(bot_id, tool_id))
        return Response({"ok": True})
