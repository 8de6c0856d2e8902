"""The staff inspection pages (in the look of the Django admin) in a real Chromium."""

import base64
import json
import re
import uuid

import boto3
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import JOB_TIMEOUT_MS

# A hard ceiling per test (stack start-up included) on top of every bounded wait inside.
pytestmark = pytest.mark.timeout(240)


def unique(name: str) -> str:
    return f"{name} {uuid.uuid4().hex[:6]}"


def result_row(page: Page, job_id: str):
    return page.locator(f'#result_list tr[data-job-id="{job_id}"]')


def messages(page: Page) -> list[str]:
    return page.locator("ul.messagelist li").all_inner_texts()


def test_only_staff_reach_the_staff_pages(open_page):
    anonymous = open_page()
    anonymous.goto("/admin/batchlab/jobs/")
    expect(anonymous).to_have_url(re.compile(r"/admin/login/\?next=/admin/batchlab/jobs/$"))

    user = open_page("demo")
    for path in ("/admin/batchlab/jobs/", "/admin/batchlab/dead-letters/"):
        user.goto(path)
        expect(user).to_have_url(re.compile(r"/admin/login/\?next="))
        expect(user.get_by_text("You are authenticated as demo, but are not authorized")).to_be_visible()
    expect(user.locator("#result_list")).to_have_count(0)


def test_admin_index_has_a_batchlab_jobs_module(open_page):
    page = open_page("admin", staff_login=True)
    page.goto("/admin/")
    module = page.locator("#batchlab-module")
    expect(module.get_by_role("link", name="BatchLab jobs")).to_be_visible()
    module.get_by_role("link", name="Jobs", exact=True).click()
    expect(page).to_have_url(re.compile(r"/admin/batchlab/jobs/$"))
    expect(page.get_by_role("heading", name="Jobs", exact=True)).to_be_visible()
    expect(page.locator(".breadcrumbs")).to_contain_text("Home › BatchLab › Jobs")


