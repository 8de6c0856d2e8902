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


def test_an_item_schedule_typed_in_the_items_box_shows_its_items_and_its_run_now_completes(open_page, artifacts):
    page = open_page("demo")
    page.goto("/ui/schedules")
    box = page.locator("#s-items-box")
    expect(box).to_be_hidden()  # echo takes a payload
    page.get_by_label("Job type").select_option("checksum")
    expect(box).to_be_visible()
    expect(page.locator("#s-items")).not_to_be_empty()  # the type's example items
    expect(page.locator("#s-payload-hint")).to_contain_text("options of every item")
    name = f"checksums {uuid.uuid4().hex[:6]}"
    page.get_by_label("Name").fill(name)
    page.get_by_label("Payload (JSON)").fill("{}")
    page.locator("#s-items").fill("\n".join(f'"record {i}"' for i in range(5)))
    page.get_by_label("Chunk size").fill("2")
    page.get_by_label("Every (seconds)").fill("3600")
    page.locator("#schedule-form").screenshot(path=str(artifacts / "schedule-form-items.png"))
    page.get_by_role("button", name="Create schedule").click()
    expect(page.get_by_role("heading", name=name)).to_be_visible()
    expect(page.locator("#items-summary")).to_have_text("5 items · chunks of 2")
    expect(page.locator("#s-items-current")).to_contain_text("5 items · chunks of 2")
    expect(page.locator("#s-items")).to_be_empty()  # an edit keeps the items unless new ones are typed
    page.screenshot(path=str(artifacts / "schedule-page-items.png"), full_page=True)
    page.get_by_role("button", name="Run now").click()
    run = page.locator('#run-table tr[data-outcome="manual"]')
    expect(run).to_have_count(1)
    run.get_by_role("link").click()
    expect(page.locator("#job-status")).to_contain_text("Completed", timeout=JOB_TIMEOUT_MS)
    expect(page.locator("#items-counts")).to_contain_text("5 succeeded, 0 failed, 0 skipped of 5")
    expect(page.locator("#chunk-strip .chunk")).to_have_count(3)
    page.goto("/ui/schedules")
    expect(page.locator("#schedule-table tr", has_text=name)).to_contain_text("5 items · chunks of 2")


def test_an_item_job_submitted_in_30_minutes_is_scheduled_shows_when_and_runs_now(open_page, artifacts):
    page = open_page("demo")
    name = f"later {uuid.uuid4().hex[:6]}"
    page.get_by_label("Name").fill(name)
    page.get_by_label("Type", exact=True).select_option("checksum")
    expect(page.locator("#job-items")).not_to_be_empty()  # the example items
    page.locator("#job-delay-minutes").fill("30")
    page.locator("#submit-form").screenshot(path=str(artifacts / "home-run-later.png"))
    page.get_by_role("button", name="Submit job").click()
    submitted = page.get_by_role("status").filter(has_text="Submitted")
    expect(submitted).to_contain_text("due")
    row = page.locator("#job-rows tr", has_text=name)
    expect(row.locator(".badge")).to_have_text(re.compile("Scheduled"))
    expect(row.locator(".jobcell__due time")).to_have_attribute("datetime", re.compile(r"^\d{4}-\d\d-\d\dT"))
    submitted.get_by_role("link", name=name).click()
    expect(page.locator("#job-status")).to_contain_text("Scheduled")
    expect(page.locator('[data-field="Due"] time')).to_have_attribute("datetime", re.compile(r"^\d{4}-\d\d-\d\dT"))
    expect(page.get_by_role("button", name="Cancel job")).to_be_visible()
    page.get_by_role("button", name="Run now").click()
    expect(page.locator("#job-status")).to_contain_text("Completed", timeout=JOB_TIMEOUT_MS)
    expect(page.get_by_role("button", name="Run now")).to_be_hidden()


def test_run_later_with_both_minutes_and_a_time_is_refused_on_the_page(open_page):
    page = open_page("demo")
    page.get_by_label("Name").fill("both")
    page.locator("#job-delay-minutes").fill("5")
    page.locator("#job-run-at").fill("2030-01-01T09:00")
    page.get_by_role("button", name="Submit job").click()
    expect(page.locator("#delay_seconds-error")).to_contain_text("not both")


def test_a_workflow_schedule_shows_its_workflow_and_its_run_now_opens_the_workflow(open_page, demo_api):
    name = f"nightly {uuid.uuid4().hex[:6]}"
    made = demo_api.post("/schedules", json={"name": name, "interval_seconds": 3600, "workflow": {
        "name": "two steps", "steps": {"a": {"type": "echo"}, "b": {"type": "collect", "needs": ["a"]}}}})
    assert made.status_code == 201, made.text
    page = open_page("demo")
    page.goto(f"/ui/schedules/{made.json()['id']}")
    expect(page.locator("#schedule-workflow")).to_contain_text("two steps")
    expect(page.locator("#schedule-workflow")).to_contain_text("2 steps")
    expect(page.locator("#workflow-edit-hint")).to_be_visible()
    expect(page.locator("#schedule-form")).to_have_count(0)
    page.get_by_role("button", name="Run now").click()
    run = page.locator('#run-table tr[data-outcome="manual"]')
    expect(run).to_have_count(1)
    run.get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"/ui/workflows/[0-9a-f-]{36}$"))
    expect(page.locator("#workflow-name")).to_have_text("two steps")
