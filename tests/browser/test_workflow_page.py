"""A workflow's page in a real Chromium: the diamond drawn (nodes, edges, links), its nodes changing colour as steps end;
my workflows on the home page; the staff list."""

import re
import uuid

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import JOB_TIMEOUT_MS

pytestmark = pytest.mark.timeout(240)


def _diamond(demo_api, seconds: float) -> dict:
    name = f"diamond {uuid.uuid4().hex[:6]}"
    response = demo_api.post("/workflows", json={"name": name, "steps": {
        "a": {"type": "countrun", "payload": {"seconds": seconds}},
        "b": {"type": "countrun", "payload": {"seconds": 0.2}, "needs": ["a"]},
        "c": {"type": "countrun", "payload": {"seconds": 0.2}, "needs": ["a"]},
        "d": {"type": "collect", "needs": ["b", "c"]}}})
    assert response.status_code == 201, response.text
    return response.json()


def node(page: Page, step: str):
    return page.locator(f'#dag .dag-node[data-step="{step}"]')


def test_the_diamond_is_drawn_and_its_nodes_change_colour_as_steps_finish(open_page, demo_api):
    wf = _diamond(demo_api, seconds=4)
    page: Page = open_page("demo")
    page.goto(f"/ui/workflows/{wf['id']}")
    expect(page.locator("#dag .dag-node")).to_have_count(4)
    expect(page.locator("#dag .dag-edge")).to_have_count(4)
    expect(page.locator('#dag .dag-edge[data-from="a"][data-to="b"]')).to_have_count(1)
    # While a runs, d waits (drawn as waiting); then, without a reload, every node turns completed.
    expect(node(page, "d")).to_have_attribute("data-status", "WAITING")
    expect(node(page, "d")).to_have_class(re.compile(r"dag-node--waiting"))
    expect(node(page, "a")).to_have_attribute("data-status", re.compile("QUEUED|PROCESSING"))
    for step in "abcd":
        expect(node(page, step)).to_have_attribute("data-status", "COMPLETED", timeout=JOB_TIMEOUT_MS)
        expect(node(page, step)).to_have_class(re.compile(r"dag-node--completed"))
    expect(page.locator("#workflow-status .badge")).to_have_text(re.compile("Completed"))
    expect(page.locator('#dag .dag-edge.dag-edge--done')).to_have_count(4)
    expect(page.locator("#live-state")).to_have_text("")  # nothing left to change: polling stopped
    # A node links to its step's job page, which names the workflow and the step's parents.
    d_job = next(s["job_id"] for s in wf["steps"] if s["name"] == "d")
    page.locator(f'#dag a[href="/ui/jobs/{d_job}"]').click()
    expect(page).to_have_url(re.compile(f"/ui/jobs/{d_job}$"))
    expect(page.locator('[data-field="Needs"]')).to_have_text("b, c")
    expect(page.locator("#workflow-link")).to_have_attribute("href", f"/ui/workflows/{wf['id']}")


def test_my_workflows_on_the_home_page_and_a_submission_from_it(open_page, demo_api, eve_api):
    wf = _diamond(demo_api, seconds=0)
    page: Page = open_page("demo")
    page.goto("/")
    row = page.locator(f'#workflow-rows tr[data-workflow-id="{wf["id"]}"]')
    expect(row).to_be_visible()
    expect(row).to_have_attribute("data-status", "COMPLETED", timeout=JOB_TIMEOUT_MS)
    page.locator(".wfsubmit summary").click()
    page.locator("#workflow-json").fill('{"name": "loop", "steps": {"x": {"type": "echo", "needs": ["y"]},'
                                        ' "y": {"type": "echo", "needs": ["x"]}}}')
    page.get_by_role("button", name="Submit workflow").click()
    expect(page.locator("#workflow-form-errors")).to_contain_text("x → y → x")
    other = open_page("eve")
    other.goto(f"/ui/workflows/{wf['id']}")
    expect(other.locator("h1")).to_have_text("Workflow not found")


def test_staff_see_every_workflow(open_page, demo_api):
    wf = _diamond(demo_api, seconds=0)
    page: Page = open_page("admin", staff_login=True)
    page.goto("/admin/batchlab/workflows/")
    expect(page.locator(f'tr[data-workflow-id="{wf["id"]}"]')).to_contain_text("demo")
    page.locator(f'tr[data-workflow-id="{wf["id"]}"] a').click()
    expect(page.locator("#dag .dag-node")).to_have_count(4)