def test_staff_list_filters_searches_and_opens_a_jobs_detail(open_page, demo_api, artifacts):
    failed = demo_api.submit("fail", {"message": "cannot open file"}, name=unique("staff sees failure"))
    done = demo_api.submit("echo", {"x": 1}, name=unique("staff sees success"))
    demo_api.wait(failed["id"])
    demo_api.wait(done["id"])
    page = open_page("admin", staff_login=True)
    page.goto("/admin/batchlab/jobs/")
    expect(result_row(page, failed["id"])).to_be_visible()
    expect(result_row(page, done["id"])).to_be_visible()
    expect(page.locator("#status-counts")).to_contain_text("in all")
    page.screenshot(path=str(artifacts / "staff-jobs-1280.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "the staff list scrolls sideways on a phone"
    page.screenshot(path=str(artifacts / "staff-jobs-390.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})

    # Filter by status, as in an admin changelist: the sidebar link carries the count.
    status_filter = page.locator('#changelist-filter details[data-filter-title="status"]')
    failed_link = status_filter.get_by_role("link", name=re.compile(r"^Failed \(\d+\)$"))
    count = int(re.search(r"\((\d+)\)", failed_link.inner_text()).group(1))
    failed_link.click()
    expect(page).to_have_url(re.compile(r"\?status=FAILED$"))
    expect(status_filter.locator("li.selected")).to_have_text(re.compile(r"^Failed"))
    expect(result_row(page, failed["id"])).to_be_visible()
    expect(result_row(page, done["id"])).to_have_count(0)
    statuses = page.locator("#result_list .field-status .bl-badge").all_inner_texts()
    assert statuses and all(s.strip().endswith("Failed") for s in statuses)
    assert len(statuses) == count  # fewer than a page: the count is the number of rows

    # Owner filter and search by name and by id.
    page.goto("/admin/batchlab/jobs/")
    page.locator('#changelist-filter details[data-filter-title="owner"]').get_by_role("link", name="demo", exact=True).click()
    expect(page).to_have_url(re.compile(r"\?owner=demo$"))
    expect(page.locator("#result_list .field-owner").first).to_be_visible()
    owners = page.locator("#result_list .field-owner").all_inner_texts()
    assert owners and set(owners) == {"demo"}
    page.locator("#searchbar").fill(done["name"].split()[-1])
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    expect(result_row(page, done["id"])).to_be_visible()
    page.locator("#searchbar").fill(failed["id"])
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#result_list tbody tr")).to_have_count(1)

    # The detail page: every field, owner, version, lease owner, timeline and the raw item.
    result_row(page, failed["id"]).get_by_role("link", name=failed["name"]).click()
    expect(page).to_have_url(re.compile(rf"/admin/batchlab/jobs/{failed['id']}/$"))
    expect(page.get_by_role("heading", name=f"Job “{failed['name']}”")).to_be_visible()
    expect(page.locator("#field-owner")).to_have_text("demo")
    expect(page.locator("#field-status")).to_contain_text("Failed")
    expect(page.locator("#field-error")).to_have_text("cannot open file")
    expect(page.locator("#field-lease-owner")).not_to_have_text("—")
    job = demo_api.get(f"/jobs/{failed['id']}").json()
    expect(page.locator("#field-version")).to_have_text(str(job["version"]))
    expect(page.locator('#timeline tr[data-event="failed"]')).to_contain_text("cannot open file")
    raw = json.loads(page.locator("#raw-item").inner_text())
    assert raw["JobId"] == failed["id"] and raw["Owner"] == "demo" and raw["Status"] == "FAILED"
    assert json.loads(page.locator("#payload-json").inner_text()) == {"message": "cannot open file"}


def test_staff_actions_report_successes_and_domain_errors_as_messages(open_page, demo_api):
    failed = demo_api.submit("fail", {}, name=unique("to retry"))
    done = demo_api.submit("echo", {}, name=unique("already done"))
    demo_api.wait(failed["id"])
    demo_api.wait(done["id"])
    page = open_page("admin", staff_login=True)
    page.goto("/admin/batchlab/jobs/")

    # Go with nothing selected: the admin's warning, nothing changes.
    page.get_by_label("Action:").select_option("retry")
    page.get_by_role("button", name="Go").click()
    expect(page.locator("ul.messagelist")).to_contain_text("Items must be selected")

    result_row(page, failed["id"]).get_by_role("checkbox").check()
    result_row(page, done["id"]).get_by_role("checkbox").check()
    expect(page.locator("#action-counter")).to_have_text(re.compile(r"^2 of \d+ selected$"))
    page.get_by_label("Action:").select_option("retry")
    page.get_by_role("button", name="Go").click()
    expect(page.locator("ul.messagelist li.success")).to_contain_text(f"Retried 1 job: {failed['id']}")
    expect(page.locator("ul.messagelist li.error")).to_contain_text(f"Job {done['id']} is COMPLETED; only FAILED or CANCELED jobs can be retried.")
    expect(page).to_have_url(re.compile(r"/admin/batchlab/jobs/$"))

    again = demo_api.get(f"/jobs/{failed['id']}").json()
    assert [e for e in again["timeline"] if e["event"] == "retried"][0]["message"] == "Retry requested by admin."


def test_staff_requeue_and_cancel_from_the_detail_page_and_the_list(open_page, demo_api):
    # One worker: while `blocker` runs, `waiting` stays QUEUED.
    blocker = demo_api.submit("sleep", {"seconds": 30}, name=unique("blocker"))
    demo_api.wait(blocker["id"], statuses=("PROCESSING",))
    waiting = demo_api.submit("echo", {}, name=unique("waiting"))
    page = open_page("admin", staff_login=True)

    page.goto(f"/admin/batchlab/jobs/{waiting['id']}/")
    expect(page.locator("#field-status")).to_contain_text("Queued")
    expect(page.get_by_role("button", name="Retry this job")).to_have_count(0)
    page.get_by_role("button", name=re.compile("^Requeue this job")).click()
    expect(page.locator("ul.messagelist li.success")).to_contain_text(f"Requeued 1 job: {waiting['id']}")
    expect(page.locator('#timeline tr[data-event="republished"]')).to_contain_text("Requeued by admin.")

    page.goto("/admin/batchlab/jobs/?status=PROCESSING")
    result_row(page, blocker["id"]).get_by_role("checkbox").check()
    page.get_by_label("Action:").select_option("cancel")
    page.get_by_role("button", name="Go").click()
    expect(page.locator("ul.messagelist li.success")).to_contain_text(blocker["id"])
    assert demo_api.wait(blocker["id"], timeout=JOB_TIMEOUT_MS / 1000)["status"] == "CANCELED"
    # The requeued job ran once the worker was free.
    assert demo_api.wait(waiting["id"], timeout=JOB_TIMEOUT_MS / 1000)["status"] == "COMPLETED"


def _dead_letter_body(job_id: str) -> str:
    """A Celery `jobs.process_job` message as kombu's SQS transport encodes it."""
    inner = base64.b64encode(json.dumps([[job_id], {}, {}]).encode()).decode()
    envelope = {
        "body": inner, "content-encoding": "utf-8", "content-type": "application/json",
        "headers": {"task": "jobs.process_job", "id": job_id, "lang": "py"},
        "properties": {"body_encoding": "base64", "delivery_tag": str(uuid.uuid4())},
    }
    return base64.b64encode(json.dumps(envelope).encode()).decode()


def test_dead_letter_queue_page_lists_letters_and_redrives_them(open_page, demo_api, stack):
    failed = demo_api.submit("fail", {}, name=unique("dead lettered"))
    demo_api.wait(failed["id"])
    # A poison message, as the redrive policy would have moved it after repeated worker deaths.
    sqs = boto3.client("sqs", endpoint_url=stack.sqs_endpoint, region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    dlq_url = sqs.get_queue_url(QueueName="batchlab-jobs-dlq")["QueueUrl"]
    sqs.send_message(QueueUrl=dlq_url, MessageBody=_dead_letter_body(failed["id"]))

    page = open_page("admin", staff_login=True)
    page.goto("/admin/")
    page.locator("#batchlab-module").get_by_role("link", name="Dead-letter queue").click()
    expect(page.get_by_role("heading", name="Dead-letter queue")).to_be_visible()
    letters = page.locator("#dead-letters tbody tr[data-message-id]")
    expect(letters).to_have_count(1)
    expect(letters.first.get_by_role("link", name=failed["id"])).to_be_visible()

    page.get_by_role("button", name="Redrive all to the jobs queue").click()
    expect(page.locator("ul.messagelist li.success")).to_contain_text("Redrove 1 message to the jobs queue")
    expect(page.locator("#dead-letters")).to_contain_text("The dead-letter queue is empty.")
    job = demo_api.wait(failed["id"], timeout=JOB_TIMEOUT_MS / 1000)
    events = [e["event"] for e in job["timeline"]]
    assert "redriven" in events and events[-1] == "failed"  # back on the queue, and ran (and failed) again
