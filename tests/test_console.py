"""The staff console through Flask's test client: who may use it, every page, and what each
change does (lead status, CSV, examples added to the YAML, answers edited)."""

from __future__ import annotations

import csv
import io

import pytest

from tests.console_helpers import (
    ESCAPED,
    HEADERS,
    LEAD_USER,
    SCRIPT,
    TEACH_AS,
    TOKEN,
    UNSURE,
    chat,
    csrf,
    seed,
    sign_in,
    yaml_copies,
)

PAGES = [
    "/console/",
    "/console/conversations",
    f"/console/conversations/{LEAD_USER}",
    "/console/leads",
    "/console/leads.csv",
    "/console/review",
    "/console/answers",
    "/console/answers/locations",
]
POSTS = [
    f"/console/leads/{LEAD_USER}/status",
    f"/console/leads/{LEAD_USER}/resend",
    "/console/review/add",
    "/console/review/ignore",
    "/console/answers/locations",
    "/console/logout",
    "/console/login",
]


@pytest.fixture
def app(make_app, tmp_path):
    app = make_app(admin_token=TOKEN, **yaml_copies(tmp_path))
    seed(app)
    return app


@pytest.fixture
def client(app):
    client = app.test_client()
    assert sign_in(client).status_code == 302
    return client


# --- signing in -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", PAGES)
def test_every_page_sends_a_stranger_to_sign_in(app, path):
    response = app.test_client().get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/console/login?next=")


@pytest.mark.parametrize("path", PAGES)
def test_every_page_renders_once_signed_in(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert "Content-Security-Policy" in response.headers
    assert response.headers["Cache-Control"] == "no-store"


def test_the_stylesheet_is_served_without_signing_in(app):
    response = app.test_client().get("/console/static/console.css")
    assert response.status_code == 200 and response.mimetype == "text/css"


def test_sign_in_sets_a_safe_cookie_and_sign_out_ends_it(app):
    client = app.test_client()
    wrong = sign_in(client, "nope")
    assert wrong.status_code == 401 and "no es correcto" in wrong.get_data(as_text=True)
    response = sign_in(client)
    assert response.status_code == 302
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/console" in cookie
    assert "Secure" not in cookie  # plain http, no trusted proxy
    assert client.get("/console/").status_code == 200
    assert (
        client.post("/console/logout", data={"csrf_token": csrf(client, "/console/")}).status_code
        == 302
    )
    assert client.get("/console/").status_code == 302


@pytest.mark.parametrize(
    ("overrides", "headers", "secure"),
    [
        ({"trusted_proxies": "127.0.0.1"}, {"X-Forwarded-Proto": "https"}, True),
        ({}, {"X-Forwarded-Proto": "https"}, False),  # anyone can send that header
        ({"preferred_url_scheme": "https"}, {}, True),
    ],
)
def test_the_cookie_is_secure_over_https(make_app, tmp_path, overrides, headers, secure):
    client = make_app(admin_token=TOKEN, **yaml_copies(tmp_path), **overrides).test_client()
    token = csrf(client)
    response = client.post(
        "/console/login", data={"csrf_token": token, "token": TOKEN}, headers=headers
    )
    assert ("Secure" in response.headers["Set-Cookie"]) is secure


def test_a_new_admin_token_ends_the_sessions_signed_in_with_the_old_one(client, app):
    context = app.extensions["kavak"]
    context.settings = context.settings.model_copy(update={"admin_token": "rotated"})
    assert client.get("/console/").status_code == 302


def test_a_post_needs_the_sessions_csrf_token(client):
    assert (
        client.post(f"/console/leads/{LEAD_USER}/status", data={"status": "contacted"}).status_code
        == 400
    )
    wrong = client.post(
        f"/console/leads/{LEAD_USER}/status", data={"status": "contacted", "csrf_token": "forged"}
    )
    assert wrong.status_code == 403 and "token de seguridad" in wrong.get_data(as_text=True)
    assert client.post("/console/logout").status_code == 400
    assert client.get("/console/").status_code == 200  # still signed in


@pytest.mark.parametrize("path", POSTS)
def test_every_post_refuses_a_missing_token(app, path):
    assert app.test_client().post(path, data={"status": "won"}).status_code == 400


def test_failed_sign_ins_are_throttled(app):
    client = app.test_client()
    for _ in range(5):
        assert sign_in(client, "guess").status_code == 401
    refused = sign_in(client)  # even the right token, for the rest of the window
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "300"
    other = app.test_client()  # another address is not affected
    assert sign_in_from(other, "198.51.100.9").status_code == 302


def sign_in_from(client, address: str):
    environ = {"REMOTE_ADDR": address}
    token = csrf(client)
    return client.post(
        "/console/login", data={"csrf_token": token, "token": TOKEN}, environ_base=environ
    )


def test_without_a_token_only_this_machine(make_app, tmp_path):
    client = make_app(**yaml_copies(tmp_path)).test_client()
    assert client.get("/console/", headers={"Host": "localhost:5000"}).status_code == 200
    proxied = client.get("/console/", headers={"X-Forwarded-For": "198.51.100.7"})
    assert proxied.status_code == 403 and "esta máquina" in proxied.get_data(as_text=True)
    assert client.get("/console/", headers={"Host": "evil.example"}).status_code == 403


# --- what the pages show --------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/console/conversations", "/console/conversations/5215587654321", "/console/review"]
)
def test_a_customers_markup_is_shown_as_text(client, path):
    page = client.get(path).get_data(as_text=True)
    assert ESCAPED in page
    assert SCRIPT not in page


