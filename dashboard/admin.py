"""Django admin for operators. Every change made here is audited like the same change in the app."""

from django.contrib import admin

from dashboard.common import audit
from dashboard.models import ApiToken, AuditEvent, Membership, Project, TaskRun, Team


def _scope(obj) -> dict:
    """The team and project an audit event about `obj` belongs to."""
    if isinstance(obj, Team):
        return {"team": obj}
    if isinstance(obj, Project):
        return {"project": obj} if obj.pk else {"team": obj.team}
    project = getattr(obj, "project", None)
    return {"project": project} if project is not None else {"team": getattr(obj, "team", None)}


class AuditedAdmin(admin.ModelAdmin):
    """Writes admin.<model>.create/update/delete events (field names only, never values)."""

    def _record(self, request, obj, verb: str, **detail) -> None:
        name = obj._meta.model_name
        audit.record(request.user, f"admin.{name}.{verb}", obj=obj, **_scope(obj), **detail)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        self._record(request, obj, "update" if change else "create", fields=sorted(form.changed_data))

    def delete_model(self, request, obj):
        self._record(request, obj, "delete", **_deleted_scope(obj))
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self._record(request, obj, "delete", **_deleted_scope(obj))
        super().delete_queryset(request, queryset)

    def save_formset(self, request, form, formset, change):
        super().save_formset(request, form, formset, change)
        for obj in formset.new_objects:
            self._record(request, obj, "create", **_membership_detail(obj))
        for obj, fields in formset.changed_objects:
            self._record(request, obj, "update", fields=sorted(fields), **_membership_detail(obj))
        for obj in formset.deleted_objects:
            self._record(request, obj, "delete", **_membership_detail(obj))


def _deleted_scope(obj) -> dict:
    return {"name": str(obj)[:200]}


def _membership_detail(obj) -> dict:
    if isinstance(obj, Membership):
        return {"username": obj.user.get_username(), "role": obj.role}
    return {}


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0


@admin.register(Team)
class TeamAdmin(AuditedAdmin):
    list_display = ("name", "slug", "created_at")
    prepopulated_fields = {"slug": ("name",)}
    inlines = [MembershipInline]


@admin.register(Project)
class ProjectAdmin(AuditedAdmin):
    """Credentials are excluded: the admin never renders them back."""

    list_display = ("name", "slug", "team", "status", "checked_at")
    list_filter = ("team", "status")
    exclude = ("pooled_url", "direct_url", "neon_api_key")
    readonly_fields = (
        "masked_pooled_url",
        "masked_direct_url",
        "status",
        "status_message",
        "checked_at",
        "check_result",
    )


@admin.register(TaskRun)
class TaskRunAdmin(AuditedAdmin):
    list_display = ("kind", "project", "status", "created_at", "finished_at")
    list_filter = ("kind", "status")
    readonly_fields = [f.name for f in TaskRun._meta.fields]


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("created_at", "actor_label", "action", "project", "object_repr", "outcome")
    list_filter = ("action", "outcome", "team")
    search_fields = ("actor_label", "action", "object_repr")
    readonly_fields = [f.name for f in AuditEvent._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are created with manage.py create_api_token; here they can only be listed and revoked."""

    list_display = ("name", "prefix", "team", "created_by", "created_at", "last_used_at", "revoked")
    list_filter = ("team", "revoked")
    readonly_fields = [f.name for f in ApiToken._meta.fields if f.name != "token_hash"]
    exclude = ("token_hash",)
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.action(description="Revoke selected tokens (they stop working at once)")
    def revoke(self, request, queryset):
        for token in queryset.filter(revoked=False).select_related("team"):
            ApiToken.objects.filter(pk=token.pk).update(revoked=True)
            audit.record(request.user, "api_token.revoke", team=token.team, obj=token, via="admin")
