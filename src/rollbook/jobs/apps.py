from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "rollbook.jobs"
    label = "jobs"
    verbose_name = "Jobs"
