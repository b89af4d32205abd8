"""Leads: the newest handoff of each customer, with the status sales gave it (new -> contacted ->
won or lost, each change with a note, kept in the store) and its delivery to LEAD_WEBHOOK_URL;
and the CSV export (one row per lead, car and plan as columns, UTF-8 with a BOM for Excel)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field

from api.context import AppContext
from dialog.store.base import Handoff

LEAD = "lead"  # console record kind: status, note and history of a customer's lead
DELIVERY = "delivery"  # console record kind: the last delivery of the lead to the webhook
STATUSES = ("new", "contacted", "won", "lost")
NEXT_STATUSES = {"new": ("contacted",), "contacted": ("won", "lost"), "won": (), "lost": ()}
MAX_NOTE_CHARS = 1000
LEADS_READ = 100_000  # handoffs read for the queue (a customer's corrections are handoffs too)
PLAN_FIELDS = (
    "price",
    "down_payment",
    "down_payment_pct",
    "term_months",
    "monthly_payment",
    "rate",
    "total_paid",
)
CAR_FIELDS = ("make", "model", "year", "version", "km", "price", "transmission", "fuel")
CSV_COLUMNS = (
    "fecha",
    "usuario",
    "nombre",
    "telefono",
    "email",
    "horario",
    "contacto",  # "chat": the advisor writes in the conversation, no calls
    "estado",
    "nota",
    "motivo",
    "stock_id",
    "auto",
    *(f"auto_{field}" for field in CAR_FIELDS),
    *(f"plan_{field}" for field in PLAN_FIELDS),
    "resumen",
)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class StatusChange(BaseModel):
    status: str
    note: str = ""
    at: datetime = Field(default_factory=lambda: datetime.now(UTC))


class LeadStatus(BaseModel):
    status: str = "new"
    note: str = ""
    history: list[StatusChange] = Field(default_factory=list)


class Delivery(BaseModel):
    """The last attempt to send the lead to LEAD_WEBHOOK_URL."""

    state: str = "pending"  # pending, sent, failed
    attempts: int = 0
    error: str = ""
    http_status: int | None = None
    delivered: bool = False  # this lead reached the CRM once (a correction is 'lead.updated')
    at: datetime = Field(default_factory=lambda: datetime.now(UTC))


class LeadRow(BaseModel):
    handoff: Handoff
    status: LeadStatus
    delivery: Delivery | None = None

    @property
    def next_statuses(self) -> tuple[str, ...]:
        return NEXT_STATUSES.get(self.status.status, ())


class LeadError(ValueError):
    """A status change that cannot be made; `code` is worded by the error page."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


def latest_leads(context: AppContext, status: str | None = None) -> list[LeadRow]:
    """The newest handoff per customer, newest first, with its status and delivery."""
    store = context.store
    newest: dict[str, Handoff] = {}
    for handoff in store.handoffs(LEADS_READ):
        known = newest.get(handoff.user)
        if known is None or handoff.at >= known.at:
            newest[handoff.user] = handoff
    statuses, deliveries = store.console_all(LEAD), store.console_all(DELIVERY)
    rows = [
        LeadRow(
            handoff=handoff,
            status=LeadStatus.model_validate(statuses.get(user) or {}),
            delivery=Delivery.model_validate(deliveries[user]) if user in deliveries else None,
        )
        for user, handoff in newest.items()
    ]
    if status:
        rows = [row for row in rows if row.status.status == status]
    return sorted(rows, key=lambda row: row.handoff.at, reverse=True)


def change_status(context: AppContext, user: str, status: str, note: str) -> LeadStatus:
    """Move a lead along new -> contacted -> won/lost (or only add a note to its status)."""
    if status not in STATUSES:
        raise LeadError("unknown_status")
    if len(note) > MAX_NOTE_CHARS:
        raise LeadError("note_too_long")
    if not any(handoff.user == user for handoff in context.store.handoffs(LEADS_READ)):
        raise LeadError("no_lead")
    current = LeadStatus.model_validate(context.store.console_get(LEAD, user) or {})
    if status != current.status and status not in NEXT_STATUSES[current.status]:
        raise LeadError("bad_transition")
    note = note.strip()
    current.history.append(StatusChange(status=status, note=note))
    current.status, current.note = status, note or current.note
    context.store.console_put(LEAD, user, current.model_dump(mode="json"), user=user)
    return current


def car_fields(context: AppContext, handoff: Handoff) -> dict[str, Any]:
    """The catalog's data of the lead's car (empty when it has none or it was sold since)."""
    if handoff.stock_id is None:
        return {}
    car = context.runtime.current.services.catalog.get(handoff.stock_id)
    return {field: getattr(car, field) for field in CAR_FIELDS} if car else {}


def csv_bytes(context: AppContext, rows: list[LeadRow]) -> bytes:
    """UTF-8 with a BOM (Excel then reads the accents right), one row per lead."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        handoff, car, plan = row.handoff, car_fields(context, row.handoff), row.handoff.plan or {}
        writer.writerow(
            _cell(value)
            for value in (
                handoff.at.isoformat(timespec="seconds"),
                handoff.user,
                handoff.name,
                handoff.phone,
                handoff.email,
                handoff.contact_time,
                handoff.contact_by,
                row.status.status,
                row.status.note,
                handoff.reason,
                handoff.stock_id,
                handoff.car,
                *(car.get(field) for field in CAR_FIELDS),
                *(plan.get(field) for field in PLAN_FIELDS),
                " | ".join(handoff.summary),
            )
        )
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def _cell(value: object) -> object:
    """Text that a spreadsheet would run as a formula is quoted ('=HYPERLINK(...)' stays text)."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value
