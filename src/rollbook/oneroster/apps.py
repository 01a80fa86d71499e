from django.apps import AppConfig


class OneRosterConfig(AppConfig):
    name = "rollbook.oneroster"
    label = "oneroster"
    verbose_name = "OneRoster"
