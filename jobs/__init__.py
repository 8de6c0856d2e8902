"""The jobs domain app: states, store, services, selectors, handlers, tasks and the API."""
