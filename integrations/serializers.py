"""Wire shapes of integration tools (the reference's §2.3 names). Input serializers accept the JSON
text fields as a JSON string or an object; every rule lives in `integrations.validation`."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from integrations.models import IntegrationTool
from integrations.services_tools import tool_to_dict


class ToolInputSerializer(serializers.Serializer):
    """All optional here (PUT is partial); the service requires `name` and `url` on create."""

    name = serializers.CharField(required=False, allow_blank=True, max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    url = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    method = serializers.CharField(required=False, max_length=16, help_text="GET, POST, PUT, PATCH or DELETE.")
    enabled = serializers.BooleanField(required=False)
    use_codex_response = serializers.BooleanField(required=False)
    args_required = serializers.JSONField(required=False, help_text="List of names (or comma-separated text).")
    headers_template_json = serializers.JSONField(
        required=False, write_only=True, help_text="Write-only. Absent: kept; blank: removed."
    )
    request_body_template = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    parameters_schema_json = serializers.JSONField(required=False, help_text="JSON Schema (text or object).")
    response_schema_json = serializers.JSONField(required=False, help_text="JSON Schema (text or object).")
    response_mapper_json = serializers.JSONField(required=False, help_text="{metadata_key: template}.")
    static_reply_template = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    codex_prompt = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)


class ToolOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    bot_id = serializers.UUIDField()
    name = serializers.CharField()
    description = serializers.CharField()
    url = serializers.CharField()
    method = serializers.ChoiceField(choices=IntegrationTool.Method.values)
    enabled = serializers.BooleanField()
    args_required = serializers.ListField(child=serializers.CharField())
    headers_template_json = serializers.CharField(help_text='Always "{}": headers are write-only.')
    headers_template_json_masked = serializers.CharField(help_text="Every header value masked.")
    headers_configured = serializers.BooleanField()
    request_body_template = serializers.CharField()
    parameters_schema_json = serializers.CharField()
    response_schema_json = serializers.CharField()
    response_mapper_json = serializers.CharField()
    parameters_schema = serializers.JSONField(allow_null=True)
    response_schema = serializers.JSONField(allow_null=True)
    response_mapper = serializers.JSONField()
    codex_prompt = serializers.CharField()
    static_reply_template = serializers.CharField()
    use_codex_response = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def to_representation(self, instance: IntegrationTool) -> dict[str, Any]:
        data = tool_to_dict(instance)
        for field in ("created_at", "updated_at"):
            data[field] = self.fields[field].to_representation(data[field])
        return data


class SystemToolSerializer(serializers.Serializer):
    name = serializers.CharField()
    description = serializers.CharField()
    enabled = serializers.BooleanField()
    can_disable = serializers.BooleanField()


class ToolListSerializer(serializers.Serializer):
    items = ToolOutputSerializer(many=True)
    system_tools = SystemToolSerializer(many=True)
    disabled_tools = serializers.ListField(child=serializers.CharField())
