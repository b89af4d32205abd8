"""The README's screenshots of the console: docs/console/*.png.

    .venv/bin/python scripts/console_screenshots.py [--out docs/console]

Fills a temporary SQLite store with synthetic conversations (scripts/fill_console_store.py),
starts `python server.py` on it with copies of the YAML, signs in with headless Chromium
(Debian's chromium and chromium-driver) and saves each page, compressed with pngquant when it is
installed (`apt-get install pngquant`).
"""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.fill_console_store import fill, sample_turns  # noqa: E402
from tests.browser import chrome, chromium_or_skip, full_page_screenshot  # noqa: E402
from tests.console_helpers import LEAD_TALK, LEAD_USER, UNSURE, yaml_copies  # noqa: E402
from tests.processes import ADMIN, Spawner, server_env  # noqa: E402

PAGES = (
    ("overview", "/console/"),
    ("conversations", "/console/conversations"),
    ("transcript", f"/console/conversations/{LEAD_USER}"),
    ("leads", "/console/leads"),
    ("review", "/console/review"),
    ("answers", "/console/answers"),
    ("answer_edit", "/console/answers/warranty_returns"),
)
NOT_UNDERSTOOD = (
    UNSURE,
    "venden refacciones",
    "¿Venden refacciones?",
    "tienen motos?",
    "cual es la capital de francia",
    "hacen lavado de autos?",
    "rentan autos por dia?",
)
MAX_HEIGHT = 1800


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "console"))
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    chromium_or_skip()
    with tempfile.TemporaryDirectory(prefix="console-shots-") as folder:
        tmp = Path(folder)
        _fill(tmp)
        copies = yaml_copies(tmp)
        env = server_env(
            tmp,
            CONFIG_DIR=copies["config_dir"],
            LOG_LEVEL="ERROR",
            KNOWLEDGE_PATH=copies["knowledge_path"],
            VAR_DIR=copies["var_dir"],
        )
        spawner = Spawner(tmp)
        try:
            server = spawner.dev(env).wait_ready(timeout=60)
            _talk(server)
            _browse(f"http://127.0.0.1:{server.port}", tmp, out)
        finally:
            spawner.close()
    for path in sorted(out.glob("*.png")):
        print(f"{path.relative_to(ROOT)}: {path.stat().st_size // 1024} KB")
    return 0


def _fill(tmp: Path) -> None:
    from dialog.store import open_store

    store = open_store(f"sqlite:///{tmp / 'bot.db'}")
    fill(store, sample_turns(ROOT / "data" / "catalog.csv"), 900, 7200, 14, seed=11)
    chooser = random.Random(3)
    for user in list({handoff.user for handoff in store.handoffs(10_000)})[:12]:
        status = chooser.choice(("contacted", "won", "lost"))
        store.console_put("lead", user, {"status": status, "note": "", "history": []}, user=user)
    store.close()


def _talk(server) -> None:
    def say(user: str, text: str) -> None:
        assert server.admin("POST", "/chat", {"user": user, "text": text})[0] == 200

    for text in LEAD_TALK:
        say(LEAD_USER, text)
    for index, text in enumerate(NOT_UNDERSTOOD):
        say(f"52155{index:08d}", text)


def _browse(base: str, tmp: Path, out: Path) -> None:
    from selenium.webdriver.common.by import By

    driver = chrome(tmp)
    try:
        driver.get(base + "/console/")
        _save(driver, out / "sign_in.png")
        driver.find_element(By.ID, "token").send_keys(ADMIN)
        driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
        for name, path in PAGES:
            driver.get(base + path)
            _save(driver, out / f"{name}.png")
        driver.get(base + "/console/")
        _save(driver, out / "overview_phone.png", width=390)
    finally:
        driver.quit()


def _save(driver, path: Path, width: int = 1280) -> None:
    full_page_screenshot(driver, path, width=width, max_height=MAX_HEIGHT)
    if shutil.which("pngquant"):
        subprocess.run(
            [
                "pngquant",
                "--force",
                "--skip-if-larger",
                "--quality=55-85",
                "--output",
                str(path),
                str(path),
            ],
            check=False,
        )


if __name__ == "__main__":
    sys.exit(main())
