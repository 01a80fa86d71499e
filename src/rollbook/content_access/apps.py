from django.apps import AppConfig


class ContentAccessConfig(AppConfig):
    name = "rollbook.content_access"
    label = "content_access"
    verbose_name = "Content access"

    def ready(self) -> None:
        from django.conf import settings

        from rollbook.lib.middleware import BODY_LIMIT_SUFFIXES

        # Course structures of 10,000 blocks and more are normal.
        BODY_LIMIT_SUFFIXES["/structure"] = int(settings.CONTENT["STRUCTURE_MAX_BYTES"])
