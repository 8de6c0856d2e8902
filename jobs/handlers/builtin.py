"""Imports the built-in job types so that they register."""

from jobs.handlers import checksum, collect, echo, fail, flaky, sleep, transform, wordcount  # noqa: F401
