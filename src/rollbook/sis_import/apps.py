from typing import Any

from django.apps import AppConfig


class SisImportConfig(AppConfig):
    name = "rollbook.sis_import"
    label = "sis_import"
    verbose_name = "SIS import (IMS Enterprise)"

    def ready(self) -> None:
        from django.conf import settings

        from rollbook.lib.middleware import BODY_LIMITS
        from rollbook.sis_import import jobs

        jobs.register()
        from rollbook.jobs import api as jobs_api
        from rollbook.sis_import import inbox

        jobs_api.register_task(inbox.PROCESS_TASK, inbox.process_inbox_task)
        BODY_LIMITS["/api/v1/sis/lmb"] = int(settings.LMB["MAX_BYTES"])
        # Uploads of whole term extracts: up to the SIS file limit, not the JSON body limit.
        limits: dict[str, Any] = settings.SIS
        BODY_LIMITS["/api/v1/sis/imports"] = int(limits["MAX_FILE_BYTES"])
