"""The console in a real browser: headless Chromium driven by selenium against `python server.py`
on a free port (its own SQLite store, copies of the YAML, ADMIN_TOKEN set). Sign in, open a
transcript, export the leads CSV, teach a message the bot was unsure about and check over /chat
that it is now understood, sign out. Each page's screenshot is saved in the test's temp folder,
and no page may log a SEVERE error in the browser's console."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.browser import chrome, chromium_or_skip, full_page_screenshot
from tests.console_helpers import LEAD_TALK, LEAD_USER, SCRIPT, TEACH_AS, UNSURE, yaml_copies
from tests.processes import ADMIN, server_env


class Browsing:
    """The browser, the server and what was seen: screenshots, console messages."""

    def __init__(self, driver, base: str, shots: Path):
        self.driver, self.base, self.shots = driver, base, shots
        self.console: list[dict] = []

    def open(self, path: str) -> None:
        self.driver.get(self.base + path)
        self.read_console()

    def click(self, css: str, then: str) -> None:
        """Click, and wait until the page shows `then` (a click does not wait for the next page)."""
        from selenium.webdriver.common.by import By

        self.driver.find_element(By.CSS_SELECTOR, css).click()
        self.wait_for(then)

    def wait_for(self, text: str, seconds: float = 30) -> None:
        from selenium.common.exceptions import StaleElementReferenceException
        from selenium.webdriver.support.ui import WebDriverWait

        def shown(_) -> bool:
            try:
                return text in self.text
            except StaleElementReferenceException:  # the page changed while it was read
                return False

        WebDriverWait(self.driver, seconds).until(shown, f"the page never showed {text!r}")
        self.read_console()

    def shot(self, name: str) -> Path:
        return full_page_screenshot(self.driver, self.shots / f"{name}.png")

    def read_console(self) -> None:
        self.console += self.driver.get_log("browser")

    @property
    def text(self) -> str:
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.TAG_NAME, "body").text


@pytest.fixture
def browsing(spawn, tmp_path):
    chromium_or_skip()
    copies = yaml_copies(tmp_path)
    env = server_env(
        tmp_path,
        CONFIG_DIR=copies["config_dir"],
        KNOWLEDGE_PATH=copies["knowledge_path"],
        VAR_DIR=copies["var_dir"],
    )
    server = spawn.dev(env).wait_ready(timeout=60)
    for user, texts in (
        (LEAD_USER, LEAD_TALK),
        ("5215587654321", ("hola", SCRIPT)),
        ("5213311112222", (UNSURE,)),
    ):
        for text in texts:
            _chat(server, user, text)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    driver = chrome(downloads)
    shots = tmp_path / "screenshots"
    shots.mkdir()
    browsing = Browsing(driver, f"http://127.0.0.1:{server.port}", shots)
    browsing.server, browsing.downloads = server, downloads
    yield browsing
    driver.quit()


def _chat(server, user: str, text: str) -> dict:
    status, body = server.admin("POST", "/chat", {"user": user, "text": text})
    assert status == 200, body
    return body


def test_a_staff_member_works_through_the_console(browsing):
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    driver = browsing.driver
    browsing.open("/console/")
    assert "/console/login" in driver.current_url
    browsing.shot("sign_in")
    driver.find_element(By.ID, "token").send_keys(ADMIN)
    browsing.click("form button[type=submit]", then="Resumen de los últimos 14 días")
    browsing.shot("overview")

    browsing.click("nav a[href='/console/conversations']", then="•••• 5678")
    browsing.shot("conversations")
    browsing.click("a[href='/console/conversations/5215587654321']", then=SCRIPT)  # as text...
    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert.accept()  # ...and never run
    browsing.open(f"/console/conversations/{LEAD_USER}")
    assert "Lead · nuevo" in browsing.text and "Nissan Versa" in browsing.text
    browsing.shot("transcript")

    browsing.click("nav a[href='/console/leads']", then="Laura Méndez")
    browsing.shot("leads")
    browsing.driver.find_element(By.CSS_SELECTOR, "a[href^='/console/leads.csv']").click()
    exported = _downloaded(browsing.downloads)
    assert exported.read_bytes().startswith(b"\xef\xbb\xbf")
    assert "Laura Méndez" in exported.read_text(encoding="utf-8-sig")

    browsing.click("nav a[href='/console/review']", then="Mensajes sin entender")
    browsing.shot("review")
    form = next(
        form
        for form in driver.find_elements(By.CSS_SELECTOR, "form.add-example")
        if form.find_element(By.NAME, "text").get_attribute("value") == UNSURE
    )
    Select(form.find_element(By.NAME, "label")).select_by_value(TEACH_AS)
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    browsing.wait_for("Cambio guardado y bot recargado")  # a bundle is built twice: seconds
    assert "El bot ya lo entiende así" in browsing.text
    browsing.shot("review_added")
    _chat(browsing.server, "5214440000000", UNSURE)
    status, history = browsing.server.admin("GET", "/admin/users/5214440000000/history")
    assert status == 200 and history["turns"][-1]["topic"] == "app_aftersales"

    browsing.click("nav a[href='/console/answers']", then="Sucursales y horarios")
    browsing.shot("answers")
    browsing.click("a[href='/console/answers/locations']", then="Vista previa")
    browsing.shot("answer_edit")

    browsing.click("form.signout button", then="Entrar a la consola")
    assert "/console/login" in driver.current_url
    browsing.open("/console/leads")
    assert "/console/login" in driver.current_url  # signed out for real

    severe = [entry for entry in browsing.console if entry["level"] == "SEVERE"]
    assert not severe, json.dumps(severe, indent=1)
    assert len(list(browsing.shots.glob("*.png"))) == 9


def _downloaded(folder: Path, timeout: float = 30.0) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = [path for path in folder.glob("*.csv") if path.stat().st_size]
        if done:
            return done[0]
        time.sleep(0.1)
    raise AssertionError(f"no CSV downloaded into {folder}: {list(folder.iterdir())}")
