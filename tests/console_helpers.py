"""What the console tests share: an app on copies of the staff YAML, signing in, CSRF tokens,
and conversations to look at."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from flask import Flask

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "console-t0ken"
HEADERS = {"Authorization": f"Bearer {TOKEN}"}
SCRIPT = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
# the example stage reads this as selling_car, scoring below min_score + REVIEW_MARGIN
UNSURE = "venden refacciones?"
TEACH_AS = "knowledge/app_aftersales"
LEAD_TALK = (
    "busco un versa",
    "el 1",
    "con 20% de enganche a 4 años",
    "quiero hablar con un asesor",
    "Laura Méndez",
    "55 1234 5678",
    "en la tarde",
)
LEAD_USER = "5215512345678"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def yaml_copies(tmp_path: Path) -> dict[str, object]:
    """Settings pointing at copies of config/ and data/knowledge.yml (the console writes them)."""
    shutil.copytree(ROOT / "config", tmp_path / "config")
    shutil.copyfile(ROOT / "data" / "knowledge.yml", tmp_path / "knowledge.yml")
    return {
        "config_dir": tmp_path / "config",
        "knowledge_path": tmp_path / "knowledge.yml",
        "var_dir": tmp_path / "var",
    }


def csrf(client, path: str = "/console/login") -> str:
    match = _CSRF.search(client.get(path).get_data(as_text=True))
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def sign_in(client, token: str = TOKEN):
    return client.post("/console/login", data={"csrf_token": csrf(client), "token": token})


def chat(client, user: str, *texts: str) -> list[dict]:
    return [
        client.post("/chat", json={"user": user, "text": text}, headers=HEADERS).get_json()
        for text in texts
    ]


def seed(app: Flask) -> None:
    """A lead, a message with markup, a message the bot is unsure about."""
    client = app.test_client()
    chat(client, LEAD_USER, *LEAD_TALK)
    chat(client, "5215587654321", "hola", SCRIPT)
    chat(client, "5213311112222", UNSURE)
