"""/console/leads: the handoff queue, status changes, the CSV export, sending again to the CRM."""

from __future__ import annotations

from datetime import datetime

from flask import Response, abort, redirect, render_template, request, url_for

from api.context import app_context
from console import bp
from console.leads import STATUSES, LeadError, change_status, csv_bytes, latest_leads
from console.pages import MAX_USER_CHARS, page_number

PAGE_SIZE = 50


def _status_filter() -> str | None:
    status = request.args.get("status", "")
    if status and status not in STATUSES:
        abort(400, description="unknown_status")
    return status or None


@bp.get("/leads")
def leads():
    status, page = _status_filter(), page_number()
    context = app_context()
    rows = latest_leads(context, status)
    pages = max(1, -(-len(rows) // PAGE_SIZE))
    if page > pages:
        abort(400, description="bad_page")
    notifier = context.extras["lead_notifier"]
    return render_template(
        "console/leads.html",
        rows=rows[(page - 1) * PAGE_SIZE : page * PAGE_SIZE],
        total=len(rows),
        status=status,
        statuses=STATUSES,
        page=page,
        pages=pages,
        webhook=notifier.enabled,
        failed=sum(1 for row in rows if row.delivery and row.delivery.state == "failed"),
    )


@bp.get("/leads.csv")
def leads_csv():
    context = app_context()
    body = csv_bytes(context, latest_leads(context, _status_filter()))
    name = f"leads-{datetime.now():%Y%m%d-%H%M}.csv"
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _user_of(user: str) -> str:
    if len(user) > MAX_USER_CHARS:
        abort(400, description="user_too_long")
    return user


@bp.post("/leads/<path:user>/status")
def lead_status(user: str):
    try:
        change_status(
            app_context(),
            _user_of(user),
            request.form.get("status", ""),
            request.form.get("note", ""),
        )
    except LeadError as error:
        abort(404 if error.code == "no_lead" else 400, description=error.code)
    return redirect(
        url_for("console.leads", status=request.args.get("status") or None) + "#" + user
    )


@bp.post("/leads/<path:user>/resend")
def lead_resend(user: str):
    context = app_context()
    notifier = context.extras["lead_notifier"]
    if not notifier.enabled:
        abort(400, description="no_webhook")
    found = [row for row in latest_leads(context) if row.handoff.user == _user_of(user)]
    if not found:
        abort(404, description="no_lead")
    notifier.notify(found[0].handoff)  # in the background: retries may take a minute
    return redirect(url_for("console.leads") + "#" + user)
