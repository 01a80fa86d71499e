"""Roles in the admin: grants and revocations go through roles.api, so they are validated
(known role, scope, active user) and audited like every other change."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from rollbook.audit.data import Actor
from rollbook.lib.errors import RollbookError
from rollbook.roles import api
from rollbook.roles.data import ALL_ROLES
from rollbook.roles.models import RoleGrant


def _actor(request: HttpRequest) -> Actor:
    return Actor(request.user.pk, request.user.get_username(), "admin")


class RoleGrantForm(forms.ModelForm):
    role = forms.ChoiceField(choices=[(role, role) for role in sorted(ALL_ROLES)])

    class Meta:
        model = RoleGrant
        fields = ("user", "role", "course_key", "org")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        user = data.get("user")
        if user is not None and data.get("role"):
            try:
                api.validate_grant(
                    user.username,
                    data["role"],
                    course_key=data.get("course_key") or None,
                    org=data.get("org") or None,
                )
            except RollbookError as exc:
                raise forms.ValidationError(exc.message, code=exc.code) from exc
        return data


@admin.register(RoleGrant)
class RoleGrantAdmin(admin.ModelAdmin):
    form = RoleGrantForm
    list_display = ("user", "role", "course_key", "org", "created")
    list_filter = ("role",)
    search_fields = ("user__username", "=course_key", "=org")
    raw_id_fields = ("user",)
    actions = ("revoke_selected",)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a grant is added or revoked, never edited

    def save_model(self, request: HttpRequest, obj: RoleGrant, form: Any, change: bool) -> None:
        try:
            api.grant_role(
                obj.user.username,
                obj.role,
                actor=_actor(request),
                course_key=obj.course_key or None,
                org=obj.org or None,
            )
        except RollbookError as exc:
            self.message_user(request, f"{exc.code}: {exc.message}", messages.ERROR)

    def delete_model(self, request: HttpRequest, obj: RoleGrant) -> None:
        api.revoke_role(
            obj.user.username,
            obj.role,
            actor=_actor(request),
            course_key=obj.course_key or None,
            org=obj.org or None,
        )

    @admin.action(description="Revoke the selected grants")
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet[RoleGrant]) -> None:
        for grant in queryset.select_related("user"):
            self.delete_model(request, grant)
        self.message_user(request, "Revoked.", messages.SUCCESS)

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions
