"""BatchLab Django project: settings, URLs, the Celery app and the API error handler."""


def __getattr__(name: str):
    # Lazy, so that `python -m batchlab.embedded` can start before any settings
    # exist; `celery -A batchlab` finds the app through this.
    if name in ("app", "celery_app"):
        from batchlab.celery import app

        return app
    raise AttributeError(name)
