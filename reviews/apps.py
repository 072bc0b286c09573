"""Application configuration for reviews."""

from django.apps import AppConfig


class ReviewsConfig(AppConfig):
    name = "reviews"
    verbose_name = "IMR reviews"

    def ready(self):
        from . import audit  # noqa: F401  registers models with django-auditlog
