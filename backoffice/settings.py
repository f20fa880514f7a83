"""Settings from the environment (prefix ``BACKOFFICE_``); every field says what it does.

``backoffice config --json`` prints the effective values with secrets hidden.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["DEFAULT_ENGAGEMENT", "Settings", "engagement_schema", "get_settings", "reset_settings"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BACKOFFICE_", extra="ignore")

    home: Path = Field(
        default=Path(".backoffice"),
        description="Directory for the SQLite store, evidence files and reports.",
    )
    engagement: str = Field(
        default="default",
        description="The engagement (client) a command works in when it names none with --engagement; "
        "each engagement has its own store (HOME/engagements/NAME on SQLite, schema eng_NAME on "
        "PostgreSQL), `backoffice engagements add NAME` creates one.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the store; default is SQLite (WAL) at HOME/backoffice.db. "
        "Use postgresql+psycopg://... to share one store between machines.",
    )
    audit_key: SecretStr | None = Field(
        default=None,
        description="Optional HMAC key for the audit chain; without it entries are plain sha256-chained.",
    )
    audit_digest_dir: Path | None = Field(
        default=None,
        description="Where signed audit digest files are written, one per period (default HOME/audit-digests); "
        "put it outside the database's reach (another machine, write-once storage) so a database writer "
        "cannot cut or wipe the log undetected.",
    )
    audit_digest_minutes: int = Field(
        default=60, ge=1, description="Period of the audit digest files: at most one is written per period."
    )
    lease_minutes: int = Field(
        default=30, ge=1, description="How long a claim lasts before the item returns to the queue."
    )
    delegated_limit: Decimal = Field(
        default=Decimal("10000.00"),
        description="Amount (company currency) up to which a team lead may approve; above it an approver must.",
    )
    company_currency: str = Field(default="EUR", description="Currency of absolute tolerances and limits.")
    role_change_hours: int = Field(
        default=72,
        ge=1,
        description="How long a requested role change waits for a second admin's confirmation.",
    )
    mode: Literal["development", "production"] = Field(
        default="development",
        description="production: a run whose bot's rule-set version (code and params) has no approved "
        "change-control record is refused (`backoffice rules propose/approve`); development (the "
        "default on a laptop): it runs, and says so.",
    )
    batch_size: int = Field(default=500, ge=1, description="Items per Prefect task in a bot run.")
    processing_lease_minutes: int = Field(
        default=30,
        ge=1,
        description="How long a run owns the items of a batch it is processing; after that (or once the "
        "run is known dead) another run may take them over.",
    )
    retries: int = Field(default=3, ge=0, description="Retries of a transient failure before queuing it.")
    retry_backoff_seconds: float = Field(
        default=0.5, ge=0, description="First retry delay; doubles on each retry."
    )
    pdf_timeout_seconds: float = Field(
        default=30.0, gt=0, description="Wall time one PDF may take to read; longer is an INPUT error."
    )
    pdf_max_memory_mb: int = Field(
        default=1024, ge=128, description="Address space of the worker that reads one PDF (RLIMIT_AS)."
    )
    pdf_max_inflated_mb: int = Field(
        default=256, ge=1, description="Bytes one PDF's compressed streams may inflate to, in total."
    )
    ocr_timeout_seconds: float = Field(
        default=180.0,
        gt=0,
        description="Wall time one image-only PDF may take to read with OCR (Tesseract); longer is an "
        "INPUT error.",
    )
    ocr_max_pages: int = Field(
        default=10, ge=1, description="Image-only pages of one PDF that are OCRed; more is an INPUT error."
    )
    ocr_dpi: int = Field(default=300, ge=72, le=600, description="Resolution image pages are OCRed at.")
    ocr_languages: str = Field(
        default="eng+deu+fra+nld", description="Tesseract languages (traineddata names joined by '+')."
    )
    ocr_min_confidence: float = Field(
        default=0.8,
        ge=0,
        le=1,
        description="An OCR-read header field below this confidence (reader and OCR word confidence, "
        "0..1) is an INV-LOW-CONFIDENCE exception with its page region as evidence.",
    )
    notify_events: str = Field(
        default="sla_at_risk,sla_breach,escalation,run_failed,incident",
        description="Events that send a notification, comma-separated (sla_at_risk, sla_breach, "
        "escalation, run_failed, incident); empty: none.",
    )
    notify_smtp_host: str | None = Field(
        default=None, description="SMTP server for e-mail notifications; unset: no e-mail."
    )
    notify_smtp_port: int = Field(default=25, ge=1, le=65535, description="SMTP port.")
    notify_smtp_starttls: bool = Field(
        default=False, description="Upgrade the SMTP connection with STARTTLS."
    )
    notify_smtp_user: str | None = Field(default=None, description="SMTP login (with notify_smtp_password).")
    notify_smtp_password: SecretStr | None = Field(default=None, description="SMTP password.")
    notify_smtp_from: str = Field(default="backoffice@localhost", description="Sender of notification mails.")
    notify_smtp_to: str = Field(default="", description="Recipients of notification mails, comma-separated.")
    notify_webhook_urls: str = Field(
        default="", description="URLs that receive each notification as a JSON POST, comma-separated."
    )
    notify_webhook_secret: SecretStr | None = Field(
        default=None,
        description="Key of the webhook's HMAC-SHA256 signature header (X-Backoffice-Signature: "
        "sha256=<hex of the body>); unset: unsigned.",
    )
    notify_timeout_seconds: float = Field(default=5.0, gt=0, description="Timeout of one delivery attempt.")
    notify_retries: int = Field(default=2, ge=0, description="Retries of a failed delivery (per channel).")
    notify_retry_backoff_seconds: float = Field(
        default=0.5, ge=0, description="First delivery retry delay; doubles on each retry."
    )
    storm_max_exceptions: int = Field(
        default=50000,
        ge=1,
        description="A run that queues more exceptions than this stops (rule storm): one incident, "
        "the rest of its items left for a rerun.",
    )
    storm_max_rate: float = Field(
        default=0.9,
        gt=0,
        le=1,
        description="A run whose share of exceptions among checked items exceeds this, once "
        "storm_min_items are checked, stops as a rule storm.",
    )
    storm_min_items: int = Field(
        default=1000, ge=1, description="Items a run checks before its exception rate is judged."
    )
    breaker_failures: int = Field(
        default=5,
        ge=1,
        description="Consecutive system failures (timeouts, 5xx, missing elements) after which a run "
        "stops as 'target down' (circuit breaker): one incident, the items not acted on left for a rerun.",
    )
    prefect_home: str | None = Field(
        default=None,
        validation_alias="PREFECT_HOME",
        description="Prefect's home (PREFECT_HOME, read as Prefect reads it): the CLI reaps embedded "
        "Prefect servers of this home left behind by a killed run.",
    )
    at_risk_fraction: float = Field(
        default=0.75,
        gt=0,
        lt=1,
        description="Share of an SLA after which an item is 'at risk'.",
    )
    auto_assign: bool = Field(
        default=False,
        description="The escalate-overdue flow (backoffice escalate, every 15 min when deployed) also "
        "assigns open unassigned items to the worker of their owner role with the least open work, "
        "as `backoffice queue assign --auto` does.",
    )
    inbox_host: str = Field(default="127.0.0.1", description="Address the inbox listens on.")
    inbox_port: int = Field(default=8765, description="Port the inbox listens on.")
    inbox_threads: int = Field(
        default=16,
        ge=1,
        le=200,
        description="Threads that run the inbox's requests. Python runs one of them at a time, so more "
        "threads do not serve more pages; they make a request holding the store's write lock wait "
        "longer for the interpreter.",
    )
    inbox_workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description="Processes serving the inbox on one port (each with its threads); up to one per "
        "CPU core the inbox may use.",
    )
    inbox_secure_cookie: bool = Field(
        default=False,
        description="Mark the inbox session cookie Secure (serving behind HTTPS); as `backoffice inbox "
        "--secure-cookie`.",
    )
    session_secret: SecretStr | None = Field(
        default=None,
        description="Key that signs inbox session cookies; generated and kept in HOME/session.key if unset.",
    )
    session_max_age_minutes: int = Field(default=480, description="Inbox sessions expire after this long.")
    session_idle_minutes: int = Field(
        default=30, ge=1, description="Inbox sessions also end after this long without a request."
    )
    token_days: int = Field(
        default=30, ge=1, le=365, description="Default lifetime of a personal API token (at most 365 days)."
    )
    token: SecretStr | None = Field(
        default=None,
        description="The personal API token the CLI sends with --server (BACKOFFICE_TOKEN).",
    )

    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'backoffice.db').resolve()}"

    def for_engagement(self, name: str) -> Settings:
        """The settings of engagement ``name``'s own store: its home under HOME/engagements/NAME, its
        SQLite file there (or, on PostgreSQL, the same database with the schema ``eng_NAME`` first
        on the search path), its audit digests in a directory of its own."""
        if name == DEFAULT_ENGAGEMENT:
            return self
        home = self.home / "engagements" / name
        url = self.database_url
        if url and url.startswith("sqlite"):
            db = Path(url.split("///", 1)[-1])
            url = f"sqlite:///{(db.parent / 'engagements' / name / db.name).resolve()}"
        elif url:
            url = _with_search_path(url, engagement_schema(name))
        digests = self.audit_digest_dir / name if self.audit_digest_dir is not None else None
        return self.model_copy(
            update={"engagement": name, "home": home, "database_url": url, "audit_digest_dir": digests}
        )

    @property
    def evidence_dir(self) -> Path:
        return self.home / "evidence"

    @property
    def digest_dir(self) -> Path:
        return self.audit_digest_dir if self.audit_digest_dir is not None else self.home / "audit-digests"

    @property
    def reports_dir(self) -> Path:
        return self.home / "reports"


DEFAULT_ENGAGEMENT = "default"


def engagement_schema(name: str) -> str:
    """The PostgreSQL schema of engagement ``name`` (names are checked: lowercase, digits, - and _)."""
    return "eng_" + name.replace("-", "_")


def _with_search_path(url: str, schema: str) -> str:
    from sqlalchemy.engine import make_url

    u = make_url(url)
    return u.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reset_settings() -> None:
    """Forget cached settings (tests change the environment)."""
    get_settings.cache_clear()
