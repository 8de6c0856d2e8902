"""Item jobs in a real Chromium: pasted lines and a file from the form; the job page's bar, chunk strip, failed items and results link."""

import json
import re
import uuid

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import JOB_TIMEOUT_MS

pytestmark = pytest.mark.timeout(240)


def test_pasted_lines_make_an_item_job_whose_page_shows_counts_chunks_and_failed_items(open_page):
    page: Page = open_page("demo")
    name = f"records {uuid.uuid4().hex[:6]}"
    page.get_by_label("Name").fill(name)
    page.get_by_label("Type", exact=True).select_option("transform")
    expect(page.locator("#items-field")).to_be_visible()
    page.get_by_label("Payload (JSON)").fill(json.dumps({"ops": [{"op": "parse_number", "field": "n"}]}))
    lines = [json.dumps({"n": str(i)}) for i in range(150)] + [json.dumps({"n": "not a number"})]
    page.locator("#job-items").fill("\n".join(lines))
    page.get_by_role("button", name="Submit job").click()
    page.get_by_role("status").filter(has_text="Submitted").get_by_role("link", name=name).click()

    expect(page.locator("#job-status .badge")).to_have_text(re.compile("Completed"), timeout=JOB_TIMEOUT_MS)
    expect(page.locator("#items-counts")).to_contain_text("150 succeeded, 1 failed, 0 skipped of 151")
    expect(page.locator("#items-counts")).to_contain_text("chunks 2/2")
    # A finished job has no time left to show; attempts are counted per chunk, not on the job.
    expect(page.locator("#items-counts")).not_to_contain_text("time left")
    expect(page.locator('[data-field="Attempts"]')).to_have_text("per chunk: 1 each (2 chunks)")
    expect(page.get_by_role("heading", name="Failed items")).to_be_visible()
    expect(page.locator("#job-items .progress")).to_have_attribute("aria-valuenow", "151")
    expect(page.locator("#chunk-strip .chunk")).to_have_count(2)
    expect(page.locator('#chunk-strip .chunk[data-status="DONE"]')).to_have_count(2)
    failed = page.locator("#failed-items tr")
    expect(failed).to_have_count(1)
    expect(failed.first).to_have_attribute("data-line", "151")
    expect(failed.first).to_contain_text("not a number")
    expect(page.get_by_role("link", name="Download results")).to_have_attribute("href", re.compile(r"/results$"))
    expect(page.get_by_role("button", name="Retry job")).to_be_visible()  # COMPLETED with failed items


def test_an_ndjson_file_from_the_form_is_one_item_job(open_page, tmp_path):
    page: Page = open_page("demo")
    path = tmp_path / "strings.ndjson"
    path.write_text("".join(json.dumps(f"s{i}") + "\n" for i in range(250)))
    name = f"file {uuid.uuid4().hex[:6]}"
    page.get_by_label("Name").fill(name)
    page.get_by_label("Type", exact=True).select_option("checksum")
    # checksum also runs as a payload job (`{"items": [...]}`); with items its payload holds options: none here.
    assert json.loads(page.get_by_label("Payload (JSON)").input_value()) == {}
    page.locator("#job-items-file").set_input_files(str(path))
    page.get_by_role("button", name="Submit job").click()
    page.get_by_role("status").filter(has_text="Submitted").get_by_role("link", name=name).click()
    expect(page.locator("#job-status .badge")).to_have_text(re.compile("Completed"), timeout=JOB_TIMEOUT_MS)
    expect(page.locator("#items-counts")).to_contain_text("250 succeeded, 0 failed, 0 skipped of 250")
    expect(page.locator("#chunk-strip .chunk")).to_have_count(3)
    expect(page.locator("#failed-items-table")).to_be_hidden()
    expect(page.get_by_role("heading", name="Failed items")).to_be_hidden()  # no heading over nothing
    expect(page.locator('[data-field="Attempts"]')).to_have_text("per chunk: 1 each (3 chunks)")


def test_a_bad_pasted_line_is_named_next_to_the_items_field(open_page):
    page: Page = open_page("demo")
    page.get_by_label("Name").fill("bad lines")
    page.get_by_label("Type", exact=True).select_option("checksum")
    page.locator("#job-items").fill('"a"\n3\n"c"')
    page.get_by_role("button", name="Submit job").click()
    expect(page.locator("#items-error")).to_contain_text("line 2: Must be a string.")
    expect(page.locator("#job-items")).to_have_attribute("aria-invalid", "true")
