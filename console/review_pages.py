"""/console/review: messages not understood, grouped; each group taught as an example or ignored."""

from __future__ import annotations

import re

from flask import abort, redirect, render_template, request, url_for

from api.context import app_context
from console import bp
from console.review import DAYS, groups, mark, review_bar
from console.yaml_edit import EditRefused, add_example, label_choices

SHOWN = 100
_KEY = re.compile(r"^[0-9a-f]{32}$")


def _keys() -> list[str]:
    keys = request.form.get("keys", "").split(",")
    if not keys or len(keys) > 1000 or not all(_KEY.match(key) for key in keys):
        abort(400, description="bad_group")
    return keys


@bp.get("/review")
def review():
    context = app_context()
    found = groups(context)
    return render_template(
        "console/review.html",
        groups=found[:SHOWN],
        total=len(found),
        messages=sum(group.count for group in found),
        labels=label_choices(context),
        days=DAYS,
        bar=review_bar(context),
    )


@bp.post("/review/add")
def review_add():
    context = app_context()
    keys, label, text = _keys(), request.form.get("label", ""), request.form.get("text", "")
    try:
        result = add_example(context, label, text)
    except EditRefused as refused:
        page = render_template(
            "console/edit_refused.html",
            refused=refused,
            text=text,
            label=label,
            back=url_for("console.review"),
        )
        return page, 422 if refused.reason == "invalid" else 400
    mark(context, keys, "added", label)
    reading = context.runtime.current.services.extractor.extract(" ".join(text.split()))
    return render_template(
        "console/edit_done.html",
        result=result,
        text=text,
        label=label,
        understood=reading.label,
        back=url_for("console.review"),
    )


@bp.post("/review/ignore")
def review_ignore():
    mark(app_context(), _keys(), "ignored")
    return redirect(url_for("console.review"))
