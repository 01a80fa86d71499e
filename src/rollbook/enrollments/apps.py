from django.apps import AppConfig


class EnrollmentsConfig(AppConfig):
    name = "rollbook.enrollments"
    label = "enrollments"
    verbose_name = "Enrollments"

    def ready(self) -> None:
        from rollbook.enrollments import jobs

        jobs.register()
