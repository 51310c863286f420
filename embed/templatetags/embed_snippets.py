"""`{% widget_snippet key secret %}`: the Studio's ready-to-paste `<script>` tag, from embed.services.

The snippet has one home (`embed.services.widget_snippet_for_key`); templates render it through this
tag so a page never carries its own copy (the old one had a placeholder user id that, pasted as is,
put every visitor of a site into one conversation).
"""

from __future__ import annotations

from django import template

from embed.models import ClientKey
from embed.services import widget_snippet_for_key

register = template.Library()


@register.simple_tag(takes_context=True)
def widget_snippet(context: template.Context, key: ClientKey, secret: str) -> str:
    request = context["request"]
    return widget_snippet_for_key(base_url=request.build_absolute_uri("/"), key=key, secret=secret)
