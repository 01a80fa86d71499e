from django.apps import AppConfig


class PeopleConfig(AppConfig):
    name = "rollbook.people"
    label = "people"
    verbose_name = "People"
