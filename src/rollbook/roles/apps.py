from django.apps import AppConfig


class RolesConfig(AppConfig):
    name = "rollbook.roles"
    label = "roles"
    verbose_name = "Course access roles"
