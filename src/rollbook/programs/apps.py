from django.apps import AppConfig


class ProgramsConfig(AppConfig):
    name = "rollbook.programs"
    label = "programs"
    verbose_name = "Programs"

    def ready(self) -> None:
        from rollbook.programs import jobs

        jobs.register()
