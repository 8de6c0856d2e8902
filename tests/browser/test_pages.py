"""The user's page in a real Chromium: log in, submit, watch jobs change live, a job's page, the token page."""

import json
import re
import uuid

import pytest
import requests
from playwright.sync_api import Page, expect

from tests.browser.conftest import JOB_TIMEOUT_MS, OTHER_USER

# A hard ceiling per test (stack start-up included) on top of every bounded wait inside.
pytestmark = pytest.mark.timeout(240)


def unique(name: str) -> str:
    return f"{name} {uuid.uuid4().hex[:6]}"


def job_row(page: Page, name: str):
    return page.locator("#job-rows tr").filter(has=page.get_by_role("link", name=name, exact=True))


def submit(page: Page, *, name: str, type: str, payload: dict | None = None) -> None:
    """Fill and send the submit form as a user would; `payload=None` keeps the pre-filled example."""
    page.get_by_label("Name").fill(name)
    page.get_by_label("Type", exact=True).select_option(type)
    if payload is not None:
        page.get_by_label("Payload (JSON)").fill(json.dumps(payload))
    page.get_by_role("button", name="Submit job").click()


def row_job_id(row) -> str:
    return row.get_attribute("data-job-id")


def ids_polls(requests_seen: list[str]) -> list[list[str]]:
    """The ids of each aggregated poll (`GET /jobs?ids=a,b`) among the requests the page made."""
    out = []
    for url in requests_seen:
        match = re.search(r"/jobs\?ids=([^&]+)", url)
        if match:
            out.append(requests.utils.unquote(match.group(1)).split(","))
    return out


def test_home_sends_anonymous_users_to_login_and_refuses_a_wrong_password(open_page):
    page = open_page()
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/$"))
    expect(page.get_by_role("heading", name="Log in to BatchLab")).to_be_visible()
    page.get_by_label("Username").fill("demo")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("didn’t match")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))


def test_echo_job_goes_to_completed_without_reloading(open_page, demo_api):
    page = open_page("demo")
    expect(page).to_have_url(re.compile(r"/$"))
    # The payload is pre-filled with the registered example of the chosen type.
    example = next(t["example"] for t in demo_api.get("/job-types").json()["results"] if t["name"] == "echo")
    page.get_by_label("Type", exact=True).select_option("echo")
    assert json.loads(page.get_by_label("Payload (JSON)").input_value()) == example
    page.evaluate("window.__sameDocument = true")

    name = unique("greeting")
    submit(page, name=name, type="echo")
    row = job_row(page, name)
    expect(row).to_have_count(1)
    expect(page.get_by_role("status").filter(has_text="Submitted")).to_contain_text(name)
    expect(row.locator(".badge")).to_have_text(re.compile("Completed"), timeout=JOB_TIMEOUT_MS)

    assert page.evaluate("window.__sameDocument") is True, "the page reloaded"
    for label in ("Created", "Started", "Finished"):
        expect(row.locator(f'[data-label="{label}"] time')).to_be_visible()
    expect(row.locator('[data-label="Duration"]')).to_have_text(re.compile(r"^\d+(\.\d)? s$"))
    # The same job, as the API has it.
    job = demo_api.get(f"/jobs/{row_job_id(row)}").json()
    assert job["status"] == "COMPLETED" and job["result"] == example


