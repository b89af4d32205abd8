"""The LLM, a guest: answers free-form questions from verified context only, or rephrases a
rule-based reply; every answer passes the grounding guard or is not used. Never raises.

Any OpenAI-compatible server works (OpenAI, vLLM, Ollama, llama.cpp) through the official client.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, Protocol

import openai
from prometheus_client import CollectorRegistry, Counter, Histogram
from pydantic import BaseModel, Field

from tools.grounding import NameMatcher, check_grounding

log = logging.getLogger("llm")

ANSWER_PROMPT = (
    "Eres el asistente de Kavak (autos seminuevos en México) en WhatsApp. Responde en español "
    "mexicano, breve (máximo 3 frases cortas), amable y claro. Usa SOLO la información del "
    "contexto que te doy. Si el contexto no responde la pregunta, di que no tienes esa información "
    "y ofrece que un asesor lo contacte. Nunca menciones precios, tasas, porcentajes, años, "
    "cantidades ni autos que no estén en el contexto. No uses tablas ni Markdown, salvo *negritas*."
)
REPHRASE_PROMPT = (
    "Reescribe el mensaje de un asistente de autos de Kavak para WhatsApp de forma más natural y "
    "cálida, en español mexicano. Conserva EXACTAMENTE cada número, precio, porcentaje, año, "
    "nombre de auto y cada elemento de las listas; no agregues información. "
    "Devuelve solo el mensaje."
)


class LLMSettings(BaseModel):
    api_key: str | None = None
    base_url: str | None = None
    model: str = "gpt-3.5-turbo"
    timeout: float = 10.0
    max_retries: int = 1
    breaker_failures: int = 3
    breaker_cooldown: float = 60.0
    max_tokens: int = 300
    temperature: float = 0.2


class LLMLimits(BaseModel):
    """What the YAML allows the LLM (dialog.yml's llm block): how much of a message it reads, how
    many answers per customer and for everyone per hour, which claims it must not invent."""

    max_question_chars: int = 500
    per_user_per_hour: int = 20
    global_per_hour: int = 1000
    claim_words: list[str] = Field(default_factory=list)


BUDGET_WINDOW_SECONDS = 3600
EVERYONE = ""  # the user id of the budget all customers share


class EventCounter(Protocol):
    def __call__(self, scope: str, user: str, window_seconds: int) -> int:
        """Count one event of `scope` for `user` and return how many fell in the window."""


class LLMContext(BaseModel):
    knowledge: list[str] = Field(default_factory=list)
    car: dict[str, Any] | None = None
    history: list[str] = Field(default_factory=list)

    def sources(self) -> list[str]:
        car = [f"{key}: {value}" for key, value in (self.car or {}).items()]
        return [*self.knowledge, *car]

    def as_prompt(self) -> str:
        parts = []
        if self.knowledge:
            parts.append("Información de Kavak:\n" + "\n---\n".join(self.knowledge))
        if self.car:
            rows = "\n".join(f"{key}: {value}" for key, value in self.car.items())
            parts.append("Auto que el cliente está viendo:\n" + rows)
        if self.history:
            parts.append("Conversación reciente:\n" + "\n".join(self.history[-6:]))
        return "\n\n".join(parts) or "(sin contexto)"


class LLMResult(BaseModel):
    text: str | None = None
    used: bool = False
    reason: str = "ok"
    latency_ms: float = 0.0
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    unsupported: list[str] = Field(default_factory=list)


class LLMMetrics(Protocol):
    def record(self, kind: str, outcome: str, latency_s: float, prompt_tokens: int | None,
               completion_tokens: int | None) -> None: ...  # fmt: skip


class NullLLMMetrics:
    def record(self, kind, outcome, latency_s, prompt_tokens, completion_tokens) -> None:
        """No metrics wanted (tests, the terminal chat)."""


class PrometheusLLMMetrics:
    def __init__(self, registry: CollectorRegistry):
        self.calls = Counter("kavak_llm_calls_total", "LLM calls by kind and outcome",
                             ["kind", "outcome"], registry=registry)  # fmt: skip
        self.tokens = Counter("kavak_llm_tokens_total", "LLM tokens used", ["type"],
                              registry=registry)  # fmt: skip
        self.latency = Histogram("kavak_llm_latency_seconds", "LLM call latency", ["kind"],
                                 registry=registry)  # fmt: skip

    def record(self, kind, outcome, latency_s, prompt_tokens, completion_tokens) -> None:
        self.calls.labels(kind=kind, outcome=outcome).inc()
        self.latency.labels(kind=kind).observe(latency_s)
        self.tokens.labels(type="prompt").inc(prompt_tokens or 0)
        self.tokens.labels(type="completion").inc(completion_tokens or 0)


class CircuitBreaker:
    """Open after N consecutive failures; skip calls for `cooldown` seconds; then one trial."""

    def __init__(self, failures: int, cooldown: float, clock: Callable[[], float] = time.monotonic):
        self.failures, self.cooldown, self.clock = failures, cooldown, clock
        self._count, self._opened_at, self._trial = 0, None, False
        self._lock = threading.Lock()

    def allow(self) -> bool:
        with self._lock:
            if self._opened_at is None:
                return True
            if self.clock() - self._opened_at >= self.cooldown and not self._trial:
                self._trial = True  # half-open: one call decides
                return True
            return False

    def success(self) -> None:
        with self._lock:
            self._count, self._opened_at, self._trial = 0, None, False

    def failure(self) -> None:
        with self._lock:
            self._count += 1
            if self._trial or self._count >= self.failures:
                self._opened_at, self._trial = self.clock(), False

    @property
    def is_open(self) -> bool:
        return self._opened_at is not None


class LLMClient:
    def __init__(
        self,
        settings: LLMSettings,
        metrics: LLMMetrics | None = None,
        vocabulary: Iterable[str] = (),
        clock: Callable[[], float] = time.monotonic,
        counter: EventCounter | None = None,
    ):
        self.settings = settings
        self.metrics = metrics or NullLLMMetrics()
        self.breaker = CircuitBreaker(settings.breaker_failures, settings.breaker_cooldown, clock)
        self.names = NameMatcher(vocabulary)
        self.counter = counter  # budgets are counted in the store: shared by every worker
        self.configure(LLMLimits())
        self._client: openai.OpenAI | None = None
        self._client_lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return bool(self.settings.api_key)

    def set_vocabulary(self, names: Iterable[str]) -> None:
        self.names = NameMatcher(names)

    def configure(self, limits: LLMLimits) -> None:
        """The YAML's limits (called on every configuration load)."""
        self.limits, self.claims = limits, NameMatcher(limits.claim_words)

    def answer_question(
        self, question: str, context: LLMContext, user: str | None = None
    ) -> LLMResult:
        """Sources are the context only: the customer's question is never evidence."""
        messages = [
            {"role": "system", "content": ANSWER_PROMPT},
            {"role": "system", "content": "Contexto:\n" + context.as_prompt()},
            {"role": "user", "content": question[: self.limits.max_question_chars]},
        ]
        return self._call("answer", messages, sources=context.sources(), user=user)

    def rephrase(self, reply: str, context: list[str], user: str | None = None) -> LLMResult:
        messages = [
            {"role": "system", "content": REPHRASE_PROMPT},
            {"role": "user", "content": reply},
        ]
        return self._call("rephrase", messages, sources=[reply, *context], user=user)

    def _call(self, kind: str, messages: list[dict], sources: list[str],
              user: str | None) -> LLMResult:  # fmt: skip
        if not self.enabled:
            return LLMResult(reason="disabled")
        if not self._within_budget(user):
            self.metrics.record(kind, "budget_spent", 0.0, None, None)
            return LLMResult(reason="budget_spent")
        if not self.breaker.allow():
            self.metrics.record(kind, "circuit_open", 0.0, None, None)
            return LLMResult(reason="circuit_open")
        started = time.perf_counter()
        result = self._complete(messages)
        result.latency_ms = (time.perf_counter() - started) * 1000
        if result.reason == "ok":
            self.breaker.success()
            self._guard(result, sources)
        elif result.reason not in ("empty",):
            self.breaker.failure()
        self.metrics.record(kind, result.reason, result.latency_ms / 1000,
                            result.prompt_tokens, result.completion_tokens)  # fmt: skip
        log.info(
            "llm %s %s in %.0f ms (tokens %s/%s)", kind, result.reason, result.latency_ms,
            result.prompt_tokens, result.completion_tokens,
        )  # fmt: skip
        return result

    def _within_budget(self, user: str | None) -> bool:
        """One more answer for this customer and for everyone this hour (counted even when
        refused: asking again does not help)."""
        if self.counter is None or user is None:
            return True
        limits = self.limits
        if self.counter("llm", user, BUDGET_WINDOW_SECONDS) > limits.per_user_per_hour:
            return False
        return self.counter("llm", EVERYONE, BUDGET_WINDOW_SECONDS) <= limits.global_per_hour

    def _guard(self, result: LLMResult, sources: list[str]) -> None:
        grounding = check_grounding(result.text or "", sources, self.names, self.claims)
        if grounding.ok:
            result.used = True
            return
        log.warning("llm text discarded, not grounded: %s", grounding.unsupported)
        result.text, result.used, result.reason = None, False, "ungrounded"
        result.unsupported = grounding.unsupported

    def _complete(self, messages: list[dict]) -> LLMResult:
        try:
            response = self._openai().chat.completions.create(
                model=self.settings.model,
                messages=messages,
                max_tokens=self.settings.max_tokens,
                temperature=self.settings.temperature,
            )
        except openai.APITimeoutError:
            return LLMResult(reason="timeout")
        except openai.RateLimitError:
            return LLMResult(reason="rate_limited")
        except openai.APIStatusError as error:
            return LLMResult(reason="server_error" if error.status_code >= 500 else "error")
        except openai.APIConnectionError:
            return LLMResult(reason="connection_error")
        except Exception as error:  # malformed bodies surface as many exception types
            log.warning("llm response unusable: %s", type(error).__name__)
            return LLMResult(reason="malformed")
        return _read(response)

    def _openai(self) -> openai.OpenAI:
        with self._client_lock:
            if self._client is None:
                self._client = openai.OpenAI(
                    api_key=self.settings.api_key,
                    base_url=self.settings.base_url or None,
                    timeout=self.settings.timeout,
                    max_retries=self.settings.max_retries,
                )
            return self._client


def _read(response: Any) -> LLMResult:
    try:
        choices = response.choices
        text = (choices[0].message.content or "").strip() if choices else ""
    except (AttributeError, IndexError, TypeError):
        return LLMResult(reason="malformed")
    usage = getattr(response, "usage", None)
    prompt = getattr(usage, "prompt_tokens", None)
    completion = getattr(usage, "completion_tokens", None)
    if not text:
        return LLMResult(reason="empty", prompt_tokens=prompt, completion_tokens=completion)
    return LLMResult(text=text, prompt_tokens=prompt, completion_tokens=completion)
