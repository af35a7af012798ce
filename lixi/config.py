"""Configuration read from the environment, so operators and benchmarks tune Lixi without code edits."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


def _secret_keys() -> list[str]:
    """SECRET_KEYS is a comma-separated list, newest first: the newest signs, all of them verify."""
    raw = _env("SECRET_KEYS", _env("SECRET_KEY", "dev-insecure-change-me"))
    return [key.strip() for key in raw.split(",") if key.strip()]


def _database_url() -> str:
    url = _env("DATABASE_URL", f"sqlite:///{ROOT / 'instance' / 'lixi.db'}")
    # Heroku-style URLs and bare postgresql:// go through psycopg 3, the only driver we ship.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class Config:
    """Every tunable is one environment variable; the README lists them all."""

    def __init__(self) -> None:
        self.SECRET_KEYS = _secret_keys()
        self.SECRET_KEY = self.SECRET_KEYS[0]
        self.SQLALCHEMY_DATABASE_URI = _database_url()
        # A server database can drop idle connections; an SQLite file cannot, so no ping per checkout.
        server_db = not self.SQLALCHEMY_DATABASE_URI.startswith("sqlite")
        self.SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": server_db}
        self.REDIS_URL = _env("REDIS_URL", "redis://127.0.0.1:6379/0")
        self.PUBLIC_BASE_URL = _env("PUBLIC_BASE_URL", "").rstrip("/")
        self.TRUSTED_PROXIES = int(_env("TRUSTED_PROXIES", "0"))

        # Rate limits, in Flask-Limiter's notation ("100 per minute;1000 per hour").
        self.RATE_LIMIT_VALIDATE_PER_IP = _env("RATE_LIMIT_VALIDATE_PER_IP", "120 per minute")
        self.RATE_LIMIT_VALIDATE_PER_KEY = _env("RATE_LIMIT_VALIDATE_PER_KEY", "1200 per minute")
        self.RATE_LIMIT_REDEEM_PER_IP = _env("RATE_LIMIT_REDEEM_PER_IP", "120 per minute")
        self.RATE_LIMIT_REDEEM_PER_KEY = _env("RATE_LIMIT_REDEEM_PER_KEY", "1200 per minute")
        # Failed look-ups (unknown, forged or other-brand codes) per client: the 10th try in
        # five minutes after nine failures is refused, so codes cannot be guessed.
        self.RATE_LIMIT_FAILED_CODES = _env("RATE_LIMIT_FAILED_CODES", "9 per 5 minutes")

        self.RATE_LIMIT_PLAYS_PER_IP = _env("RATE_LIMIT_PLAYS_PER_IP", "600 per minute")
        self.RATE_LIMIT_PLAYS_PER_MEMBER = _env("RATE_LIMIT_PLAYS_PER_MEMBER", "20 per minute")
        self.RATE_LIMIT_PLAYS_PER_DEVICE = _env("RATE_LIMIT_PLAYS_PER_DEVICE", "20 per minute")

        # Staff log-in: failed attempts per account (the lockout) and per client address.
        self.RATE_LIMIT_LOGIN_PER_ACCOUNT = _env("RATE_LIMIT_LOGIN_PER_ACCOUNT", "5 per 15 minutes")
        self.RATE_LIMIT_LOGIN_PER_IP = _env("RATE_LIMIT_LOGIN_PER_IP", "20 per 15 minutes")
        # The merchant page: scans of unknown codes per cashier and per store (guessing by hand).
        self.RATE_LIMIT_FAILED_SCANS_PER_STAFF = _env("RATE_LIMIT_FAILED_SCANS_PER_STAFF", "10 per 5 minutes")
        self.RATE_LIMIT_FAILED_SCANS_PER_STORE = _env("RATE_LIMIT_FAILED_SCANS_PER_STORE", "30 per 5 minutes")
        # The till: purchases recorded on member cards, per cashier and per store (a cashier cannot
        # pump points into a friend's card faster than a real queue moves).
        self.RATE_LIMIT_TILL_PURCHASES_PER_STAFF = _env("RATE_LIMIT_TILL_PURCHASES_PER_STAFF", "60 per hour")
        self.RATE_LIMIT_TILL_PURCHASES_PER_STORE = _env("RATE_LIMIT_TILL_PURCHASES_PER_STORE", "300 per hour")
        # The member's page: reward exchanges per member (whatever link they use) and per client address.
        self.RATE_LIMIT_EXCHANGES_PER_MEMBER = _env("RATE_LIMIT_EXCHANGES_PER_MEMBER", "10 per minute")
        self.RATE_LIMIT_EXCHANGES_PER_IP = _env("RATE_LIMIT_EXCHANGES_PER_IP", "120 per minute")

        # Staff sessions: a signed cookie that lasts a shift; Secure when served over HTTPS.
        self.PERMANENT_SESSION_LIFETIME = timedelta(hours=float(_env("STAFF_SESSION_HOURS", "12")))
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.SESSION_COOKIE_SECURE = (
            _env("SESSION_COOKIE_SECURE", "1" if self.PUBLIC_BASE_URL.startswith("https://") else "0") == "1"
        )
        self.REMEMBER_COOKIE_DURATION = self.PERMANENT_SESSION_LIFETIME
        self.STAFF_MIN_PASSWORD_LENGTH = int(_env("STAFF_MIN_PASSWORD_LENGTH", "10"))

        self.MEMBER_LINK_DAYS = int(_env("MEMBER_LINK_DAYS", "30"))
        # How often a campaign's dashboard page refreshes its figures and charts.
        self.DASHBOARD_REFRESH_SECONDS = float(_env("DASHBOARD_REFRESH_SECONDS", "5"))
        self.WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session cookie

        self.VOID_WINDOW_SECONDS = int(_env("VOID_WINDOW_SECONDS", str(24 * 3600)))
        self.MAX_VOUCHERS_PER_ISSUE = int(_env("MAX_VOUCHERS_PER_ISSUE", "10000"))
        self.QR_CACHE_SECONDS = int(_env("QR_CACHE_SECONDS", str(7 * 24 * 3600)))
        self.IDEMPOTENCY_TTL_HOURS = int(_env("IDEMPOTENCY_TTL_HOURS", "48"))
        # Background jobs (RQ): the longest a job may run (a 100,000-voucher issue takes ~20 s).
        self.JOB_TIMEOUT_SECONDS = int(_env("JOB_TIMEOUT_SECONDS", "1800"))

        # Webhooks: tries per delivery, each POST's timeout, the retry back-off (base × 2**attempts,
        # capped at an hour), how often the worker sweeps for work lost with Redis, and the SSRF
        # guard (endpoints on loopback/private/link-local addresses are refused unless this is 1).
        self.WEBHOOK_MAX_ATTEMPTS = int(_env("WEBHOOK_MAX_ATTEMPTS", "8"))
        self.WEBHOOK_TIMEOUT_SECONDS = float(_env("WEBHOOK_TIMEOUT_SECONDS", "5"))
        self.WEBHOOK_RETRY_BASE_SECONDS = float(_env("WEBHOOK_RETRY_BASE_SECONDS", "1"))
        self.WEBHOOK_SWEEP_SECONDS = int(_env("WEBHOOK_SWEEP_SECONDS", "30"))
        # How long a web worker trusts what it knows of a brand's endpoints (a new endpoint's first
        # events may then wait for the sweep).
        self.WEBHOOK_ENDPOINT_CACHE_SECONDS = float(_env("WEBHOOK_ENDPOINT_CACHE_SECONDS", "10"))
        self.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = _env("WEBHOOK_ALLOW_PRIVATE_ADDRESSES", "0") == "1"

        # Mail (lixi.mail): SMTP_URL is smtp://user:password@host:587?starttls=1 or smtps://…:465;
        # without it mail is written as .eml files to MAIL_FILE_DIR (development). Retries back off
        # as webhooks do (base × 2**attempts, capped at an hour); the sweep re-queues lost sends.
        self.SMTP_URL = _env("SMTP_URL", "")
        self.MAIL_FROM = _env("MAIL_FROM", "Lixi <no-reply@localhost>")
        self.MAIL_FILE_DIR = _env("MAIL_FILE_DIR", str(ROOT / "instance" / "mail"))
        self.MAIL_MAX_ATTEMPTS = int(_env("MAIL_MAX_ATTEMPTS", "8"))
        self.MAIL_TIMEOUT_SECONDS = float(_env("MAIL_TIMEOUT_SECONDS", "10"))
        self.MAIL_RETRY_BASE_SECONDS = float(_env("MAIL_RETRY_BASE_SECONDS", "30"))
        self.MAIL_SWEEP_SECONDS = int(_env("MAIL_SWEEP_SECONDS", "30"))

        # Loyalty's daily job (loyalty.daily: pending points, expiry, notices, tier review,
        # birthdays) also runs in the worker this often; each step is keyed once, so hourly is safe.
        self.LOYALTY_SWEEP_SECONDS = int(_env("LOYALTY_SWEEP_SECONDS", "3600"))

        # Gifting: a claim's one-time code (minutes it lives, wrong tries before it locks, codes
        # one gift may send to one address); the reminder this many days before a gift expires;
        # how often the worker sends due gifts and expires old ones; the claim page's limit per
        # client; the largest bulk file; the smallest lì xì envelope (minor units).
        self.GIFT_CODE_MINUTES = int(_env("GIFT_CODE_MINUTES", "10"))
        self.GIFT_CODE_TRIES = int(_env("GIFT_CODE_TRIES", "5"))
        self.GIFT_CODE_SENDS = int(_env("GIFT_CODE_SENDS", "5"))
        self.GIFT_REMINDER_DAYS = int(_env("GIFT_REMINDER_DAYS", "3"))
        self.GIFT_SWEEP_SECONDS = int(_env("GIFT_SWEEP_SECONDS", "60"))
        self.GIFT_CLAIM_LIMIT = _env("GIFT_CLAIM_LIMIT", "20 per hour")
        # Gifts a member sends (or takes back) from their own pages: each send mails someone.
        self.GIFT_MEMBER_SEND_LIMIT = _env("GIFT_MEMBER_SEND_LIMIT", "10 per hour")
        self.GIFT_BULK_MAX_ROWS = int(_env("GIFT_BULK_MAX_ROWS", "10000"))
        # A bulk file's upload (10,000 rows with long messages) and the rows sent per transaction.
        self.GIFT_BULK_MAX_BYTES = int(_env("GIFT_BULK_MAX_BYTES", str(8 * 1024 * 1024)))
        self.GIFT_BULK_CHUNK = int(_env("GIFT_BULK_CHUNK", "200"))
        self.GIFT_ENVELOPE_FLOOR = int(_env("GIFT_ENVELOPE_FLOOR", "1000"))

        # Bulk issues and CSV exports: the largest bulk issue; vouchers per bulk transaction (a
        # crashed worker redoes at most one chunk, and other SQLite writers wait at most one chunk);
        # rows per page of a streamed export (what an export holds in memory at once).
        self.MAX_BULK_ISSUE = int(_env("MAX_BULK_ISSUE", "100000"))
        self.BULK_ISSUE_CHUNK = int(_env("BULK_ISSUE_CHUNK", "2000"))
        self.EXPORT_CHUNK_ROWS = int(_env("EXPORT_CHUNK_ROWS", "1000"))

        self.RATELIMIT_STORAGE_URI = self.REDIS_URL
        # Seconds the hot paths' limiter (lixi/hotlimits.py) waits for Redis before answering 503.
        self.RATE_LIMIT_REDIS_TIMEOUT = float(_env("RATE_LIMIT_REDIS_TIMEOUT", "0.5"))
        self.RATELIMIT_STRATEGY = "fixed-window"
        # X-RateLimit-* headers cost a Redis round trip per limit on every call; off unless asked.
        # 429s always carry Retry-After.
        self.RATELIMIT_HEADERS_ENABLED = _env("RATELIMIT_HEADERS_ENABLED", "0") == "1"
        # How long a worker trusts an API key it has checked while its revocation listener is
        # connected (a revocation empties every worker's memory at once; see lixi/keycache.py).
        self.API_KEY_CACHE_SECONDS = float(_env("API_KEY_CACHE_SECONDS", "30"))
        # Fail closed: a Redis outage must not turn off the guard on codes.
        self.RATELIMIT_SWALLOW_ERRORS = False
        self.RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = False
        self.RATELIMIT_KEY_PREFIX = _env("RATELIMIT_KEY_PREFIX", "lixi")
        self.RATELIMIT_STORAGE_OPTIONS = {"socket_connect_timeout": 0.5, "socket_timeout": 1.0}

        self.BABEL_DEFAULT_LOCALE = "vi"
        self.BABEL_DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"
        self.BABEL_TRANSLATION_DIRECTORIES = str(ROOT / "translations")
        self.LANGUAGES = ["vi", "en"]

        self.API_TITLE = "Lixi API"
        self.API_VERSION = "v1"
        self.OPENAPI_VERSION = "3.0.3"
        self.OPENAPI_URL_PREFIX = "/"
        self.OPENAPI_JSON_PATH = "openapi.json"
        self.OPENAPI_REDOC_PATH = None
        self.JSON_SORT_KEYS = False
        self.MAX_CONTENT_LENGTH = int(_env("MAX_CONTENT_LENGTH", str(1024 * 1024)))


class TestConfig(Config):
    """Config for the test suite: same environment variables, a throwaway SQLite file by default."""

    TESTING = True
