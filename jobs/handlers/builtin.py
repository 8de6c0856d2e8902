"""Imports the built-in job types so that they register."""

from jobs.handlers import checksum, echo, fail, flaky, sleep, wordcount  # noqa: F401