def test_validation_errors_from_the_api_show_next_to_their_fields(open_page):
    page = open_page("demo")
    expect(page.locator("#job-table")).to_have_attribute("aria-busy", "false")
    rows_before = page.locator("#job-rows tr").count()

    submit(page, name="", type="sleep", payload={"seconds": -1})
    expect(page.locator("#name-error")).to_have_text(re.compile("may not be blank"))
    expect(page.locator("#payload-error")).to_have_text(re.compile(r"seconds: .*greater than or equal to 0"))
    expect(page.get_by_label("Name")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Payload (JSON)")).to_have_attribute("aria-invalid", "true")

    page.get_by_label("Name").fill("not json")
    page.get_by_label("Payload (JSON)").fill("{seconds: 1")
    page.get_by_role("button", name="Submit job").click()
    expect(page.locator("#payload-error")).to_contain_text("Not valid JSON")
    expect(page.locator("#name-error")).to_be_hidden()

    # A payload that is JSON but not an object: the API's own "payload" error.
    page.get_by_label("Payload (JSON)").fill("[1, 2]")
    page.get_by_role("button", name="Submit job").click()
    expect(page.locator("#payload-error")).to_contain_text("Must be a JSON object.")
    assert page.locator("#job-rows tr").count() == rows_before


def test_failing_job_shows_its_error_and_can_be_retried_from_its_page(open_page):
    page = open_page("demo")
    name = unique("doomed")
    submit(page, name=name, type="fail", payload={"message": "the disk is on fire"})
    row = job_row(page, name)
    expect(row.locator(".badge")).to_have_text(re.compile("Failed"), timeout=JOB_TIMEOUT_MS)
    expect(row).to_contain_text("the disk is on fire")

    row.get_by_role("link", name=name).click()
    expect(page).to_have_url(re.compile(r"/ui/jobs/[0-9a-f-]{36}$"))
    expect(page.get_by_role("heading", name=name)).to_be_visible()
    expect(page.locator("#job-error")).to_contain_text("permanent_error")
    expect(page.locator("#job-error")).to_contain_text("the disk is on fire")
    expect(page.locator("#job-payload")).to_contain_text('"message": "the disk is on fire"')
    expect(page.locator('[data-field="Attempts"]')).to_have_text("1 of 3")
    events = page.locator("#job-timeline li")
    expect(events).to_have_count(3)
    expect(events.nth(2)).to_contain_text("failed")
    expect(events.nth(2)).to_contain_text("the disk is on fire")
    expect(page.get_by_role("button", name="Cancel job")).to_be_hidden()

    page.get_by_role("button", name="Retry job").click()
    # The detail page polls until the retried job is final again; the timeline keeps its history.
    expect(page.locator('#job-timeline li[data-event="retried"]')).to_contain_text("Retry requested by demo.")
    expect(page.locator('#job-timeline li[data-event="failed"]')).to_have_count(2, timeout=JOB_TIMEOUT_MS)
    expect(page.locator("#job-status .badge")).to_have_text(re.compile("Failed"))


def test_sleep_progress_moves_with_one_poll_for_all_jobs_on_screen(open_page):
    page = open_page("demo")
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url) if "/jobs" in r.url and r.method == "GET" else None)
    first, second = unique("nap"), unique("nap")
    submit(page, name=first, type="sleep", payload={"seconds": 16})
    submit(page, name=second, type="sleep", payload={"seconds": 1})
    first_row, second_row = job_row(page, first), job_row(page, second)
    expect(second_row).to_have_count(1)
    first_id, second_id = row_job_id(first_row), row_job_id(second_row)

    # While it runs, the progress text goes up (e.g. 5/16, 10/16) without a reload.
    progress = first_row.locator('[data-label="Progress"]')
    expect(progress).to_have_text(re.compile(r"^([1-9]|1[0-5])/16$"), timeout=JOB_TIMEOUT_MS)

    # A hidden tab polls much less often: nothing for 7 s (the visible pace is 5 s) ...
    page.evaluate("""() => {
        Object.defineProperty(document, "visibilityState", {configurable: true, get: () => "hidden"});
        document.dispatchEvent(new Event("visibilitychange"));
    }""")
    page.wait_for_timeout(300)  # a poll already on its way when the tab hid still lands
    polls_when_hidden = len(ids_polls(seen))
    page.wait_for_timeout(7000)
    assert len(ids_polls(seen)) == polls_when_hidden, "polled while the tab was hidden"
    # ... and back in view it refreshes at once.
    page.evaluate("""() => {
        Object.defineProperty(document, "visibilityState", {configurable: true, get: () => "visible"});
        document.dispatchEvent(new Event("visibilitychange"));
    }""")
    page.wait_for_timeout(1500)
    assert len(ids_polls(seen)) == polls_when_hidden + 1

    expect(first_row.locator(".badge")).to_have_text(re.compile("Completed"), timeout=JOB_TIMEOUT_MS)
    expect(progress).to_have_text("16/16")
    expect(second_row.locator(".badge")).to_have_text(re.compile("Completed"), timeout=JOB_TIMEOUT_MS)

    polls = ids_polls(seen)
    # One request per poll for every non-final job on screen, never one per job.
    assert any({first_id, second_id} <= set(ids) for ids in polls), polls
    assert not [u for u in seen if re.search(r"/jobs/[0-9a-f-]{36}", u)], "the list polled jobs one by one"

    # Nothing on screen can change any more: polling stops.
    expect(page.locator("#job-rows .badge").filter(has_text=re.compile("Queued|Processing"))).to_have_count(0, timeout=JOB_TIMEOUT_MS)
    page.wait_for_timeout(500)
    settled = len(ids_polls(seen))
    page.wait_for_timeout(6500)
    assert len(ids_polls(seen)) == settled, "kept polling after every job on screen was final"
    expect(page.locator("#live-state")).to_have_text("")


