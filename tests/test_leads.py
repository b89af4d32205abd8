"""Leads an advisor can call: names, phones, e-mails and times are read and validated by the NLU,
never copied from whatever the customer typed (through /chat and /admin/handoffs)."""

from __future__ import annotations

import pytest

HOSTILE_NAMES = [
    "¿y ustedes dónde están?",
    "no sirves para nada",
    "YA TE DIJE MI NOMBRE",
    "eres un bot inútil",
    "pendejo",
    "🤬🤬🤬",
    "😀",
    "x" * 500,
    "a " * 250,
    "<script>alert(1)</script>",
    "'; DROP TABLE handoffs; --",
    "ya te lo dije",
    "que te importa",
    "busco un jetta",
    "¿cuánto cuesta el versa?",
    "no quiero darte mi nombre",
    "asdfghjkl",
    "12345",
    "gracias",
    "me llamo 🤡",
    "orita manejando",  # a sentence of everyday verbs, lowercase like a name typed in a hurry
    "nomas esperando",
]
NAME = "Laura Méndez"


@pytest.mark.parametrize("hostile", HOSTILE_NAMES)
def test_hostile_names_are_never_stored(make_app, hostile):
    app = make_app()
    client = app.test_client()
    for text in ("quiero hablar con un asesor", hostile, NAME, "55 1234 5678", "en la tarde"):
        answer = client.post("/chat", json={"user": "lead-test", "text": text})
        assert answer.status_code == 200
        if text == hostile:  # not even taken for a moment ("Gracias, Orita Manejando")
            assert hostile.strip().title()[:60] not in answer.get_json()["reply"]
    handoffs = client.get("/admin/handoffs").get_json()["handoffs"]
    assert len(handoffs) == 1
    lead = handoffs[0]
    assert lead["name"] == NAME and lead["phone"] == "5512345678"
    assert lead["contact_time"] == "por la tarde"
    # (the phone is checked whole above: "12345" is inside 5512345678)
    assert lead["email"] is None and hostile.strip() not in lead["contact_time"]


def test_a_lead_in_one_message_in_any_order(make_app):
    client = make_app().test_client()
    client.post("/chat", json={"user": "one", "text": "busco un versa"})
    client.post("/chat", json={"user": "one", "text": "el 1"})
    client.post("/chat", json={"user": "one", "text": "con 20% de enganche a 4 años"})
    reply = client.post(
        "/chat",
        json={
            "user": "one",
            "text": "lo quiero, marquenme en la noche al +52 55 8765 4321, soy Jorge Medina, "
            "jorge.medina@mail.com",
        },
    ).get_json()["reply"]
    for part in ("Jorge Medina", "5587654321", "jorge.medina@mail.com", "por la noche", "Versa"):
        assert part in reply
    lead = client.get("/admin/handoffs").get_json()["handoffs"][0]
    assert lead["email"] == "jorge.medina@mail.com" and lead["stock_id"] and lead["plan"]
    assert lead["car"] and "Versa" in lead["car"] and lead["summary"]


@pytest.mark.parametrize(
    "wish",
    [
        "mejor que me escriban aqui, en la chamba no puedo contestar llamadas",
        "te digo que NO me llamen, por whats porfa. es este mismo numero",
        "no les voy a dar mi numero, que me contesten aqui por whats",
        "please just text me here, I can't take calls at work",
    ],
)
def test_a_lead_reached_in_this_chat_needs_no_phone(make_app, wish):
    """ "escríbanme por aquí": the phone question is answered, "no me llamen" beside it refuses
    calls, not the advisor; the lead says so, to the customer, the API and the CSV."""
    app = make_app()
    client = app.test_client()
    for text in ("quiero hablar con un asesor", "Laura Méndez"):
        client.post("/chat", json={"user": "by-chat", "text": text})
    reply = client.post("/chat", json={"user": "by-chat", "text": wish}).get_json()["reply"]
    assert "número" not in reply and "number" not in reply
    client.post("/chat", json={"user": "by-chat", "text": "en la tarde"})
    lead = client.get("/admin/handoffs").get_json()["handoffs"][0]
    assert lead["name"] == "Laura Méndez" and lead["phone"] is None
    assert lead["contact_by"] == "chat"


def test_a_whatsapp_lead_reached_in_this_chat_keeps_its_number(make_app):
    """On WhatsApp the user is the number: "por aquí" keeps it and says no calls."""
    client = make_app().test_client()
    for text in ("asesor", "soy Laura Méndez, escribanme por aqui", "cuando sea"):
        client.post("/chat", json={"user": "5215512345678", "text": text})
    lead = client.get("/admin/handoffs").get_json()["handoffs"][0]
    assert lead["phone"] == "5512345678" and lead["contact_by"] == "chat"


@pytest.mark.parametrize(
    "words",
    [
        "no me escriban por whats, no lo uso",
        "prefiero no dar mis datos, solo estoy viendo por este medio",
        "por whats no, mejor llámenme al 5598765432",
        "no es este número, es el 5598765432",
        "don't message me here, call me please",
    ],
)
def test_a_chat_phrase_taken_back_is_no_chat_lead(make_app, words):
    """Red team: a chat phrase after a "no", or with a refusal of the advisor, is not this chat."""
    client = make_app().test_client()
    for text in ("asesor", "Ana López", words, "en la tarde"):
        client.post("/chat", json={"user": "not-here", "text": text})
    for lead in client.get("/admin/handoffs").get_json()["handoffs"]:
        assert lead["contact_by"] is None


def test_contact_given_after_the_lead_is_stored_not_only_said(make_app):
    """Red team: "5519283746. y en la tarde. ¿me reciben mi camioneta?" after a lead sent with
    no phone: the lead stored again has the phone (not only the reply); a complaint about the
    chat afterwards does not make it a chat lead again, and "llámenme al 55…" is a call."""
    client = make_app().test_client()
    for text in ("asesor", "Ana López", "escríbanme por aquí", "en la tarde"):
        client.post("/chat", json={"user": "after", "text": text})
    text = "5519283746. y en la tarde. ¿me reciben mi camioneta a cuenta?"
    reply = client.post("/chat", json={"user": "after", "text": text}).get_json()["reply"]
    assert "5519283746" in reply
    lead = client.get("/admin/handoffs").get_json()["handoffs"][-1]
    assert lead["phone"] == "5519283746"
    client.post("/chat", json={"user": "after", "text": "mejor llámenme al 5512345678"})
    lead = client.get("/admin/handoffs").get_json()["handoffs"][-1]
    assert lead["phone"] == "5512345678" and lead["contact_by"] is None
    client.post("/chat", json={"user": "after", "text": "this chat is useless"})
    assert client.get("/admin/handoffs").get_json()["handoffs"][-1]["contact_by"] is None
