"""The web inbox in a real browser: headless Chromium (Debian's ``chromium`` and
``chromium-driver``) driven by Selenium. Mail is sent with the standard library's smtplib.
Screenshots are saved under ``test-artifacts/web/`` (git-ignored)."""

from __future__ import annotations

import http.server
import shutil
import smtplib
import threading
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import ClassVar

import pytest

import mailprims as mp

webdriver = pytest.importorskip("selenium.webdriver", reason="pip install selenium")
from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "web"

pytestmark = pytest.mark.skipif(
    not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()),
    reason="needs Debian's chromium and chromium-driver (make peers)",
)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--window-size=1400,900",
        "--disable-dev-shm-usage",
        "--no-first-run",
    ):
        options.add_argument(arg)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    options.add_experimental_option(
        "prefs",
        {"download.default_directory": str(downloads), "download.prompt_for_download": False},
    )
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(CHROMEDRIVER))
    driver.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
    )
    driver.downloads = downloads  # type: ignore[attr-defined]
    try:
        yield driver
    finally:
        driver.quit()


class System:
    def __init__(self, root: Path, *, users: mp.Users | None = None) -> None:
        self.store = mp.MaildirStore(root / "mail")
        for name in ("alice", "bob"):
            self.store.mailbox(name)
        self.smtp = mp.SmtpServer(store=self.store, shutdown_grace=2.0)
        self.web = mp.WebInbox(self.store, users=users, auth_failure_delay=0.05)

    def __enter__(self) -> System:
        self.smtp.start()
        self.web.start()
        assert self.web.wait_ready(30)
        return self

    def __exit__(self, *exc: object) -> None:
        self.web.stop()
        self.smtp.stop()

    def send(self, msg: EmailMessage) -> None:
        with smtplib.SMTP("127.0.0.1", self.smtp.port) as s:
            s.send_message(msg)


@pytest.fixture
def system(tmp_path: Path) -> Iterator[System]:
    with System(tmp_path) as s:
        yield s


def email(subject: str, *, to: str = "bob@example.org", body: str = "hello\n") -> EmailMessage:
    m = EmailMessage()
    m["From"] = "Alice <alice@example.org>"
    m["To"] = to
    m["Subject"] = subject
    m.set_content(body)
    return m


def wait(driver: webdriver.Chrome, condition, timeout: float = 15.0):  # type: ignore[no-untyped-def]
    # The list is redrawn as events arrive: an element read mid-redraw is looked up again.
    return WebDriverWait(
        driver, timeout, poll_frequency=0.05, ignored_exceptions=[StaleElementReferenceException]
    ).until(condition)


def open_inbox(driver: webdriver.Chrome, url: str) -> None:
    driver.get(url)
    wait(driver, lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "1")


def subjects(driver: webdriver.Chrome) -> list[str]:
    # Read in one script run, so a redraw cannot come between finding and reading.
    found: list[str] = driver.execute_script(
        "return [...document.querySelectorAll('#list tbody tr td.subject .text')]"
        ".map((e) => e.textContent)"
    )
    return found


def screenshot(driver: webdriver.Chrome, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))


def test_new_mail_appears_without_reload(system: System, browser: webdriver.Chrome) -> None:
    system.send(email("Already here"))
    open_inbox(browser, system.web.url)
    assert subjects(browser) == ["Already here"]
    browser.execute_script("window.notReloaded = true")
    wait(browser, lambda d: "on" in d.find_element(By.ID, "live").get_attribute("class"))
    system.send(email("Fresh from smtplib", body="This arrived live.\n"))
    wait(browser, lambda d: subjects(d) == ["Fresh from smtplib", "Already here"])
    assert browser.execute_script("return window.notReloaded") is True
    # Opening it shows the text and marks it read (the Maildir S flag).
    browser.find_element(By.CSS_SELECTOR, "#list tbody tr:first-child").click()
    wait(browser, lambda d: d.find_element(By.ID, "text-body").text == "This arrived live.")
    key = browser.execute_script(
        "return document.querySelector('#list tbody tr:first-child').dataset.id"
    )
    assert key is not None
    deadline = time.monotonic() + 10
    while system.store.mailbox("bob").get_flags(key.split("/", 1)[1]) != "S":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    browser.find_element(By.ID, "tab-trace").click()
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#pane table tbody tr"))
    screenshot(browser, "inbox-live-trace")
    browser.find_element(By.ID, "delete").click()
    wait(browser, lambda d: subjects(d) == ["Already here"])


def test_search_narrows_the_list(system: System, browser: webdriver.Chrome) -> None:
    for subject in ("Invoice 1001", "Lunch on Friday", "Invoice 1002", "Holiday photos"):
        system.send(email(subject))
    open_inbox(browser, system.web.url)
    assert len(subjects(browser)) == 4
    box = browser.find_element(By.ID, "search")
    box.send_keys("subject:invoice\n")
    wait(browser, lambda d: sorted(subjects(d)) == ["Invoice 1001", "Invoice 1002"])
    assert "of 2" in browser.find_element(By.ID, "range").text
    screenshot(browser, "search")
    box.clear()
    box.send_keys("friday\n")
    wait(browser, lambda d: subjects(d) == ["Lunch on Friday"])