def test_markup_in_a_note_or_an_answer_preview_is_text(client):
    token = csrf(client, "/console/leads")
    client.post(
        f"/console/leads/{LEAD_USER}/status",
        data={"csrf_token": token, "status": "new", "note": SCRIPT},
    )
    assert ESCAPED in client.get("/console/leads").get_data(as_text=True)
    preview = client.post(
        "/console/answers/locations",
        data={"csrf_token": token, "answer": f"*hola* {SCRIPT}", "action": "preview"},
    )
    page = preview.get_data(as_text=True)
    assert "<strong>hola</strong>" in page and ESCAPED in page and SCRIPT not in page


def test_the_overview_counts_today(client):
    page = client.get("/console/").get_data(as_text=True)
    assert "<svg" in page and "search_cars" in page and "human_agent" in page
    assert "Nissan Versa" in page or "Nissan" in page
    assert "p50" in page and " ms" in page


def test_conversations_search_and_pages(client, app):
    for index in range(30):
        chat(app.test_client(), f"52155000{index:05d}", "hola")
    first = client.get("/console/conversations").get_data(as_text=True)
    assert "Página 1 de 2" in first
    assert client.get("/console/conversations?page=2").status_code == 200
    assert client.get("/console/conversations?page=3").status_code == 400
    assert client.get("/console/conversations?page=dos").status_code == 400
    assert client.get("/console/conversations?q=" + "x" * 101).status_code == 400
    by_phone = client.get("/console/conversations?q=55 1234").get_data(as_text=True)
    assert "1 conversación" in by_phone and "•••• 5678" in by_phone
    by_text = client.get("/console/conversations?q=REFACCIONES").get_data(as_text=True)
    assert "1 conversación" in by_text and "venden refacciones" in by_text


def test_a_transcript_shows_how_each_turn_was_read(client):
    page = client.get(f"/console/conversations/{LEAD_USER}").get_data(as_text=True)
    for shown in (
        "search_cars",
        "regla",
        "model=Versa",
        "Nissan Versa",
        "/mes",
        "48 meses",
        "human_agent",
        "Lead · nuevo",
    ):
        assert shown in page, shown
    assert client.get("/console/conversations/nobody").status_code == 404
    assert client.get("/console/conversations/" + "9" * 200).status_code == 400


# --- leads ----------------------------------------------------------------------------------


def _status(client, status: str, note: str = "", user: str = LEAD_USER):
    token = csrf(client, "/console/leads")
    return client.post(
        f"/console/leads/{user}/status", data={"csrf_token": token, "status": status, "note": note}
    )


