"""Live pages update in place: what a person holds (a link under the pointer, focus, a text selection) survives the polls."""

import re
import uuid

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import JOB_TIMEOUT_MS, login
from tests.browser.test_pages import job_row, submit

pytestmark = pytest.mark.timeout(240)

# JavaScript run on the page: select a node's whole text, as a person dragging over it would.
SELECT = """node => {
    const range = document.createRange();
    range.selectNodeContents(node);
    getSelection().removeAllRanges();
    getSelection().addRange(range);
}"""


def wait_for_polls(locator, times: int) -> None:
    """Wait until `locator`'s text has changed `times` times: each change is a poll that brought a new version."""
    for _ in range(times):
        before = locator.inner_text()
        expect(locator).not_to_have_text(before, timeout=JOB_TIMEOUT_MS)


def attached(page: Page, handle) -> bool:
    return page.evaluate("node => node.isConnected", handle)


def test_a_rows_link_focus_and_selection_survive_the_polls_of_a_running_job(open_page, demo_api):
    page = open_page("demo")
    name = f"held {uuid.uuid4().hex[:6]}"
    submit(page, name=name, type="sleep", payload={"seconds": 40})
    row = job_row(page, name)
    progress = row.locator('[data-label="Progress"]')
    expect(progress).to_have_text(re.compile(r"^\d+/40$"), timeout=JOB_TIMEOUT_MS)
    job_id = row.get_attribute("data-job-id")
    try:
        link = row.get_by_role("link", name=name).element_handle()
        link.focus()
        page.evaluate(SELECT, link)
        wait_for_polls(progress, 2)
        assert attached(page, link), "the row's link was replaced by a poll"
        assert page.evaluate("node => document.activeElement === node", link), "focus was lost"
        assert page.evaluate("() => getSelection().toString()") == name, "the text selection was lost"

        # The same on the job's page: the handles taken before the polls are the ones on screen after them.
        link.click()
        expect(page).to_have_url(re.compile(rf"/ui/jobs/{job_id}$"))
        field = page.locator('[data-field="Progress"]')
        expect(field).to_have_text(re.compile(r"^\d+/40$"), timeout=JOB_TIMEOUT_MS)
        held = {
            "badge": page.locator("#job-status .badge").element_handle(),
            "progress field": field.element_handle(),
            "progress bar": page.locator("#job-progress .progress__bar").element_handle(),
            "first timeline entry": page.locator("#job-timeline li").first.element_handle(),
        }
        page.evaluate(SELECT, held["first timeline entry"])
        selected = page.evaluate("() => getSelection().toString()")
        wait_for_polls(field, 2)
        assert [what for what, handle in held.items() if not attached(page, handle)] == []
        assert page.evaluate("() => getSelection().toString()") == selected
        page.get_by_role("button", name="Cancel job").click()
        expect(page.locator("#job-status .badge")).to_have_text(re.compile("Canceled"), timeout=JOB_TIMEOUT_MS)
        # The badge held all along is the one that now says so.
        assert page.evaluate("node => node.isConnected && node.textContent", held["badge"]).startswith("⊘Canceled")
    finally:
        demo_api.post(f"/jobs/{job_id}/cancel")


def test_a_list_answer_that_arrives_after_a_submission_keeps_the_submitted_row(open_page):
    page = open_page()
    held = []
    # The list's answer is read from the server at once, and handed to the page only later.
    page.route(re.compile(r"/jobs\?owner="), lambda route: held.append((route, route.fetch())))
    login(page, "demo")
    expect(page.locator("#job-table")).to_have_attribute("aria-busy", "true")
    name = f"early {uuid.uuid4().hex[:6]}"
    submit(page, name=name, type="echo")
    expect(job_row(page, name)).to_have_count(1)
    assert len(held) == 1
    route, answer = held[0]
    route.fulfill(response=answer)  # the list read before the submission arrives now, without the new job
    expect(page.locator("#job-table")).to_have_attribute("aria-busy", "false")
    expect(job_row(page, name)).to_have_count(1)
    expect(job_row(page, name).locator(".badge")).to_have_text(re.compile("Completed"), timeout=JOB_TIMEOUT_MS)


def test_an_item_jobs_chunks_and_failed_items_stay_in_place_through_a_retry(open_page, demo_api):
    items = [{"n": str(i)} for i in range(150)] + [{"n": "not a number"}]
    job = demo_api.post("/jobs", json={"name": f"retried {uuid.uuid4().hex[:6]}", "type": "transform",
                                       "payload": {"ops": [{"op": "parse_number", "field": "n"}]}, "items": items}).json()
    demo_api.wait(job["id"])
    page = open_page("demo")
    page.goto(f"/ui/jobs/{job['id']}")
    expect(page.locator("#failed-items tr")).to_have_count(1)
    held = {
        "first chunk": page.locator("#chunk-strip .chunk").first.element_handle(),
        "failed item": page.locator("#failed-items tr").first.element_handle(),
        "items bar": page.locator("#items-progress .progress").element_handle(),
        "counts": page.locator("#items-counts").element_handle(),
    }
    page.get_by_role("button", name="Retry job").click()
    expect(page.locator('#job-timeline li[data-event="retried"]')).to_have_count(1, timeout=JOB_TIMEOUT_MS)
    expect(page.locator("#job-status .badge")).to_have_text(re.compile("Completed"), timeout=JOB_TIMEOUT_MS)
    expect(page.locator("#items-counts")).to_contain_text("150 succeeded, 1 failed")
    assert [what for what, handle in held.items() if not attached(page, handle)] == []
    assert page.evaluate("node => node.dataset.line", held["failed item"]) == "151"
