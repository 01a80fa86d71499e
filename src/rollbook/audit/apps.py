from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "rollbook.audit"
    label = "audit"
    verbose_name = "Audit log"

    def ready(self) -> None:
        # The lowest app with a ready(): database connection set-up for every app above.
        from django.db.backends.signals import connection_created

        from rollbook.lib.sqlite import use_real_variable_limit

        connection_created.connect(use_real_variable_limit, dispatch_uid="rollbook-sqlite-limit")
