"""Financing arithmetic: amortised monthly payments, suggested plans, what a budget affords.

Monthly payment = P·r / (1 − (1 + r)^−n), with r = annual rate / 12 and n the term in months.
Parameters come from config/financing.yml; nothing here knows about WhatsApp or the dialog.
"""

from __future__ import annotations

import math
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from tools.yamlio import load_model

TOLERANCE = 0.5  # pesos: "10% of 313,999" typed as 31,400 is still the minimum


class FinancingConfig(BaseModel):
    """config/financing.yml."""

    model_config = ConfigDict(extra="forbid")

    annual_rate: float = Field(ge=0, lt=1)
    terms_years: list[int] = Field(min_length=1)
    suggested_down_payment_pcts: list[float] = Field(min_length=1)
    min_down_payment_pct: float = Field(ge=0, lt=100)
    default_term_years: int
    default_down_payment_pct: float = Field(gt=0, lt=100)

    @field_validator("terms_years")
    @classmethod
    def _sorted_positive(cls, terms: list[int]) -> list[int]:
        if any(term <= 0 for term in terms) or terms != sorted(set(terms)):
            raise ValueError("terms must be positive whole years, ascending, without repeats")
        return terms

    @field_validator("suggested_down_payment_pcts")
    @classmethod
    def _percentages(cls, pcts: list[float]) -> list[float]:
        if any(not 0 < pct < 100 for pct in pcts):
            raise ValueError("suggested down payments are percentages between 0 and 100")
        return sorted(pcts)

    @model_validator(mode="after")
    def _defaults_allowed(self) -> FinancingConfig:
        if self.default_term_years not in self.terms_years:
            raise ValueError(f"default_term_years must be one of {self.terms_years}")
        if self.default_down_payment_pct < self.min_down_payment_pct:
            raise ValueError("default_down_payment_pct is below min_down_payment_pct")
        return self

    @property
    def term_months(self) -> list[int]:
        return [years * 12 for years in self.terms_years]


def load_financing_config(path: Path | str) -> FinancingConfig:
    return load_model(FinancingConfig, path)


class FinancingError(ValueError):
    """A plan that cannot be made; `code` names the template that explains it to the customer."""

    def __init__(self, code: str, message: str):
        self.code = code
        super().__init__(message)


class Plan(BaseModel):
    price: float
    down_payment: float
    down_payment_pct: float  # percentage points: 20.0 means 20%
    financed: float
    term_months: int
    monthly_payment: float
    total_paid: float  # down payment + every monthly payment
    total_interest: float
    rate: float  # annual, 0.10 = 10%


class Affordability(BaseModel):
    price: float
    term_months: int
    down_payment: float
    # the down payment, not the monthly budget, sets the price: it is the minimum share of it
    by_down_payment: bool = False


def monthly_payment(principal: float, annual_rate: float, months: int) -> float:
    if months <= 0:
        raise FinancingError("term_out_of_range", "the term must be at least one month")
    rate = annual_rate / 12
    if rate == 0:
        return principal / months
    return principal * rate / (1 - (1 + rate) ** -months)


def make_plan(
    price: float,
    config: FinancingConfig,
    down_payment: float | None = None,
    down_payment_pct: float | None = None,
    term_months: int | None = None,
) -> Plan:
    """One plan; an unusable down payment or term raises FinancingError with a code."""
    _check_amount(price, down_payment, down_payment_pct)
    if down_payment is None:
        pct = config.default_down_payment_pct if down_payment_pct is None else down_payment_pct
        down_payment = price * pct / 100
    months = config.default_term_years * 12 if term_months is None else term_months
    if down_payment >= price:
        raise FinancingError("down_payment_too_high", "the down payment covers the whole price")
    if down_payment + TOLERANCE < price * config.min_down_payment_pct / 100:
        raise FinancingError("down_payment_too_low", "below the minimum down payment")
    if months not in config.term_months:
        raise FinancingError("term_out_of_range", f"{months} months is not an offered term")
    financed = price - down_payment
    monthly = monthly_payment(financed, config.annual_rate, months)
    return Plan(
        price=price,
        down_payment=down_payment,
        down_payment_pct=round(down_payment / price * 100, 1),
        financed=financed,
        term_months=months,
        monthly_payment=monthly,
        total_paid=down_payment + monthly * months,
        total_interest=monthly * months - financed,
        rate=config.annual_rate,
    )


