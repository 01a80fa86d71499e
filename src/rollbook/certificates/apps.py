from django.apps import AppConfig


class CertificatesConfig(AppConfig):
    name = "rollbook.certificates"
    label = "certificates"
    verbose_name = "Certificates"

    def ready(self) -> None:
        from rollbook.certificates import jobs

        jobs.register()
