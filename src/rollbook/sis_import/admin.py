"""The SIS feed in the admin: the LMB inbox (with the feed's status and a retry action),
identity collisions (resolved through the same API as REST), memberships waiting, held drops
and cross-lists. Staged rows are the feed's; the admin reads them and acts only through
sis_import.api, so every resolution is validated and audited."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from rollbook.audit.data import Actor
from rollbook.lib.admin import ReadOnlyAdmin
from rollbook.lib.errors import RollbookError
from rollbook.lib.pagination import PageRequest
from rollbook.sis_import import api
from rollbook.sis_import.data import Resolution
from rollbook.sis_import.models import (
    Collision,
    CrossList,
    InboxMessage,
    InboxState,
    RowState,
    TermDropHold,
    WaitingMembership,
)


def _actor(request: HttpRequest) -> Actor:
    return Actor(request.user.pk, request.user.get_username(), "admin")


@admin.register(InboxMessage)
class InboxMessageAdmin(ReadOnlyAdmin):
    list_display = ("message_id", "state", "received_at", "applied_at", "attempts", "short_error")
    list_filter = ("state",)
    search_fields = ("=message_id",)
    readonly_fields = ("message_id", "state", "received_at", "applied_at", "attempts", "error")
    fields = (*readonly_fields, "entities", "xml")
    actions = ("retry",)
    ordering = ("-id",)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_active and request.user.is_staff)

    @admin.display(description="error")
    def short_error(self, obj: InboxMessage) -> str:
        return obj.error[:120]

    @admin.display(description="message (passwords blanked)")
    def xml(self, obj: InboxMessage) -> str:
        return bytes(obj.body).decode("utf-8", errors="replace")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return (*self.readonly_fields, "entities", "xml")

    @admin.action(description="Retry the selected failed messages")
    def retry(self, request: HttpRequest, queryset: QuerySet[InboxMessage]) -> None:
        ids = list(queryset.filter(state=InboxState.FAILED).values_list("message_id", flat=True))
        count = api.retry_failed_messages(ids) if ids else 0
        self.message_user(request, f"{count} failed message(s) put back in line.")

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        status = api.feed_status()
        last = (
            status.last_message_at.isoformat(timespec="seconds")
            if status.last_message_at
            else "never"
        )
        holds = api.list_drop_holds(page=PageRequest()).count
        summary = (
            f"Feed status: last message {last}; {status.messages_last_hour} in the last hour; "
            f"inbox depth {status.inbox_depth} (lag {status.apply_lag_seconds:.0f} s); "
            f"{status.failed} failed; {status.pending} memberships pending; "
            f"{status.collisions} collisions; drop holds {holds}."
        )
        if status.stale:
            self.message_user(request, f"STALE: {status.reason}. {summary}", messages.WARNING)
        else:
            self.message_user(request, summary, messages.INFO)
        return super().changelist_view(request, extra_context)


class ResolveForm(forms.ModelForm):
    action = forms.ChoiceField(
        choices=[(item.value, item.value.replace("_", " ")) for item in Resolution]
    )
    username = forms.CharField(
        required=False,
        help_text="create with username: the new account's username (required); link "
        "existing: another account to link than the one collided with.",
    )

    class Meta:
        model = Collision
        fields: tuple[str, ...] = ()


@admin.register(Collision)
class CollisionAdmin(admin.ModelAdmin):
    """Each held person with both sides; open one to resolve it."""

    form = ResolveForm
    list_display = (
        "sourcedid",
        "collision_kind",
        "collision_user",
        "collision_person",
        "changed_at",
    )
    search_fields = ("=sourcedid", "collision_user__username")
    readonly_fields = (
        "sourcedid",
        "collision_kind",
        "collision_user",
        "collision_person",
        "reason",
        "data",
    )
    fields = (*readonly_fields, "action", "username")
    actions = ("ignore", "link_existing")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Collision]:
        return (
            super()
            .get_queryset(request)
            .filter(state=RowState.HELD)
            .select_related("collision_user")
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Collision, form: Any, change: bool) -> None:
        self._resolve(request, [obj], form.cleaned_data["action"], form.cleaned_data["username"])

    def _resolve(self, request: HttpRequest, rows: Any, action: str, username: str = "") -> None:
        for row in rows:
            try:
                api.resolve_collision(row.id, action, actor=_actor(request), username=username)
            except RollbookError as exc:
                self.message_user(request, f"{row.sourcedid}: {exc.message}", messages.ERROR)
            else:
                self.message_user(request, f"{row.sourcedid}: {action.replace('_', ' ')} done.")

    @admin.action(description="Ignore the selected SIS persons")
    def ignore(self, request: HttpRequest, queryset: QuerySet[Collision]) -> None:
        self._resolve(request, list(queryset), Resolution.IGNORE.value)

    @admin.action(description="Link each to the account it collides with")
    def link_existing(self, request: HttpRequest, queryset: QuerySet[Collision]) -> None:
        self._resolve(request, list(queryset), Resolution.LINK_EXISTING.value)

    def response_change(self, request: HttpRequest, obj: Collision) -> HttpResponse:
        # The row leaves the collisions once resolved: back to the list, with the messages.
        from django.shortcuts import redirect

        return redirect("admin:sis_import_collision_changelist")


@admin.register(WaitingMembership)
class WaitingMembershipAdmin(ReadOnlyAdmin):
    list_display = ("group_sourcedid", "person_sourcedid", "roletype", "reason", "changed_at")
    search_fields = ("=group_sourcedid", "=person_sourcedid")
    ordering = ("changed_at", "id")

    def get_queryset(self, request: HttpRequest) -> QuerySet[WaitingMembership]:
        return super().get_queryset(request).filter(state=RowState.PENDING)


@admin.register(TermDropHold)
class TermDropHoldAdmin(ReadOnlyAdmin):
    list_display = ("term", "held_at", "reason", "window_start")
    actions = ("approve", "discard")

    def _release(
        self, request: HttpRequest, queryset: QuerySet[TermDropHold], approve: bool
    ) -> None:
        for hold in queryset.filter(held_at__isnull=False):
            try:
                if approve:
                    count = api.approve_drops(hold.term, actor=_actor(request))
                else:
                    count = api.discard_drops(hold.term, actor=_actor(request))
            except RollbookError as exc:
                self.message_user(request, f"{hold.term}: {exc.message}", messages.ERROR)
            else:
                verb = "applied" if approve else "discarded"
                self.message_user(request, f"{hold.term}: {count} held drop(s) {verb}.")

    @admin.action(description="Approve: apply the held drops")
    def approve(self, request: HttpRequest, queryset: QuerySet[TermDropHold]) -> None:
        self._release(request, queryset, approve=True)

    @admin.action(description="Discard: keep the enrollments")
    def discard(self, request: HttpRequest, queryset: QuerySet[TermDropHold]) -> None:
        self._release(request, queryset, approve=False)


@admin.register(CrossList)
class CrossListAdmin(ReadOnlyAdmin):
    list_display = ("sourcedid", "course_key", "term", "mode", "applied_title", "created")
    search_fields = ("=sourcedid", "=course_key")
