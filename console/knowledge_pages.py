"""/console/answers: each knowledge answer of data/knowledge.yml, shown as WhatsApp shows it,
edited with a preview, checked and reloaded like any staff edit."""

from __future__ import annotations

from flask import abort, render_template, request, url_for

from api.context import app_context
from console import bp
from console.yaml_edit import EditRefused, set_answer, shown_path
from tools.knowledge import MAX_ANSWER_CHARS


def _entry(topic: str):
    entry = app_context().runtime.current.services.knowledge.entries.get(topic)
    if entry is None:
        abort(404, description="unknown_topic")
    return entry


@bp.get("/answers")
def answers():
    knowledge = app_context().runtime.current.services.knowledge
    return render_template(
        "console/answers.html", entries=knowledge.data.entries, source=shown_path(knowledge.source)
    )


@bp.get("/answers/<topic>")
def answer_form(topic: str):
    entry = _entry(topic)
    return render_template(
        "console/answer_edit.html",
        entry=entry,
        text=entry.answer,
        limit=MAX_ANSWER_CHARS,
        previewing=False,
    )


@bp.post("/answers/<topic>")
def answer_save(topic: str):
    entry = _entry(topic)
    text = request.form.get("answer", "").replace("\r\n", "\n")
    if len(text) > 10 * MAX_ANSWER_CHARS:
        abort(400, description="answer_too_long")
    if request.form.get("action") == "preview":
        return render_template(
            "console/answer_edit.html",
            entry=entry,
            text=text,
            limit=MAX_ANSWER_CHARS,
            previewing=True,
        )
    context = app_context()
    try:
        result = set_answer(context, topic, text)
    except EditRefused as refused:
        page = render_template(
            "console/edit_refused.html",
            refused=refused,
            text=text,
            label=f"knowledge/{topic}",
            back=url_for("console.answer_form", topic=topic),
        )
        return page, 422 if refused.reason == "invalid" else 400
    return render_template(
        "console/edit_done.html",
        result=result,
        text=None,
        label=topic,
        understood=None,
        back=url_for("console.answers"),
    )
