"""Settings from the environment, validated at start with a clear message (pydantic-settings)."""

from __future__ import annotations

from ipaddress import ip_address
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parent
DEFAULT_GRAPH_API = "https://graph.facebook.com/v21.0"


def _env(*names: str) -> AliasChoices:
    """Accept the new name first, then the previous bot's names, so its users can switch."""
    return AliasChoices(*names)


class Settings(BaseSettings):
    """Everything configurable by environment variable; secrets never appear in repr or logs."""

    model_config = SettingsConfigDict(
        extra="ignore", populate_by_name=True, hide_input_in_errors=True
    )

    whatsapp_verify_token: str = Field(
        "", validation_alias=_env("WHATSAPP_VERIFY_TOKEN", "VERIFY_TOKEN"), repr=False
    )
    whatsapp_access_token: str = Field(
        "", validation_alias=_env("WHATSAPP_ACCESS_TOKEN", "PAGE_ACCESS_TOKEN"), repr=False
    )
    whatsapp_phone_number_id: str = Field(
        "", validation_alias=_env("WHATSAPP_PHONE_NUMBER_ID", "PHONE_NUMBER_ID")
    )
    whatsapp_app_secret: str = Field("", validation_alias=_env("WHATSAPP_APP_SECRET"), repr=False)
    whatsapp_api_base: str = Field(DEFAULT_GRAPH_API, validation_alias=_env("WHATSAPP_API_BASE"))
    whatsapp_timeout: float = Field(10.0, gt=0, le=60, validation_alias=_env("WHATSAPP_TIMEOUT"))
    whatsapp_max_retries: int = Field(3, ge=0, le=10, validation_alias=_env("WHATSAPP_MAX_RETRIES"))
    whatsapp_backoff: float = Field(0.5, ge=0, le=30, validation_alias=_env("WHATSAPP_BACKOFF"))
    openai_api_key: str = Field("", validation_alias=_env("OPENAI_API_KEY"), repr=False)
    openai_base_url: str = Field("", validation_alias=_env("OPENAI_BASE_URL"))
    openai_model: str = Field("gpt-3.5-turbo", validation_alias=_env("OPENAI_MODEL"))
    openai_timeout: float = Field(10.0, gt=0, le=120, validation_alias=_env("OPENAI_TIMEOUT"))
    llm_rephrase: bool = Field(False, validation_alias=_env("LLM_REPHRASE"))
    catalog_path: Path = Field(ROOT / "data" / "catalog.csv", validation_alias=_env("CATALOG_PATH"))
    config_dir: Path = Field(ROOT / "config", validation_alias=_env("CONFIG_DIR"))
    knowledge_path: Path = Field(
        ROOT / "data" / "knowledge.yml", validation_alias=_env("KNOWLEDGE_PATH")
    )
    store_url: str = Field("sqlite:///var/bot.db", validation_alias=_env("STORE_URL"))
    redis_key_prefix: str = Field("kavak:", min_length=1, validation_alias=_env("REDIS_KEY_PREFIX"))
    admin_token: str = Field("", validation_alias=_env("ADMIN_TOKEN"), repr=False)
    metrics_public: bool = Field(False, validation_alias=_env("METRICS_PUBLIC"))
    host: str = Field("127.0.0.1", validation_alias=_env("HOST"))
    port: int = Field(5000, ge=1, le=65535, validation_alias=_env("PORT"))
    log_level: str = Field("INFO", validation_alias=_env("LOG_LEVEL"))
    app_env: Literal["development", "production"] = Field(
        "development", validation_alias=_env("APP_ENV")
    )
    workers_async: bool = Field(True, validation_alias=_env("WEBHOOK_ASYNC"))
    turn_threads: int = Field(32, ge=1, le=256, validation_alias=_env("TURN_THREADS"))
    recover_after_seconds: float = Field(60.0, ge=0, validation_alias=_env("RECOVER_AFTER_SECONDS"))
    max_job_attempts: int = Field(5, ge=1, le=100, validation_alias=_env("MAX_JOB_ATTEMPTS"))
    messages_per_minute: int = Field(20, ge=0, validation_alias=_env("MESSAGES_PER_MINUTE"))
    max_queued_messages: int = Field(2000, ge=1, validation_alias=_env("MAX_QUEUED_MESSAGES"))
    max_body_bytes: int = Field(1_048_576, ge=1024, validation_alias=_env("MAX_BODY_BYTES"))
    # the staff console (/console): its session cookie's key (generated under VAR_DIR when unset)
    secret_key: str = Field("", validation_alias=_env("SECRET_KEY"), repr=False)
    var_dir: Path = Field(ROOT / "var", validation_alias=_env("VAR_DIR"))
    preferred_url_scheme: Literal["http", "https"] = Field(
        "http", validation_alias=_env("PREFERRED_URL_SCHEME")
    )
    # proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (nginx on this host: 127.0.0.1)
    trusted_proxies: str = Field("", validation_alias=_env("TRUSTED_PROXIES"))
    console_timezone: str = Field("America/Mexico_City", validation_alias=_env("CONSOLE_TIMEZONE"))
    # an example-stage decision scoring less than min_score + this goes to "Sin entender"
    review_margin: float = Field(0.1, ge=0, le=1, validation_alias=_env("REVIEW_MARGIN"))
    lead_webhook_url: str = Field("", validation_alias=_env("LEAD_WEBHOOK_URL"))
    lead_webhook_secret: str = Field("", validation_alias=_env("LEAD_WEBHOOK_SECRET"), repr=False)
    lead_webhook_retries: int = Field(4, ge=0, le=10, validation_alias=_env("LEAD_WEBHOOK_RETRIES"))
    lead_webhook_backoff: float = Field(
        1.0, ge=0, le=60, validation_alias=_env("LEAD_WEBHOOK_BACKOFF")
    )

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return level

    @field_validator("store_url")
    @classmethod
    def _known_store(cls, value: str) -> str:
        if not value.startswith(("sqlite://", "redis://", "rediss://", "memory://")):
            raise ValueError("must start with sqlite://, redis:// or memory://")
        return value

    @field_validator("console_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("must be an IANA time zone such as America/Mexico_City") from None
        return value

    @field_validator("lead_webhook_url")
    @classmethod
    def _web_url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @model_validator(mode="after")
    def _signed_webhook(self) -> Settings:
        if self.lead_webhook_url and not self.lead_webhook_secret:
            raise ValueError("LEAD_WEBHOOK_URL needs LEAD_WEBHOOK_SECRET (the HMAC key)")
        return self

    @property
    def trusted_proxy_addresses(self) -> frozenset[str]:
        return frozenset(part.strip() for part in self.trusted_proxies.split(",") if part.strip())

    @property
    def whatsapp_enabled(self) -> bool:
        return bool(self.whatsapp_access_token and self.whatsapp_phone_number_id)

    @property
    def llm_enabled(self) -> bool:
        return bool(self.openai_api_key)

    @property
    def production(self) -> bool:
        return self.app_env == "production"


class SettingsError(SystemExit):
    """Raised at start when the environment is wrong: one readable line per problem."""


def is_loopback_host(host: str) -> bool:
    """'127.0.0.1', '::1', '[::1]', 'localhost': only this machine can connect. '0.0.0.0' and ''
    mean every interface."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ip_address(name).is_loopback
    except ValueError:
        return False


def exposure_problems(settings: Settings, hosts: list[str]) -> list[str]:
    """What is unsafe about serving on `hosts` with these settings (empty when nothing is)."""
    public = [host for host in hosts if not is_loopback_host(host)]
    if not public:
        return []
    where = ", ".join(host or "every interface" for host in public)
    problems = []
    if not settings.admin_token:
        problems.append(
            f"listening on {where} with no ADMIN_TOKEN: set it, or /admin and /chat answer "
            "whoever reaches them through a proxy on this host"
        )
    if not settings.whatsapp_app_secret:
        problems.append(
            f"listening on {where} with no WHATSAPP_APP_SECRET: anyone can post forged "
            "WhatsApp messages to /webhook"
        )
    return problems


def refuse_in_production(settings: Settings, problems: list[str], log) -> None:
    """Log each problem as an ERROR; with APP_ENV=production, refuse to start."""
    for problem in problems:
        log.error(problem)
    if problems and settings.production:
        raise SettingsError(
            "Refusing to start with APP_ENV=production:\n"
            + "\n".join(f"  {problem}" for problem in problems)
        )


def load_settings(**overrides: object) -> Settings:
    """Read the environment (overrides win); exit with a clear message when a value is invalid."""
    try:
        return Settings(**overrides)
    except ValidationError as error:
        lines = []
        for problem in error.errors():
            name = ".".join(str(part) for part in problem["loc"]).upper()
            lines.append(f"  {name}: {problem['msg']}")
        raise SettingsError("Invalid configuration:\n" + "\n".join(lines)) from None
