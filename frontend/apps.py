"""Django app config for the frontend."""

from django.apps import AppConfig


class FrontendConfig(AppConfig):
    name = "frontend"

    def ready(self):
        from django.contrib import admin

        # The admin index gains a "BatchLab jobs" module linking to the staff pages (frontend/staff.py).
        admin.site.index_template = "frontend/admin/index.html"
        admin.site.site_header = "BatchLab administration"
        admin.site.site_title = "BatchLab admin"
        admin.site.index_title = "Site administration"