def test_a_lead_moves_from_new_to_contacted_to_won_with_notes(client, app):
    assert "Laura Méndez" in client.get("/console/leads").get_data(as_text=True)
    assert _status(client, "won").status_code == 400  # not before contacted
    assert _status(client, "contacted", "llamé, pide fotos").status_code == 302
    assert _status(client, "won", "firmó el apartado").status_code == 302
    stored = app.extensions["kavak"].store.console_get("lead", LEAD_USER)
    assert stored["status"] == "won" and stored["note"] == "firmó el apartado"
    assert [change["status"] for change in stored["history"]] == ["contacted", "won"]
    page = client.get("/console/leads?status=won").get_data(as_text=True)
    assert "firmó el apartado" in page and "Historial (2)" in page
    assert _status(client, "lost").status_code == 400  # won is final
    assert _status(client, "archived").status_code == 400
    assert _status(client, "contacted", "x" * 1001).status_code == 400
    assert _status(client, "contacted", user="5210000000000").status_code == 404
    assert client.get("/console/leads?status=archived").status_code == 400


def test_the_csv_has_one_row_per_lead_with_car_and_plan_columns(client, app):
    chat(app.test_client(), LEAD_USER, "mejor en la mañana")  # a correction: still one lead
    response = client.get("/console/leads.csv")
    assert (
        response.mimetype == "text/csv" and "attachment" in response.headers["Content-Disposition"]
    )
    body = response.data
    assert body.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs for the accents
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    assert len(rows) == 1
    row = rows[0]
    assert row["nombre"] == "Laura Méndez" and row["telefono"] == "5512345678"
    assert row["auto_make"] == "Nissan" and row["auto_model"] == "Versa"
    assert row["plan_term_months"] == "48" and float(row["plan_monthly_payment"]) > 0
    assert row["estado"] == "new"


def test_a_formula_in_a_note_stays_text_in_the_csv(client):
    _status(client, "new", '=HYPERLINK("http://evil")')
    row = next(
        csv.DictReader(io.StringIO(client.get("/console/leads.csv").data.decode("utf-8-sig")))
    )
    assert row["nota"].startswith("'=")


# --- messages not understood ----------------------------------------------------------------


def _group_form(client) -> dict[str, str]:
    import re

    page = client.get("/console/review").get_data(as_text=True)
    keys = re.search(r'name="keys" value="([^"]+)"', page).group(1)
    text = re.search(r'name="text" value="([^"]+)"', page).group(1)
    return {"csrf_token": csrf(client, "/console/review"), "keys": keys, "text": text}


def test_similar_messages_are_one_group(client, app):
    chat(app.test_client(), "5219990001111", "¿Venden refacciones??", "venden refacción")
    page = client.get("/console/review").get_data(as_text=True)
    assert page.count('class="card group"') == 2  # refacciones, and the <script> message
    assert "3 veces" in page and "2 formas de decirlo" in page


def test_adding_an_example_writes_the_yaml_reloads_and_is_understood(client, app, tmp_path):
    knowledge = tmp_path / "knowledge.yml"
    before = knowledge.read_text(encoding="utf-8")
    form = _group_form(client)
    assert form["text"] in (UNSURE, "hola")
    form.update(text=UNSURE, label=TEACH_AS)
    response = client.post("/console/review/add", data=form)
    page = response.get_data(as_text=True)
    assert response.status_code == 200, page
    assert "+      - venden refacciones?" in page and "El bot ya lo entiende así" in page
    after = knowledge.read_text(encoding="utf-8")
    assert len(after.splitlines()) == len(before.splitlines()) + 1  # one line, nothing re-wrapped
    assert [line for line in after.splitlines() if line.lstrip().startswith("#")] == [
        line for line in before.splitlines() if line.lstrip().startswith("#")
    ]
    chat(app.test_client(), "5214440000000", UNSURE)
    turn = app.extensions["kavak"].store.history("5214440000000", 1)[0]
    assert (turn.intent, turn.topic) == ("knowledge", "app_aftersales")
    assert "venden refacciones" not in client.get("/console/review").get_data(as_text=True)


