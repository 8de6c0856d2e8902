"""The HTTP API (DRF): thin views, one module per resource (jobs, item jobs, schedules, workers); they validate with serializers and call services and selectors."""
