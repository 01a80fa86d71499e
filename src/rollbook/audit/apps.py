from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "rollbook.audit"
    label = "audit"
    verbose_name = "Audit log"
