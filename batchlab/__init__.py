"""BatchLab Django project: settings, URLs, the Celery app and the API error handler."""


def __getattr__(name: str):
    # Lazy, so that importing a submodule (batchlab.settings, batchlab.env) does not
    # build the Celery app; `celery -A batchlab` finds the app through this.
    if name in ("app", "celery_app"):
        from batchlab.celery import app

        return app
    raise AttributeError(name)
