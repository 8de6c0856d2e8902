"""A job's writes: submission (single and bulk), the worker's transitions, the job runner, user and staff actions."""
