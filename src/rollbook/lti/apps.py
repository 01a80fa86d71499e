from django.apps import AppConfig


class LtiConfig(AppConfig):
    name = "rollbook.lti"
    label = "lti"
    verbose_name = "LTI Advantage"
