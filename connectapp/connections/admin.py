from django.contrib import admin

from . import crypto
from .models import SECRET_FIELDS, ConnectionEvent, LinkedAccount


class ConnectionEventInline(admin.TabularInline):
    model = ConnectionEvent
    fields = ("created_at", "kind", "outcome", "actor", "detail")
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("-created_at", "-pk")

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(LinkedAccount)
class LinkedAccountAdmin(admin.ModelAdmin):
    list_display = (
        "__str__",
        "user",
        "provider",
        "external_id",
        "status",
        "expires_at",
        "last_refreshed_at",
        "last_verified_at",
    )
    list_filter = ("provider", "status")
    list_select_related = ("user",)
    search_fields = ("user__username", "user__email", "username", "external_id")
    date_hierarchy = "created_at"
    exclude = SECRET_FIELDS
    readonly_fields = (
        "user",
        "provider",
        "external_id",
        "scopes",
        "credentials",
        "expires_at",
        "refresh_expires_at",
        "last_refreshed_at",
        "last_verified_at",
        "last_error",
        "last_error_at",
        "created_at",
        "updated_at",
    )
    inlines = [ConnectionEventInline]

    def get_queryset(self, request):
        return super().get_queryset(request).defer(*SECRET_FIELDS)

    @admin.display(description="Credentials")
    def credentials(self, obj: LinkedAccount) -> str:
        """Whether each secret is present, with a keyed fingerprint; never the secret."""
        stored = LinkedAccount.objects.filter(pk=obj.pk).values(*SECRET_FIELDS).first() or {}
        parts = []
        for name in SECRET_FIELDS:
            value = stored.get(name)
            label = name.replace("_", " ")
            parts.append(
                f"{label}: present ({crypto.fingerprint(value)})" if value else f"{label}: absent"
            )
        return "; ".join(parts)


@admin.register(ConnectionEvent)
class ConnectionEventAdmin(admin.ModelAdmin):
    list_display = ("created_at", "account", "kind", "outcome", "actor")
    list_filter = ("kind", "outcome")
    list_select_related = ("account",)
    search_fields = ("account__username", "account__external_id", "actor", "detail")
    date_hierarchy = "created_at"
    readonly_fields = ("account", "kind", "outcome", "detail", "actor", "created_at")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
