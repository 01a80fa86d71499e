from django.apps import AppConfig


class CertificatesConfig(AppConfig):
    name = "rollbook.certificates"
    label = "certificates"
    verbose_name = "Certificates"

    def ready(self) -> None:
        from django.conf import settings

        from rollbook.certificates import jobs
        from rollbook.certificates.rest import VERIFY_CREDENTIAL_PATH
        from rollbook.lib.middleware import BODY_LIMITS

        jobs.register()
        # A credential to check is small: refuse a big body before it is read.
        BODY_LIMITS[VERIFY_CREDENTIAL_PATH] = int(settings.CERTIFICATES["CREDENTIAL_MAX_BYTES"])
