"""The dashboard of a real `rillet run --http`, loaded in headless Chromium (Debian's `chromium`
and `chromium-driver`, driven by Selenium): it shows every node of the pipeline, in the graph
and in the table, with numbers that change while the run goes on; with a token, once the token
is typed in."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from tests.runtime.monitor.running import Running, eventually

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1000",
)

PIPELINE = """\
set batch_timeout = 100ms
set checkpoint_interval = 1s
source clicks  = generate(rate=2000)
sink   pages   = file("out/pages.jsonl")
sink   slow    = file("out/slow.jsonl")
sink   rejects = file("out/rejects.jsonl")
errors into rejects
alert bad_input when error_rate > 50%
stream ok = clicks | event_time ts lateness 1s | where status == 200
ok | window tumbling 1s | aggregate by page { n = count() } | into pages
ok | where latency_ms > 300 | select user, page, latency_ms | into slow
"""


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _rows(browser: webdriver.Chrome) -> dict[str, str]:
    """The node table as a person reads it: node name → the text of its row. Read in one
    script, since the page redraws the table every second."""
    return dict(
        browser.execute_script(
            "return [...document.querySelectorAll('#nodes tbody tr')]"
            ".map(row => [row.cells[0].innerText, row.innerText])"
        )
    )


def _text(browser: webdriver.Chrome, selector: str) -> str:
    return browser.execute_script(
        "return document.querySelector(arguments[0]).textContent", selector
    )


def _rows_when(
    browser: webdriver.Chrome, ready: Callable[[dict[str, str]], bool]
) -> dict[str, str] | None:
    rows = _rows(browser)
    return rows if ready(rows) else None


def test_dashboard_shows_every_node_with_live_numbers(
    tmp_path: Path, browser: webdriver.Chrome
) -> None:
    (tmp_path / "p.rill").write_text(PIPELINE)
    with Running(tmp_path, "p.rill", "--http", "127.0.0.1:0") as run:
        nodes = [n["label"] for n in run.json("/api/status")["nodes"]]
        assert len(nodes) == 8 and {"clicks", "pages", "slow", "rejects"} <= set(nodes)
        browser.get(run.url)
        first = eventually(
            lambda: _rows_when(browser, lambda rows: set(rows) == set(nodes)),
            "a table row for every node",
        )
        graph = browser.execute_script(
            "return [...document.querySelectorAll('#svg g.node')]"
            ".map(g => g.querySelector('text.name').textContent)"
        )
        assert {label.removesuffix(" ◀ bottleneck") for label in graph} == set(nodes)
        second = eventually(
            lambda: _rows_when(browser, lambda rows: rows["clicks"] != first["clicks"]),
            "the numbers of `clicks` changing",
        )
        source = _text(browser, 'tr[data-node="clicks"] .in-rate')
        assert source.endswith("/s") and source != "0/s"
        assert second["pages"].split()[1] == "sink"
        assert _text(browser, "#state") == "running"
        alerts = _text(browser, "#alerts")
        assert "bad_input" in alerts and "error_rate > 50%" in alerts
        browser.save_screenshot(str(tmp_path / "dashboard.png"))
        assert run.stop() == 130


def test_dashboard_of_a_run_with_a_token_opens_once_the_token_is_given(
    tmp_path: Path, browser: webdriver.Chrome
) -> None:
    (tmp_path / "p.rill").write_text(PIPELINE)
    token = "dashboard-Token-7"
    with Running(
        tmp_path, "p.rill", "--http", "127.0.0.1:0", env={"RILLET_HTTP_TOKEN": token}
    ) as run:
        browser.get(run.url)
        field = browser.find_element(By.NAME, "token")  # the page a 401 shows
        field.send_keys(token)
        field.submit()
        eventually(
            lambda: _rows_when(browser, lambda rows: "clicks" in rows),
            "the dashboard's table, once the token is given",
        )
        assert browser.current_url == run.url  # the token is not left in the address
        browser.get(run.url)  # later visits: the cookie stands for the token
        eventually(
            lambda: _rows_when(browser, lambda rows: "clicks" in rows),
            "the dashboard again, without the token",
        )
        assert _text(browser, "#state") == "running"
        assert run.stop() == 130
