from django.contrib import admin

from dashboard.models import AuditEvent, Membership, Project, TaskRun, Team


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "created_at")
    prepopulated_fields = {"slug": ("name",)}
    inlines = [MembershipInline]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
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
class TaskRunAdmin(admin.ModelAdmin):
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
