"""The conversation list's filter form: it validates the query string and turns it into a queryset."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.db.models import Count, Exists, Max, Min, OuterRef, QuerySet, Subquery
from django.db.models.functions import Left
from django.utils import timezone

from bots.models import Bot
from conversations.models import Conversation, Message

PAGE_SIZES = (25, 50, 100, 200)


class ConversationFilterForm(forms.Form):
    bot = forms.ModelChoiceField(queryset=Bot.objects.order_by("name"), required=False, empty_label="All bots")
    kind = forms.ChoiceField(
        choices=[("", "Test and live"), ("test", "Test (Studio)"), ("live", "Live (embed, API)")],
        required=False,
        label="Kind",
    )
    date_from = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))
    q = forms.CharField(
        required=False,
        max_length=200,
        label="Search messages",
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "text in any message"}),
    )
    page_size = forms.TypedChoiceField(
        choices=[(n, f"{n} per page") for n in PAGE_SIZES],
        coerce=int,
        required=False,
        empty_value=50,
        initial=50,
        label="Page size",
    )

    def clean(self) -> dict:
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", "The end date is before the start date.")
        return data

    def filter(self, queryset: QuerySet[Conversation]) -> QuerySet[Conversation]:
        """Apply the valid filters (call after is_valid(); invalid fields are ignored)."""
        data = self.cleaned_data if hasattr(self, "cleaned_data") else {}
        if data.get("bot"):
            queryset = queryset.filter(bot=data["bot"])
        if data.get("kind") == "test":
            queryset = queryset.filter(test_flag=True)
        elif data.get("kind") == "live":
            queryset = queryset.filter(test_flag=False)
        tz = timezone.get_current_timezone()
        if data.get("date_from"):
            queryset = queryset.filter(created_at__gte=dt.datetime.combine(data["date_from"], dt.time.min, tzinfo=tz))
        if data.get("date_to"):
            queryset = queryset.filter(
                created_at__lt=dt.datetime.combine(data["date_to"] + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
            )
        if data.get("q"):
            matches = Message.objects.filter(conversation=OuterRef("pk"), content__icontains=data["q"].strip())
            queryset = queryset.filter(Exists(matches))
        return queryset

    def page_size_value(self) -> int:
        data = self.cleaned_data if hasattr(self, "cleaned_data") else {}
        return data.get("page_size") or 50


FIRST_MESSAGE_CHARS = 200


def conversation_list_queryset() -> QuerySet[Conversation]:
    """One query for a page of the list: the bot, message count, first and last message times (the
    duration) and the start of the first user message are annotated, never fetched per row."""
    first_user_message = (
        Message.objects.filter(conversation=OuterRef("pk"), role=Message.Role.USER)
        .order_by("created_at")
        .values("content")[:1]
    )
    return (
        Conversation.objects.select_related("bot")
        .annotate(
            message_count=Count("messages"),
            first_message_at=Min("messages__created_at"),
            last_message_at=Max("messages__created_at"),
            first_user_message=Left(Subquery(first_user_message), FIRST_MESSAGE_CHARS),
        )
        .order_by("-updated_at")
    )
