"""`{% load telephony %}{{ conversation|caller_masked }}`: a phone conversation's caller, masked."""

from __future__ import annotations

from django import template

from telephony.services import conversation_caller_masked

register = template.Library()


@register.filter
def caller_masked(conversation) -> str:
    return conversation_caller_masked(conversation)