def test_cancel_from_the_job_page_stops_a_running_job(open_page):
    page = open_page("demo")
    name = unique("long nap")
    submit(page, name=name, type="sleep", payload={"seconds": 60})
    # A person waits for the row to show the job running, then clicks it (the polls update it in place).
    row = job_row(page, name)
    expect(row.locator(".badge")).to_have_text(re.compile("Processing"), timeout=JOB_TIMEOUT_MS)
    row.get_by_role("link", name=name).click()
    expect(page.locator("#job-status .badge")).to_have_text(re.compile("Queued|Processing"))
    expect(page.get_by_role("button", name="Retry job")).to_be_hidden()
    page.get_by_role("button", name="Cancel job").click()
    expect(page.locator("#job-status .badge")).to_have_text(re.compile("Canceled"), timeout=JOB_TIMEOUT_MS)
    expect(page.locator('#job-timeline li[data-event="canceled"]')).to_be_visible()
    expect(page.get_by_role("button", name="Cancel job")).to_be_hidden()
    expect(page.get_by_role("button", name="Retry job")).to_be_visible()


def test_job_list_looks_right_on_a_laptop_and_a_phone(open_page, demo_api, artifacts):
    running = demo_api.submit("sleep", {"seconds": 8}, name=unique("screenshot nap"))
    page = open_page("demo", width=1280, height=800)
    expect(page.locator("#job-rows tr").first).to_be_visible()
    expect(job_row(page, running["name"]).locator(".badge")).to_have_text(re.compile("Processing|Queued"))
    # Status is text (and an icon), not only a colour.
    for badge in page.locator("#job-rows .badge").all():
        assert re.search(r"\b(Queued|Processing|Completed|Failed|Canceled)\b", badge.inner_text())
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    page.screenshot(path=str(artifacts / "jobs-1280.png"), full_page=True)

    page.set_viewport_size({"width": 390, "height": 844})
    # My jobs and My workflows: on a phone each table is a list of cards, its header out of sight.
    heads = page.locator(".jobtable thead")
    expect(heads).to_have_count(2)
    for head in heads.all():
        expect(head).not_to_be_in_viewport()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "the page scrolls sideways on a phone"
    first = page.locator("#job-rows tr").first.bounding_box()
    assert first["width"] <= 390
    page.screenshot(path=str(artifacts / "jobs-390.png"), full_page=True)

    page.goto(f"/ui/jobs/{running['id']}")
    expect(page.locator("#job-timeline li").first).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_filters_and_pages_of_my_jobs(open_page, demo_api):
    marker = uuid.uuid4().hex[:6]
    for i in range(3):
        demo_api.submit("wordcount", {"text": f"a b {i}"}, name=f"wc {marker} {i}")
    failed = demo_api.submit("fail", {}, name=f"fail {marker}")
    demo_api.wait(failed["id"])
    page = open_page("demo")

    page.get_by_label("Filter by status").select_option("FAILED")
    expect(page).to_have_url(re.compile(r"\?status=FAILED$"))
    expect(page.locator("#job-table")).to_have_attribute("aria-busy", "false")
    expect(page.locator("#job-rows .badge").filter(has_not_text="Failed")).to_have_count(0)
    expect(job_row(page, f"fail {marker}")).to_have_count(1)

    page.get_by_label("Filter by status").select_option("")
    page.get_by_label("Filter by type").select_option("wordcount")
    expect(page).to_have_url(re.compile(r"\?type=wordcount$"))
    expect(page.locator("#job-table")).to_have_attribute("aria-busy", "false")
    expect(page.locator("#job-rows .tag").filter(has_not_text="wordcount")).to_have_count(0)
    expect(job_row(page, f"wc {marker} 2")).to_have_count(1)
    expect(job_row(page, f"fail {marker}")).to_have_count(0)

    # Pages of 20, newest first: "Older" goes to the next page and "Newer" comes back.
    for i in range(20):
        demo_api.submit("echo", {"i": i}, name=f"bulk {marker} {i:02d}")
    page.goto("/?type=echo")
    expect(page.locator("#job-rows tr")).to_have_count(20)
    expect(page.locator("#job-rows tr").first).to_contain_text(f"bulk {marker} 19")
    page.get_by_role("button", name="Older →").click()
    expect(page.locator("#page-label")).to_have_text("Page 2")
    expect(job_row(page, f"bulk {marker} 19")).to_have_count(0)
    page.get_by_role("button", name="← Newer").click()
    expect(page.locator("#job-rows tr").first).to_contain_text(f"bulk {marker} 19")