class Recorder(http.server.BaseHTTPRequestHandler):
    """A side channel: any request the hostile message manages to make lands here."""

    seen: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        Recorder.seen.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/gif")
        self.end_headers()
        self.wfile.write(b"GIF89a\x01\x00\x01\x00\x00\x00\x00;")

    def log_message(self, *args: object) -> None:
        pass


def test_html_preview_renders_and_hostile_code_does_not_run(
    system: System, browser: webdriver.Chrome
) -> None:
    Recorder.seen = []
    side = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=side.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{side.server_address[1]}"
    try:
        m = email("Hostile newsletter")
        m.add_alternative(
            f"""<html><head><style>h1 {{ color: #2457c5; }}</style></head><body>
            <h1 id="hello">Hello from the preview</h1>
            <script>parent.document.title = 'pwned'; new Image().src = '{base}/script';</script>
            <script src="{base}/script-src.js"></script>
            <img src="x" onerror="parent.document.title='pwned'; new Image().src='{base}/onerror'">
            <svg onload="new Image().src='{base}/svg'"></svg>
            <p>Remote: <img src="{base}/remote.gif" alt="remote"></p>
            </body></html>""",
            subtype="html",
        )
        system.send(m)
        open_inbox(browser, system.web.url)
        title = browser.title
        browser.find_element(By.CSS_SELECTOR, "#list tbody tr:first-child").click()
        wait(browser, lambda d: d.find_element(By.ID, "tab-html").is_enabled())
        browser.find_element(By.ID, "tab-html").click()
        frame = wait(browser, lambda d: d.find_element(By.ID, "html-frame"))
        sandbox = frame.get_attribute("sandbox") or ""
        assert "allow-scripts" not in sandbox and "allow-same-origin" not in sandbox
        browser.switch_to.frame(frame)
        heading = wait(browser, lambda d: d.find_element(By.ID, "hello"))
        assert heading.text == "Hello from the preview"
        assert heading.value_of_css_property("color") == "rgba(36, 87, 197, 1)"
        browser.switch_to.default_content()
        time.sleep(1.0)  # give anything that could run the time to run
        screenshot(browser, "html-preview")
        assert browser.title == title
        assert Recorder.seen == [], Recorder.seen
        # The button allows remote images: the side channel sees that request, so it
        # would have seen the others.
        browser.find_element(By.ID, "remote-images").click()
        deadline = time.monotonic() + 10
        while "/remote.gif" not in Recorder.seen:
            assert time.monotonic() < deadline, Recorder.seen
            time.sleep(0.05)
        time.sleep(0.5)
        assert set(Recorder.seen) == {"/remote.gif"}, Recorder.seen
        assert browser.title == title
    finally:
        side.shutdown()
        side.server_close()


def test_attachment_downloads_byte_identical(system: System, browser: webdriver.Chrome) -> None:
    payload = bytes(range(256)) * 1000
    m = email("With a file")
    m.add_attachment(payload, maintype="application", subtype="octet-stream", filename="blob.bin")
    system.send(m)
    open_inbox(browser, system.web.url)
    browser.find_element(By.CSS_SELECTOR, "#list tbody tr:first-child").click()
    link = wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, "#attachments .attachment a"))
    assert link.text.startswith("blob.bin")
    link.click()
    target = browser.downloads / "blob.bin"  # type: ignore[attr-defined]
    deadline = time.monotonic() + 20
    while not (target.exists() and target.stat().st_size == len(payload)):
        assert time.monotonic() < deadline, list(browser.downloads.iterdir())  # type: ignore[attr-defined]
        time.sleep(0.05)
    assert target.read_bytes() == payload


def test_login_is_required_with_users(tmp_path: Path, browser: webdriver.Chrome) -> None:
    users = mp.Users()
    users.add("bob", "bob-secret")
    users.add("alice", "alice-secret")
    with System(tmp_path, users=users) as system:
        system.send(email("Only for bob"))
        system.send(email("Only for alice", to="alice@example.org"))
        browser.get(system.web.url)
        wait(browser, lambda d: d.current_url.endswith("/login"))
        browser.find_element(By.ID, "user").send_keys("bob")
        browser.find_element(By.ID, "password").send_keys("wrong")
        browser.find_element(By.CSS_SELECTOR, "#login-form button").click()
        wait(browser, lambda d: "wrong" in d.find_element(By.ID, "error").text)
        screenshot(browser, "login")
        browser.find_element(By.ID, "password").clear()
        browser.find_element(By.ID, "password").send_keys("bob-secret\n")
        wait(
            browser,
            lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "1",
        )
        assert subjects(browser) == ["Only for bob"]
        assert browser.find_element(By.ID, "user").text == "bob"
        screenshot(browser, "logged-in")
