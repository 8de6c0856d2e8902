"""Fixtures for tests in a real headless Chromium against the real stack.

One stack for all browser tests (moto servers, one `celery -A batchlab
worker`, gunicorn, on free ports), started like tests/e2e's `make_stack`, and
Debian's Chromium driven by Playwright's sync API (no pytest-playwright: the
browser is launched here, from /usr/bin/chromium).
"""

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from devstack.launcher import ROOT, EmbeddedStack, free_port
from tests.e2e.conftest import TEST_ENV, Api, dump_logs

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
]
ARTIFACTS = ROOT / "test-artifacts"
# Every wait in these tests is bounded: Playwright's default, and the longest a job may take here.
ACTION_TIMEOUT_MS = 15_000
JOB_TIMEOUT_MS = 60_000
# The second, ordinary user of these tests (demo/demo and admin/admin come with the embedded stack).
OTHER_USER = "eve"

os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
expect.set_options(timeout=ACTION_TIMEOUT_MS)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


# Package scope: the stack and the browser stop when the last browser test is done,
# so they do not keep running (and loading the machine) while other test packages run.
@pytest.fixture(scope="package")
def stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("browser-stack")
    extra = dict(TEST_ENV)
    extra.update(BATCHLAB_SQLITE_PATH=str(tmp / "db.sqlite3"), BATCHLAB_RUN_LOG=str(tmp / "runs.log"))
    # The workers page shows what a worker runs as of its last heartbeat: beat every second here.
    extra.update(BATCHLAB_WORKER_HEARTBEAT_SECONDS="1")
    stack = EmbeddedStack(
        web_port=free_port(), sqs_port=free_port(), dynamodb_port=free_port(),
        workers=1, recovery=False, web=True, log_dir=tmp / "log", extra_env=extra, quiet=True,
    )
    stack.start()
    try:
        stack.manage("shell", "-c", (
            "from django.contrib.auth.models import User; "
            f"User.objects.create_user({OTHER_USER!r}, password={OTHER_USER!r})"
        ))
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="package")
def browser():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def open_page(browser: Browser, stack: EmbeddedStack, request):
    """`open_page(user=None, width=1280)`: a fresh browser context (own cookies), logged in as `user`.

    Uncaught JavaScript errors on any page fail the test; a failed test leaves a
    screenshot of each of its pages in test-artifacts/failures/ and prints the stack's logs.
    """
    pages, errors = [], []

    def open_(user: str | None = None, *, width: int = 1280, height: int = 900, staff_login: bool = False) -> Page:
        context = browser.new_context(base_url=stack.web_url, viewport={"width": width, "height": height})
        context.set_default_timeout(ACTION_TIMEOUT_MS)
        page = context.new_page()
        pages.append(page)
        page.on("pageerror", lambda exc: errors.append(f"{page.url}: {exc}"))
        if user:
            login(page, user, staff_login=staff_login)
        return page

    yield open_
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        (ARTIFACTS / "failures").mkdir(parents=True, exist_ok=True)
        for index, page in enumerate(pages):
            page.screenshot(path=str(ARTIFACTS / "failures" / f"{request.node.name}-{index}.png"), full_page=True)
        print(dump_logs(stack))
    for page in pages:
        page.context.close()
    assert not errors, f"JavaScript errors: {errors}"


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def login(page: Page, user: str, *, staff_login: bool = False) -> None:
    """Log in through a login form, as a person would (the password is the user name in these tests)."""
    page.goto("/admin/login/" if staff_login else "/accounts/login/")
    page.get_by_label("Username").fill(user)
    page.get_by_label("Password").fill(user)
    if staff_login:
        page.locator("#login-form input[type=submit]").click()
    else:
        page.get_by_role("button", name="Log in").click()
    expect(page).not_to_have_url(re.compile(r"/login/"))


@pytest.fixture(scope="package")
def demo_api(stack) -> Api:
    return Api(stack.web_url, "demo")


@pytest.fixture(scope="package")
def eve_api(stack) -> Api:
    return Api(stack.web_url, OTHER_USER)
