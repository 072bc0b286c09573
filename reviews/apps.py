"""Application configuration for reviews."""

from django.apps import AppConfig


class ReviewsConfig(AppConfig):
    name = "reviews"
    verbose_name = "IMR reviews"

    def ready(self):
        from django.db.backends.signals import connection_created

        from . import accounts, audit  # noqa: F401  register models with django-auditlog, connect signal receivers
        from .precedents import set_word_similarity_threshold

        connection_created.connect(set_word_similarity_threshold, dispatch_uid="reviews_word_similarity_threshold")
