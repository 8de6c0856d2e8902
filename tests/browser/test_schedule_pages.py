"""Schedules in a real Chromium: create one from the page (errors next to their fields), see its next run, run it now, follow the links."""

import re
import uuid

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import JOB_TIMEOUT_MS

pytestmark = pytest.mark.timeout(240)


def test_a_schedule_made_on_the_page_shows_its_next_run_runs_now_and_links_both_ways(open_page):
    page = open_page("demo")
    page.get_by_role("link", name="Schedules").click()
    expect(page.get_by_role("heading", name="My schedules")).to_be_visible()
    name = f"hourly {uuid.uuid4().hex[:6]}"
    page.get_by_label("Name").fill(name)
    page.get_by_label("Job type").select_option("echo")
    page.get_by_label("Payload (JSON)").fill('{"from": "page"}')
    page.get_by_label("Every (seconds)").fill("5")  # below the minimum (60 s on this stack)
    page.get_by_label("Timezone (for cron)").fill("Mars/Base")
    page.get_by_role("button", name="Create schedule").click()
    expect(page.locator('[data-error-for="interval_seconds"]')).to_contain_text("60")
    expect(page.locator('[data-error-for="timezone"]')).to_contain_text("Unknown timezone")
    page.get_by_label("Every (seconds)").fill("3600")
    page.get_by_label("Timezone (for cron)").fill("Europe/Paris")
    page.get_by_role("button", name="Create schedule").click()
    expect(page.get_by_role("heading", name=name)).to_be_visible()
    expect(page.locator("#next-run")).to_contain_text(re.compile(r"\(in (60 min|59 min|1 h)\)"))
    page.get_by_role("button", name="Run now").click()
    run = page.locator('#run-table tr[data-outcome="manual"]')
    expect(run).to_have_count(1)
    run.get_by_role("link").click()
    expect(page.locator("#job-status")).to_contain_text("Completed", timeout=JOB_TIMEOUT_MS)
    page.locator("#schedule-link").click()
    expect(page.get_by_role("heading", name=name)).to_be_visible()
    page.get_by_role("button", name="Pause").click()
    expect(page.locator("#next-run")).to_have_text("paused")
    expect(page.get_by_role("button", name="Resume")).to_be_visible()


def test_a_job_due_in_an_hour_is_scheduled_and_can_be_run_now_from_its_page(open_page, demo_api):
    job = demo_api.post("/jobs", json={"name": "later", "type": "echo", "payload": {}, "delay_seconds": 3600}).json()
    assert job["status"] == "SCHEDULED"
    page = open_page("demo")
    page.goto(f"/ui/jobs/{job['id']}")
    expect(page.locator("#job-status")).to_contain_text("Scheduled")
    expect(page.locator('[data-field="Due"]')).not_to_be_empty()
    page.get_by_role("button", name="Run now").click()
    expect(page.locator("#job-status")).to_contain_text("Completed", timeout=JOB_TIMEOUT_MS)