def test_an_example_that_fails_validation_is_refused_and_the_file_kept(client, tmp_path):
    intents = tmp_path / "config" / "intents.yml"
    before = intents.read_text(encoding="utf-8")
    form = _group_form(client)
    form.update(text="puedo pagar con bitcoin", label="financing")  # a rule says out_of_scope
    response = client.post("/console/review/add", data=form)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "E103" in page and f"{intents}:" in page
    assert intents.read_text(encoding="utf-8") == before


@pytest.mark.parametrize(
    ("form", "status"),
    [
        ({"keys": "nothex", "text": UNSURE, "label": TEACH_AS}, 400),
        ({"keys": "0" * 32, "text": UNSURE, "label": "no_such_label"}, 400),
        ({"keys": "0" * 32, "text": "qué onda", "label": "greet"}, 400),  # small talk: phrases
        ({"keys": "0" * 32, "text": "", "label": TEACH_AS}, 400),
        ({"keys": "0" * 32, "text": "x" * 301, "label": TEACH_AS}, 400),
    ],
)
def test_bad_review_forms_are_refused_with_a_reason(client, form, status):
    response = client.post(
        "/console/review/add", data={**form, "csrf_token": csrf(client, "/console/review")}
    )
    assert response.status_code == status
    assert "Traceback" not in response.get_data(as_text=True)


def test_ignoring_a_group_takes_it_off_the_list(client):
    form = _group_form(client)
    assert client.post("/console/review/ignore", data=form).status_code == 302
    assert form["text"] not in client.get("/console/review").get_data(as_text=True)


# --- knowledge answers ----------------------------------------------------------------------


def test_an_answer_is_edited_with_a_preview_validated_and_reloaded(client, app, tmp_path):
    knowledge = tmp_path / "knowledge.yml"
    token = csrf(client, "/console/answers/warranty_returns")
    new = "*Garantía* de 3 meses 🛡️\nY 7 días para _devolverlo_."
    preview = client.post(
        "/console/answers/warranty_returns",
        data={"csrf_token": token, "answer": new, "action": "preview"},
    )
    assert "<strong>Garantía</strong>" in preview.get_data(as_text=True)
    assert new not in knowledge.read_text(encoding="utf-8")  # a preview saves nothing
    saved = client.post(
        "/console/answers/warranty_returns",
        data={"csrf_token": token, "answer": new, "action": "save"},
    )
    assert saved.status_code == 200 and "Cambio guardado" in saved.get_data(as_text=True)
    text = knowledge.read_text(encoding="utf-8")
    assert (
        "    answer: |-\n      *Garantía* de 3 meses 🛡️\n      Y 7 días para _devolverlo_.\n" in text
    )
    reply = chat(app.test_client(), "5216660000000", "¿tienen garantía?")[0]["reply"]
    assert "Garantía* de 3 meses" in reply


