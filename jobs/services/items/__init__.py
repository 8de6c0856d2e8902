"""Item jobs: submission (inline and files), chunk writes, the chunk runner, per-item keys, retry of failed items."""
