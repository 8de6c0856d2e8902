"""Schedules and delayed jobs: edits by users and staff, the scheduler that fires them, their items and their log."""
