from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "rollbook.catalog"
    label = "catalog"
    verbose_name = "Catalog"
