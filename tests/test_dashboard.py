"""The dashboard at `/_emulator/` in a real headless browser (Debian's chromium, via Selenium).

`.ci/browser` installs chromium and chromedriver; without them these tests are skipped.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from emulator import Emulator, ThreadedServer, reply

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
WAIT_SECONDS = 15
TOOLS: list[Any] = [{"type": "function", "function": {"name": "get_weather"}}]

if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
    pytest.skip(
        "chromium and chromedriver are not installed (run .ci/browser to install them)",
        allow_module_level=True,
    )

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


@pytest.fixture(scope="module")
def downloads(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory, downloads: Path) -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1400,1000",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(argument)
    options.add_experimental_option(
        "prefs",
        {"download.default_directory": str(downloads), "download.prompt_for_download": False},
    )
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # An explicit driver path: selenium-manager never runs (no download, no network).
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def server(assistants_emulator_server: ThreadedServer) -> ThreadedServer:
    return assistants_emulator_server


@pytest.fixture
def page(browser: WebDriver, server: ThreadedServer) -> WebDriver:
    """The dashboard of this test's emulator, opened in a fresh tab state."""
    browser.get(f"{server.url}/_emulator/")
    browser.execute_script("sessionStorage.clear()")
    browser.get_log("browser")  # start with an empty console
    return browser


@pytest.fixture
def sdk(server: ThreadedServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(api_key="sk-test", base_url=server.base_url, max_retries=0) as client:
        yield client


def wait_for(browser: WebDriver, condition: Callable[[], Any], what: str) -> Any:
    return WebDriverWait(browser, WAIT_SECONDS, poll_frequency=0.05).until(
        lambda _: condition(), message=what
    )


def text_of(browser: WebDriver, selector: str) -> str:
    """The element's visible text, read in one step (the page re-renders as it polls)."""
    text = browser.execute_script(
        "const e = document.querySelector(arguments[0]); return e ? e.innerText : ''", selector
    )
    return str(text)


def console_errors(browser: WebDriver) -> list[dict[str, Any]]:
    return [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]


def test_the_page_shows_a_run_and_plus_10_min_expires_it(
    emu: Emulator, page: WebDriver, sdk: openai.OpenAI, server: ThreadedServer
) -> None:
    emu.script(reply.tool_call("get_weather", {"city": "Paris"}))
    bot = sdk.beta.assistants.create(model="gpt-4o", name="Weather bot", tools=TOOLS)
    thread = sdk.beta.threads.create(messages=[{"role": "user", "content": "Paris?"}])
    run = sdk.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=bot.id)
    emu.clock.advance(30)  # it has been waiting a while (expiry is strictly after 600 s)
    status = f'[data-run-id="{run.id}"] .status'
    page.get(f"{server.url}/_emulator")  # also without the final slash

    wait_for(page, lambda: text_of(page, status) == "requires_action", "the run is shown")
    assert "expires in 9:30" in text_of(page, f'[data-run-id="{run.id}"]')
    assert "Weather bot" in text_of(page, f'[data-assistant-id="{bot.id}"]')
    assert "Paris?" in text_of(page, f'[data-thread-id="{thread.id}"]')
    page.find_element(By.ID, "advance-600").click()

    wait_for(page, lambda: text_of(page, status) == "expired", "the run expired")
    timeline = text_of(page, f'[data-run-id="{run.id}"] .timeline').split()
    assert [word for word in timeline if not word.startswith(("+", "→"))] == [
        "queued",
        "in_progress",
        "requires_action",
        "expired",
    ]
    assert text_of(page, "#clock-unix") == str(emu.clock.now())
    assert sdk.beta.threads.runs.retrieve(run.id, thread_id=thread.id).status == "expired"
    assert console_errors(page) == []


def test_custom_advance_reset_and_snapshot_download_and_upload(
    emu: Emulator, page: WebDriver, sdk: openai.OpenAI, downloads: Path, tmp_path: Path
) -> None:
    start = emu.clock.now()
    bot = sdk.beta.assistants.create(model="gpt-4o", name="Saved bot")
    card = f'[data-assistant-id="{bot.id}"]'
    wait_for(page, lambda: "Saved bot" in text_of(page, card), "the assistant is shown")

    page.find_element(By.ID, "advance-amount").send_keys("2")
    page.find_element(By.ID, "advance-custom").click()  # 2 min
    wait_for(page, lambda: emu.clock.now() == start + 120, "the clock moved 2 minutes")
    page.find_element(By.ID, "download-snapshot").click()
    saved = downloads / f"emulator-snapshot-{start + 120}.json"
    wait_for(page, saved.exists, "the snapshot was downloaded")
    page.find_element(By.ID, "reset").click()
    page.find_element(By.ID, "reset").click()  # the second click confirms
    wait_for(page, lambda: text_of(page, card) == "", "the assistant is gone")
    assert emu.assistants == {}

    page.find_element(By.ID, "upload-snapshot").send_keys(str(saved))
    wait_for(page, lambda: "Saved bot" in text_of(page, card), "the snapshot is loaded")
    assert json.loads(saved.read_text())["clock"]["now"] == emu.clock.now() == start + 120
    assert console_errors(page) == []

    broken = tmp_path / "broken.json"
    broken.write_text('{"format": "not a snapshot"}')
    page.find_element(By.ID, "upload-snapshot").send_keys(str(broken))
    wait_for(page, lambda: "Invalid snapshot" in text_of(page, "#notice"), "the error is shown")
    assert "Saved bot" in text_of(page, card)


@pytest.mark.assistants_emulator(require_key="sk-right-key-1234")
def test_with_require_key_the_page_asks_for_the_key(
    emu: Emulator, page: WebDriver, server: ThreadedServer
) -> None:
    start = emu.clock.now()
    with openai.OpenAI(api_key="sk-right-key-1234", base_url=server.base_url) as sdk:
        sdk.beta.assistants.create(model="gpt-4o", name="Locked bot")
    page.get(f"{server.url}/_emulator/")
    prompt = page.find_element(By.ID, "key-prompt")
    wait_for(page, prompt.is_displayed, "the key prompt is shown")
    assert not page.find_element(By.ID, "main").is_displayed()
    assert console_errors(page) == []  # it asked first instead of failing with a 401

    page.find_element(By.ID, "api-key").send_keys("sk-wrong-key-0000")
    page.find_element(By.ID, "use-key").click()
    wait_for(page, lambda: "Incorrect API key" in text_of(page, "#notice"), "a wrong key fails")
    assert prompt.is_displayed()

    page.find_element(By.ID, "api-key").send_keys("sk-right-key-1234")
    page.find_element(By.ID, "use-key").click()
    wait_for(page, lambda: "Locked bot" in text_of(page, "#assistants"), "the state is shown")
    assert not prompt.is_displayed()
    page.find_element(By.ID, "advance-60").click()
    wait_for(page, lambda: text_of(page, "#clock-unix") == str(start + 60), "the clock moved")
    assert emu.clock.now() == start + 60
