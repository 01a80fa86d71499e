from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

from rollbook.audit import api as audit
from rollbook.audit.data import Actor
from rollbook.lib.errors import RollbookError
from rollbook.webhooks import api
from rollbook.webhooks.models import DeadLetter, PendingDelivery, Subscription


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    """Read-only here (the secret is never shown): subscriptions are managed through the API,
    which validates URLs, generates secrets and audits every change."""

    list_display = (
        "url",
        "uuid",
        "active",
        "lag",
        "failing",
        "dead_letters",
        "last_success_at",
        "last_failure_at",
        "short_error",
    )
    list_filter = ("active",)
    search_fields = ("=uuid", "url", "description")
    exclude = ("secret",)
    readonly_fields = [f.name for f in Subscription._meta.fields if f.name != "secret"]
    actions = ("replay", "retry_dead_letters")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return request.method in ("GET", "HEAD")  # the change form shows, never saves

    def get_queryset(self, request: HttpRequest) -> QuerySet[Subscription]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                _failing=Count(
                    "pending_deliveries",
                    filter=Q(pending_deliveries__attempts__gt=0),
                    distinct=True,
                ),
                _dead=Count("dead_letters", distinct=True),
            )
        )

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None):  # type: ignore[no-untyped-def]
        self._last_seq = audit.last_seq()
        return super().changelist_view(request, extra_context)

    def _actor(self, request: HttpRequest) -> Actor:
        return Actor(request.user.pk, request.user.get_username(), "admin")

    @admin.action(description="Replay the selected subscriptions from a seq…")
    def replay(
        self, request: HttpRequest, queryset: QuerySet[Subscription]
    ) -> TemplateResponse | None:
        if "apply" not in request.POST:
            return TemplateResponse(
                request,
                "admin/webhooks/replay.html",
                {
                    **self.admin_site.each_context(request),
                    "title": "Replay from a seq",
                    "subscriptions": list(queryset),
                    "from_seq": min((s.delivered_seq for s in queryset), default=0) + 1,
                },
            )
        try:
            from_seq = int(request.POST.get("from_seq", ""))
        except ValueError:
            self.message_user(request, "from_seq must be a number.", messages.ERROR)
            return None
        for subscription in queryset:
            try:
                api.replay(subscription.uuid, from_seq=from_seq, actor=self._actor(request))
            except RollbookError as exc:
                self.message_user(request, f"{subscription.url}: {exc.message}", messages.ERROR)
            else:
                self.message_user(request, f"{subscription.url}: replaying from #{from_seq}.")
        return None

    @admin.action(description="Retry every dead letter of the selected subscriptions")
    def retry_dead_letters(self, request: HttpRequest, queryset: QuerySet[Subscription]) -> None:
        for subscription in queryset:
            seqs = DeadLetter.objects.filter(subscription=subscription).values_list(
                "seq", flat=True
            )
            for seq in list(seqs):
                api.retry_dead_letter(subscription.uuid, seq, actor=self._actor(request))
            self.message_user(request, f"{subscription.url}: {len(seqs)} dead letter(s) retried.")

    @admin.display(description="lag")
    def lag(self, obj: Subscription) -> int:
        return max(0, getattr(self, "_last_seq", audit.last_seq()) - obj.delivered_seq)

    @admin.display(description="failing", ordering="_failing")
    def failing(self, obj: Subscription) -> int:
        return int(getattr(obj, "_failing", 0))

    @admin.display(description="dead letters", ordering="_dead")
    def dead_letters(self, obj: Subscription) -> int:
        return int(getattr(obj, "_dead", 0))

    @admin.display(description="last error")
    def short_error(self, obj: Subscription) -> str:
        return obj.last_error[:80]


@admin.register(PendingDelivery)
class PendingDeliveryAdmin(_ReadOnly):
    list_display = (
        "subscription",
        "seq",
        "subject",
        "event_type",
        "attempts",
        "next_attempt_at",
        "last_status",
    )
    list_filter = ("subscription",)
    search_fields = ("subject",)


@admin.register(DeadLetter)
class DeadLetterAdmin(_ReadOnly):
    list_display = (
        "subscription",
        "seq",
        "subject",
        "event_type",
        "attempts",
        "last_status",
        "created",
    )
    list_filter = ("subscription",)
    search_fields = ("subject",)