def test_another_users_jobs_are_not_visible(open_page, demo_api, eve_api):
    secret = demo_api.submit("echo", {"secret": 1}, name=unique("demo's own"))
    page = open_page(OTHER_USER)
    expect(page.locator("#job-table")).to_have_attribute("aria-busy", "false")
    expect(page.get_by_text(secret["name"])).to_have_count(0)

    page.goto(f"/ui/jobs/{secret['id']}")
    expect(page.get_by_role("heading", name="Job not found")).to_be_visible()
    # What the page's own requests get for that job: 404 and nothing in a poll.
    answers = page.evaluate("""async (id) => {
        const one = await fetch(`/jobs/${id}`, {headers: {Accept: "application/json"}});
        const many = await fetch(`/jobs?ids=${id}`, {headers: {Accept: "application/json"}});
        return [one.status, (await many.json()).results.length];
    }""", secret["id"])
    assert answers == [404, 0]
    mine = eve_api.submit("echo", {}, name=unique("eve's own"))
    page.goto("/")
    expect(job_row(page, mine["name"])).to_have_count(1)
    expect(page.get_by_text(secret["name"])).to_have_count(0)


def test_token_page_shows_a_token_that_works_for_scripts(open_page, stack):
    page = open_page(OTHER_USER)
    page.get_by_role("link", name="API token").click()
    token = page.get_by_label("Token").input_value()
    assert re.fullmatch(r"[0-9a-f]{40}", token)
    page.reload()
    assert page.get_by_label("Token").input_value() == token  # created once, then shown again

    authorized = requests.get(f"{stack.web_url}/jobs", headers={"Authorization": f"Token {token}"}, timeout=30)
    assert authorized.status_code == 200
    assert all(j["owner"] == OTHER_USER for j in authorized.json()["results"])
    anonymous = requests.get(f"{stack.web_url}/jobs", timeout=30)
    assert anonymous.status_code == 401
    assert anonymous.headers["Content-Type"].startswith("application/problem+json")
    assert anonymous.json()["code"] == "not_authenticated"

    page.get_by_role("button", name="Replace with a new token").click()
    expect(page.get_by_text("A new token was created")).to_be_visible()
    assert page.get_by_label("Token").input_value() != token
    assert requests.get(f"{stack.web_url}/jobs", headers={"Authorization": f"Token {token}"}, timeout=30).status_code == 401


def test_session_posts_need_the_csrf_token_the_browsable_api_works_and_logout_ends_the_session(open_page):
    page = open_page("demo")
    statuses = page.evaluate("""async () => {
        const body = JSON.stringify({name: "csrf", type: "echo", payload: {}});
        const headers = {"Content-Type": "application/json", Accept: "application/json"};
        const without = await fetch("/jobs", {method: "POST", headers, body});
        const token = document.cookie.match(/csrftoken=([^;]+)/)[1];
        const withToken = await fetch("/jobs", {method: "POST", headers: {...headers, "X-CSRFToken": token}, body});
        return [without.status, withToken.status];
    }""")
    assert statuses == [403, 201]

    # The API's browsable pages still work in a browser with the same session.
    page.get_by_role("link", name="API", exact=True).click()
    expect(page).to_have_url(re.compile(r"/jobs$"))
    expect(page.locator(".response-info")).to_contain_text('"results"')
    page.go_back()

    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/$"))
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/$"))