def _check_amount(price: float, *amounts: float | None) -> None:
    if not math.isfinite(price) or price <= 0:
        raise FinancingError("bad_amount", "the price must be a positive amount")
    for amount in amounts:
        if amount is not None and (not math.isfinite(amount) or amount < 0):
            raise FinancingError("bad_amount", "amounts must be positive")


def suggested_plans(price: float, config: FinancingConfig) -> list[Plan]:
    """Every suggested down payment × every term, down payment first."""
    return [
        make_plan(price, config, down_payment_pct=pct, term_months=months)
        for pct in config.suggested_down_payment_pcts
        for months in config.term_months
    ]


def max_affordable_price(
    down_payment: float | None,
    monthly_budget: float,
    config: FinancingConfig,
    term_months: int | None = None,
    down_payment_pct: float | None = None,
) -> Affordability:
    """The dearest car a monthly budget (and down payment) pays for, over the offered terms (or
    at the term the customer asked for, when it is one of them); with no amount down, the share
    of the price the customer said ("con el 20% de enganche") or the minimum."""
    terms = [term_months] if term_months in config.term_months else config.term_months
    best = Affordability(price=0.0, term_months=terms[-1], down_payment=0.0)
    if not math.isfinite(monthly_budget) or monthly_budget <= 0:
        return best
    min_share = config.min_down_payment_pct / 100
    share = min_share
    if down_payment_pct is not None and config.min_down_payment_pct <= down_payment_pct < 100:
        share = down_payment_pct / 100
    for months in terms:
        financed = _present_value(monthly_budget, config.annual_rate, months)
        if down_payment is None:  # the share said, or the minimum, on top
            price = financed / (1 - share)
            paid = price * share
        else:
            price = financed + down_payment
            capped = bool(min_share) and down_payment / min_share < price
            if capped:
                price = down_payment / min_share
            paid = down_payment
        if price > best.price:
            best = Affordability(price=round(price, 2), term_months=months, down_payment=paid)
            best.by_down_payment = down_payment is not None and capped
    return best


def _present_value(payment: float, annual_rate: float, months: int) -> float:
    rate = annual_rate / 12
    if rate == 0:
        return payment * months
    return payment * (1 - (1 + rate) ** -months) / rate


class Fit(BaseModel):
    """Whether a monthly budget pays for one car, and with which plan."""

    fits: bool
    plan: Plan | None = None  # the shortest term that fits (or the longest, when none fits)
    down_payment_needed: float | None = None  # with the longest term, when it does not fit
    # the same down payment over a longer offered term that fits, when the term asked does not
    longer: Plan | None = None


def budget_fit(
    price: float,
    monthly_budget: float,
    config: FinancingConfig,
    down_payment: float | None = None,
    term_months: int | None = None,
) -> Fit:
    """ "¿Me alcanza con 7 mil al mes?" for a chosen car: the customer's down payment (or the
    minimum), the shortest offered term whose payment fits (only the term they asked for, when
    they did); else the down payment that would."""
    down = price * config.min_down_payment_pct / 100 if down_payment is None else down_payment
    down = min(max(down, price * config.min_down_payment_pct / 100), price)
    terms = [term_months] if term_months in config.term_months else config.term_months
    plans = []
    for months in terms:
        try:
            plans.append(make_plan(price, config, down_payment=down, term_months=months))
        except FinancingError:
            continue
    for plan in plans:
        if plan.monthly_payment <= monthly_budget + TOLERANCE:
            return Fit(fits=True, plan=plan)
    longest = terms[-1]
    needed = price - _present_value(monthly_budget, config.annual_rate, longest)
    longer = None
    if term_months in config.term_months:  # "a 4 años no me alcanza": a longer term may
        for months in (m for m in config.term_months if m > term_months):
            try:
                plan = make_plan(price, config, down_payment=down, term_months=months)
            except FinancingError:
                continue  # a down payment that covers the price: no plan at any term
            if plan.monthly_payment <= monthly_budget + TOLERANCE:
                longer = plan
                break
    return Fit(
        fits=False,
        plan=plans[-1] if plans else None,
        down_payment_needed=max(needed, 0.0),
        longer=longer,
    )
