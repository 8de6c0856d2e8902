"""Django app config for the frontend."""

from django.apps import AppConfig


class FrontendConfig(AppConfig):
    name = "frontend"