def test_an_answer_over_the_limit_is_refused_with_file_and_line(client, tmp_path):
    knowledge = tmp_path / "knowledge.yml"
    before = knowledge.read_text(encoding="utf-8")
    token = csrf(client, "/console/answers/warranty_returns")
    response = client.post(
        "/console/answers/warranty_returns",
        data={"csrf_token": token, "answer": "a" * 950, "action": "save"},
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and f"{knowledge}:" in page and "900" in page
    assert knowledge.read_text(encoding="utf-8") == before
    assert client.get("/console/answers/nope").status_code == 404


# --- the lead webhook -----------------------------------------------------------------------


def _webhook_app(make_app, tmp_path, httpserver):
    app = make_app(
        admin_token=TOKEN,
        lead_webhook_url=httpserver.url_for("/crm"),
        lead_webhook_secret="crm-secret",
        lead_webhook_backoff=0,
        lead_webhook_retries=2,
        **yaml_copies(tmp_path),
    )
    return app, app.extensions["kavak"].extras["lead_notifier"]


def test_a_new_lead_is_posted_signed_and_retried(make_app, tmp_path, httpserver):
    import hashlib
    import hmac
    import json

    httpserver.expect_ordered_request("/crm", method="POST").respond_with_data("busy", status=503)
    httpserver.expect_ordered_request("/crm", method="POST").respond_with_data("ok", status=200)
    app, notifier = _webhook_app(make_app, tmp_path, httpserver)
    seed(app)
    notifier.wait()
    request = httpserver.log[-1][0]
    body = request.get_data()
    expected = "sha256=" + hmac.new(b"crm-secret", body, hashlib.sha256).hexdigest()
    assert request.headers["X-Signature"] == expected
    lead = json.loads(body)
    assert lead["event"] == "lead.created" and lead["lead"]["name"] == "Laura Méndez"
    assert lead["car"]["make"] == "Nissan" and lead["lead"]["plan"]["term_months"] == 48
    delivery = app.extensions["kavak"].store.console_get("delivery", LEAD_USER)
    assert delivery["state"] == "sent" and delivery["attempts"] == 2
    httpserver.expect_request("/crm", method="POST").respond_with_data("ok")
    chat(app.test_client(), LEAD_USER, "mejor en la mañana")  # the customer corrects the lead
    notifier.wait()
    correction = json.loads(httpserver.log[-1][0].get_data())
    assert correction["event"] == "lead.updated"
    assert correction["lead"]["contact_time"] == "por la mañana"


def test_a_failing_webhook_is_shown_counted_and_can_be_resent(make_app, tmp_path, httpserver):
    httpserver.expect_request("/crm", method="POST").respond_with_data("down", status=500)
    app, notifier = _webhook_app(make_app, tmp_path, httpserver)
    seed(app)
    notifier.wait()
    client = app.test_client()
    sign_in(client)
    page = client.get("/console/leads").get_data(as_text=True)
    assert "1 envíos fallaron" in page and "HTTP 500 (3 intentos)" in page
    metrics = client.get("/metrics", headers=HEADERS).get_data(as_text=True)
    assert 'kavak_lead_webhooks_total{outcome="failed"} 1.0' in metrics
    httpserver.clear()
    httpserver.expect_request("/crm", method="POST").respond_with_data("ok")
    resend = client.post(
        f"/console/leads/{LEAD_USER}/resend", data={"csrf_token": csrf(client, "/console/leads")}
    )
    assert resend.status_code == 302
    notifier.wait()
    assert app.extensions["kavak"].store.console_get("delivery", LEAD_USER)["state"] == "sent"


def test_a_webhook_url_needs_its_secret():
    from settings import SettingsError, load_settings

    with pytest.raises(SettingsError, match="LEAD_WEBHOOK_SECRET"):
        load_settings(lead_webhook_url="https://crm.example/leads", _env_file=None)


# --- the session key ------------------------------------------------------------------------


def test_without_secret_key_one_is_made_once_private_and_never_logged(make_app, tmp_path, caplog):
    settings = {**yaml_copies(tmp_path), "secret_key": "", "admin_token": TOKEN}
    first = make_app(**settings)
    key_file = tmp_path / "var" / "console_secret_key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    second = make_app(**settings)
    assert first.secret_key == second.secret_key == key_file.read_text().strip()
    assert first.secret_key not in caplog.text


def test_a_file_the_server_cannot_write_is_refused_with_a_reason(client, tmp_path, monkeypatch):
    """A container whose image holds the YAML read-only: a reason, not a traceback."""
    import console.yaml_edit

    def read_only(path, text):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(console.yaml_edit, "_write", read_only)
    before = (tmp_path / "knowledge.yml").read_text(encoding="utf-8")
    token = csrf(client, "/console/answers/warranty_returns")
    response = client.post(
        "/console/answers/warranty_returns",
        data={"csrf_token": token, "answer": "Nueva", "action": "save"},
    )
    page = response.get_data(as_text=True)
    assert (
        response.status_code == 400 and "no puede escribir" in page and "Permission denied" in page
    )
    assert (tmp_path / "knowledge.yml").read_text(encoding="utf-8") == before
