from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest

from rollbook.audit.data import Actor
from rollbook.people import api
from rollbook.people.models import ApiToken, Profile, User


class ProfileInline(admin.StackedInline):
    model = Profile
    can_delete = False
    fields = ("idnumber", "sis_sourcedid", "allow_certificate")


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    inlines = (ProfileInline,)
    list_display = ("username", "email", "name", "is_active", "is_staff", "date_joined")
    readonly_fields = ("modified",)  # set by people.api on every change that others see
    search_fields = ("username", "email", "name", "profile__idnumber", "profile__sis_sourcedid")
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Person", {"fields": ("name", "email")}),
        ("Access", {"fields": ("is_active", "is_staff", "is_superuser")}),
        ("Dates", {"fields": ("last_login", "date_joined", "modified")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("username", "email", "password1", "password2")}),
    )

    # Admin edits are audited like API changes (Django's LogEntry has no before/after): the
    # snapshot before the user row is saved, the record after the profile inline is saved.
    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        request._rollbook_before = api.audit_snapshot(obj.pk) if change else None  # type: ignore[attr-defined]
        super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        before = getattr(request, "_rollbook_before", None)
        api.record_admin_change(form.instance.pk, before=before, actor=_actor(request))

    # Deletes and password changes are audited too: they bypass save_model.
    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        api.delete_user(obj.pk, actor=_actor(request))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        actor = _actor(request)
        for user_id in queryset.order_by("pk").values_list("pk", flat=True):
            api.delete_user(user_id, actor=actor)

    def user_change_password(self, request: HttpRequest, id: str, form_url: str = "") -> Any:
        with transaction.atomic():
            hashes = User.objects.filter(pk=id).values_list("password", flat=True)
            before = hashes.first()
            response = super().user_change_password(request, id, form_url)
            if before is not None and hashes.first() != before:
                api.record_password_change(int(id), actor=_actor(request))
        return response


def _actor(request: HttpRequest) -> Actor:
    return Actor(request.user.pk, request.user.get_username(), "admin")


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("prefix", "user", "name", "created", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("user__username", "prefix", "name")
    readonly_fields = ("user", "prefix", "name", "created", "last_used_at", "revoked_at")
    exclude = ("digest",)
    actions = ("revoke",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Tokens are shown once, at creation: create them with `rollbook token create`.
        return False

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        actor = _actor(request)
        for token in queryset.filter(revoked_at__isnull=True):
            api.revoke_token(token.id, actor=actor)
        self.message_user(request, "Revoked.", messages.SUCCESS)

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions
