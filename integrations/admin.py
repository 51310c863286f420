"""Admin for integration tools (headers write-only, shown masked) and the files tool calls leave behind
(read-only: they are made by the engine and removed by the cleanup job)."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from bots.admin import register_bot_inline
from integrations.models import DownloadToken, Export, IntegrationTool, SavedResponse
from integrations.services_tools import masked_headers
from integrations.validation import clean_tool_fields

# Error keys of integrations.validation → this form's field names.
_FORM_FIELD = {
    "parameters_schema_json": "parameters_schema",
    "response_schema_json": "response_schema",
    "response_mapper_json": "response_mapper",
    "headers_template_json": "headers_template",
}


@admin.display(description="headers")
def headers_hint(tool: IntegrationTool) -> str:
    return masked_headers(tool) if tool.headers_configured else "—"


class IntegrationToolAdminForm(forms.ModelForm):
    """Runs the same validation as the API and the Studio; headers are entered, never displayed."""

    headers_template = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "autocomplete": "off"}),
        required=False,
        help_text='Write-only JSON object, e.g. {"Authorization": "Bearer …"}. Blank keeps the stored headers; '
        "{} removes them.",
    )

    class Meta:
        model = IntegrationTool
        fields = (
            "bot",
            "name",
            "description",
            "url",
            "method",
            "enabled",
            "args_required",
            "request_body_template",
            "parameters_schema",
            "response_schema",
            "response_mapper",
            "static_reply_template",
            "use_codex_response",
            "codex_prompt",
        )

    def clean(self):
        cleaned = super().clean()
        checked = {k: v for k, v in cleaned.items() if k in self.Meta.fields and k != "bot"}
        if cleaned.get("headers_template", "").strip():
            checked["headers_template"] = cleaned["headers_template"]
        try:
            values = clean_tool_fields(checked)
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                for message in messages:
                    self.add_error(_FORM_FIELD.get(field, field), message)
            return cleaned
        headers = values.pop("headers_template", None)
        cleaned.update(values)
        if headers is not None:
            self.instance.set_headers_template(headers)
        return cleaned


class IntegrationToolInline(admin.TabularInline):
    """A bot's tools at a glance; editing happens on the tool's own page (with validation)."""

    model = IntegrationTool
    extra = 0
    fields = ("name", "method", "url", "enabled", headers_hint, "updated_at")
    readonly_fields = ("name", "method", "url", headers_hint, "updated_at")
    show_change_link = True
    ordering = ("name",)

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


register_bot_inline(IntegrationToolInline)


@admin.register(IntegrationTool)
class IntegrationToolAdmin(admin.ModelAdmin):
    form = IntegrationToolAdminForm
    list_display = ("name", "bot", "method", "url", "enabled", "use_codex_response", headers_hint, "updated_at")
    list_select_related = ("bot",)
    list_filter = ("enabled", "method", "use_codex_response", "bot")
    search_fields = ("name", "url", "description", "bot__name")
    readonly_fields = (headers_hint, "created_at", "updated_at")
    autocomplete_fields = ("bot",)
    fieldsets = (
        (None, {"fields": ("bot", "name", "description", "enabled")}),
        ("Request", {"fields": ("method", "url", "headers_template", headers_hint, "request_body_template")}),
        ("Arguments", {"fields": ("args_required", "parameters_schema")}),
        (
            "Response",
            {
                "fields": (
                    "response_schema",
                    "response_mapper",
                    "static_reply_template",
                    "use_codex_response",
                    "codex_prompt",
                )
            },
        ),
        ("Dates", {"fields": ("created_at", "updated_at")}),
    )


class _ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(SavedResponse)
class SavedResponseAdmin(_ReadOnlyAdmin):
    list_display = ("tool_name", "conversation", "status_code", "size_bytes", "created_at", "expires_at")
    list_select_related = ("conversation", "conversation__bot")
    list_filter = ("tool_name",)
    search_fields = ("tool_name", "conversation__id")
    date_hierarchy = "created_at"


@admin.register(Export)
class ExportAdmin(_ReadOnlyAdmin):
    list_display = ("filename", "format", "conversation", "size_bytes", "created_at", "expires_at")
    list_select_related = ("conversation", "conversation__bot")
    list_filter = ("format",)
    search_fields = ("filename", "conversation__id")
    date_hierarchy = "created_at"


@admin.register(DownloadToken)
class DownloadTokenAdmin(_ReadOnlyAdmin):
    list_display = ("token_hint", "export", "created_at", "expires_at")
    list_select_related = ("export",)
    list_display_links = None  # the token is the primary key: keep it out of links and action checkboxes
    actions = None
    exclude = ("token",)
    readonly_fields = ("token_hint", "export", "created_at", "expires_at")

    @admin.display(description="token")
    def token_hint(self, token: DownloadToken) -> str:
        return f"{token.token[:6]}…"
