"""Operations pages in a real Chromium: the staff workers page, and Swagger UI / ReDoc served without any CDN."""

import re

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.timeout(240)


def local_only(page: Page, base: str) -> list[str]:
    """Every URL the page fetched (a response came back); the test asserts they all stay on this server."""
    requested: list[str] = []
    page.on("response", lambda response: requested.append(response.url))
    return requested


def test_workers_page_lists_the_live_worker_and_links_the_job_it_runs(open_page, demo_api, stack):
    page = open_page("admin", staff_login=True)
    page.goto("/admin/")
    page.locator("#batchlab-module").get_by_role("link", name="Workers").click()
    expect(page).to_have_url(re.compile(r"/admin/batchlab/workers/$"))
    expect(page.locator(".breadcrumbs")).to_contain_text("Home › BatchLab › Workers")
    pid = stack.processes["worker1"].pid
    row = page.locator(f'#workers tr[data-worker-id$=":{pid}"]')
    expect(row).to_have_attribute("data-alive", "true")
    expect(row.get_by_role("rowheader")).to_contain_text("worker1@")
    # The worker's own delivery worker (webhooks) records itself too, once its child process is up.
    deliveries = page.locator('#workers tr[data-alive="true"]').filter(has_text="deliveries-worker1@")
    for _ in range(40):  # bounded: the page is rendered once; reload until the child has beaten
        if deliveries.count():
            break
        page.wait_for_timeout(250)
        page.reload()
    expect(deliveries).to_have_count(1)
    expect(page.locator('#worker-counts [data-state="alive"]')).to_contain_text("2 alive")

    job = demo_api.submit("sleep", {"seconds": 6}, name="seen on the workers page")
    link = row.get_by_role("link", name=job["id"])
    for _ in range(40):  # bounded: the heartbeat (1 s here) carries the running job to the page
        page.reload()
        if link.count():
            break
        page.wait_for_timeout(250)
    expect(link).to_be_visible()
    link.click()
    expect(page).to_have_url(re.compile(rf"/admin/batchlab/jobs/{job['id']}/$"))
    expect(page.get_by_text("seen on the workers page").first).to_be_visible()
    demo_api.wait(job["id"])


def test_workers_page_is_for_staff_only(open_page):
    page = open_page("demo")
    page.goto("/admin/batchlab/workers/")
    expect(page).to_have_url(re.compile(r"/admin/login/\?next=/admin/batchlab/workers/"))


def test_swagger_ui_shows_the_api_with_examples_and_loads_nothing_from_elsewhere(open_page, stack):
    page = open_page()
    requested = local_only(page, stack.web_url)
    page.goto("/api/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("BatchLab API")
    submit = page.locator("#operations-jobs-jobs_submit")
    expect(submit).to_be_visible()
    submit.locator(".opblock-summary").click()
    expect(submit.locator(".opblock-body")).to_contain_text("sleep for 3 seconds")
    expect(submit.locator(".responses-wrapper")).to_contain_text("application/problem+json")
    expect(page.locator("#operations-workers-workers_list")).to_be_visible()
    assert requested and all(url.startswith(stack.web_url) for url in requested), [u for u in requested if not u.startswith(stack.web_url)]


def test_redoc_renders_from_local_files(open_page, stack):
    page = open_page()
    requested = local_only(page, stack.web_url)
    page.goto("/api/redoc/")
    expect(page.get_by_role("heading", name=re.compile("BatchLab API")).first).to_be_visible()
    fetched = [u for u in requested if not u.startswith("blob:")]
    assert fetched and all(u.startswith(stack.web_url) for u in fetched), [u for u in fetched if not u.startswith(stack.web_url)]


def test_a_job_page_shows_when_it_expires_and_an_expired_job_is_gone(open_page, demo_api, stack):
    import boto3

    job = demo_api.wait(demo_api.submit("echo", {"x": 1}, name="short-lived")["id"])
    page = open_page("demo")
    page.goto(f"/ui/jobs/{job['id']}")
    expect(page.locator('#job-fields dd[data-field="Expires"]')).to_contain_text(job["expires_at"][:4])  # a date, not a dash
    # Past its ExpiresAt (DynamoDB's TTL sweeper has not deleted it): gone for the page and the API at once.
    ddb = boto3.client("dynamodb", endpoint_url=stack.dynamodb_endpoint, region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    ddb.update_item(TableName="batchlab-jobs", Key={"JobId": {"S": job["id"]}, "SK": {"S": "JOB"}},
                    UpdateExpression="SET ExpiresAt = :past", ExpressionAttributeValues={":past": {"N": "1000"}})
    page.reload()
    expect(page.get_by_role("heading", name="Job not found")).to_be_visible()
    assert demo_api.get(f"/jobs/{job['id']}").status_code == 404
    assert job["id"] not in [j["id"] for j in demo_api.get("/jobs", params={"limit": 100}).json()["results"]]
