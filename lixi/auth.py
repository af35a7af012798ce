"""Who is calling: brand API keys (hashed, constant-time compare), staff sessions, and the tenant."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, current_app, g, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from sqlalchemy import select

from lixi.audit import record_audit, stamp_once
from lixi.database import write_transaction
from lixi.errors import ErrorCode, NotFound, Unauthorized, json_error, wants_json
from lixi.extensions import db, login_manager
from lixi.forms import LoginForm
from lixi.keycache import known_keys, listener
from lixi.models import ApiKey, StaffUser
from lixi.plugins import plugged
from lixi.ratelimit import client_ip, shared_limit_from
from lixi.staff import authenticate, load_staff, log_out, normalize_email, normalize_slug, staff_actor

KEY_PREFIX = "lx"
_DUMMY_HASH = hashlib.sha256(b"no such key").hexdigest()


def _hash_key(key: str) -> str:
    # Keys carry 256 random bits, so a fast hash is enough (no password stretching needed).
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_api_key(brand_id: int, name: str = "default") -> tuple[ApiKey, str]:
    """Make a key for the brand; the secret is returned once and only its hash is kept."""
    prefix = secrets.token_hex(6)
    secret = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    api_key = ApiKey(brand_id=brand_id, name=name, prefix=prefix, key_hash=_hash_key(secret))
    db.session.add(api_key)
    db.session.flush()
    record_audit(brand_id, "api_key.created", "api_key", api_key.id, {"name": name, "prefix": prefix})
    return api_key, secret


def issue_api_key(brand_id: int, name: str) -> tuple[ApiKey, str]:
    """A new key, in its own transaction; the secret is shown once."""
    with write_transaction():
        return create_api_key(brand_id, name)


def list_api_keys(brand_id: int) -> list[ApiKey]:
    query = select(ApiKey).where(ApiKey.brand_id == brand_id).order_by(ApiKey.id.desc())
    return list(db.session.execute(query).scalars())


def revoke_api_key(brand_id: int, key_id: int) -> ApiKey:
    """Stops working at once on every worker: the commit announces it (see lixi.keycache)."""
    api_key = db.session.execute(
        select(ApiKey).where(ApiKey.brand_id == brand_id, ApiKey.id == key_id)
    ).scalar()
    if api_key is None:
        raise NotFound("No such API key.")
    stamp_once(api_key, "revoked_at", "api_key.revoked", "api_key", {"prefix": api_key.prefix})
    return api_key


def _parse_bearer(header: str) -> tuple[str, str] | None:
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() != "bearer" or not credentials:
        return None
    key = credentials.strip()
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or not parts[1]:
        return None
    return parts[1], key


def authenticate_api_key(authorization: str | None) -> ApiKey:
    """Resolve `Authorization: Bearer <key>` to a live key, or raise 401 without saying why."""
    parsed = _parse_bearer(authorization or "")
    api_key = None
    if parsed:
        prefix, key = parsed
        api_key = db.session.execute(select(ApiKey).where(ApiKey.prefix == prefix[:24])).scalar_one_or_none()
    presented = _hash_key(parsed[1]) if parsed else _DUMMY_HASH
    stored = api_key.key_hash if api_key else _DUMMY_HASH
    # Compare even when nothing was found, so timing does not tell a wrong prefix from a wrong secret.
    if not hmac.compare_digest(presented, stored) or api_key is None or api_key.revoked_at:
        raise Unauthorized()
    return api_key


@dataclass(frozen=True)
class Caller:
    api_key_id: int
    brand_id: int


def forget_cached_keys() -> None:
    known_keys.forget()


def _caller(authorization: str | None) -> Caller:
    """The key's brand from this worker's memory (no SQL, no Redis), else from the database.

    Memory is trusted up to API_KEY_CACHE_SECONDS while this worker's revocation listener is
    connected, else for a second; a revocation empties every worker's memory (lixi.keycache).
    """
    memo_key = _hash_key(authorization or "")
    confirmed = listener().confirmed
    known = known_keys.get(memo_key, current_app.config["API_KEY_CACHE_SECONDS"], confirmed)
    if known is not None:
        return known
    generation = known_keys.generation  # read before the key: a revocation after this wins
    api_key = authenticate_api_key(authorization)
    caller = Caller(api_key.id, api_key.brand_id)
    known_keys.put(memo_key, caller, generation)
    return caller


def require_api_key(authorization: str | None) -> None:
    """before_request of the API: sets the tenant (g.brand_id) and the actor for the audit trail."""
    caller = _caller(authorization)
    g.brand_id = caller.brand_id
    g.api_key_id = caller.api_key_id
    g.actor = f"api_key:{caller.api_key_id}"


# --- Staff log-in (cashiers at /merchant, brand admins at /dashboard) ---------------------------

LOGIN_FAILED = 401  # a failed log-in answers 401, which is what the log-in limits count


def _login_account() -> str:
    """The account a log-in attempt is for (brand and email): failures count per account however
    many IPs try it."""
    brand = normalize_slug(request.form.get("brand", ""))
    account = f"{brand}\n{normalize_email(request.form.get('email', ''))}"
    return "login-account:" + hashlib.sha256(account.encode("utf-8", "replace")).hexdigest()[:32]


def _failed_login(response: Response) -> bool:
    return response.status_code == LOGIN_FAILED


# Failed log-ins per account (the lockout: even the right password waits) and per client address.
login_per_account = shared_limit_from(
    "RATE_LIMIT_LOGIN_PER_ACCOUNT",
    "login-account",
    _login_account,
    deduct_when=_failed_login,
    methods=["POST"],
)
login_per_ip = shared_limit_from(
    "RATE_LIMIT_LOGIN_PER_IP", "login-ip", client_ip, deduct_when=_failed_login, methods=["POST"]
)


def _ask_to_log_in() -> Response:
    """A staff page's script gets a JSON 401; a page goes to its area's log-in (add_login_page)."""
    if wants_json():
        return json_error(ErrorCode.UNAUTHORIZED, 401, "Your session has ended; log in again.")
    for prefix, endpoint in plugged().login_pages.items():
        if request.path.startswith(prefix):
            return redirect(url_for(endpoint, next=request.full_path.rstrip("?")))
    return json_error(ErrorCode.UNAUTHORIZED, 401, "Log in first.")


def _load_staff(session_id: str) -> StaffUser | None:
    """Flask-Login's user loader: "<id>:<session version>" (see StaffUser.get_id); a cookie made
    under an older version, or before versions existed, is refused."""
    staff_id, _, version = session_id.partition(":")
    try:
        return load_staff(int(staff_id), int(version))
    except ValueError:
        return None


def init_staff_sessions(app: Flask) -> None:
    login_manager.init_app(app)
    # "basic": a changed IP or browser marks the session non-fresh instead of dropping it, so a
    # cashier's phone moving between Wi-Fi and 4G stays logged in.
    login_manager.session_protection = "basic"
    login_manager.user_loader(_load_staff)
    login_manager.unauthorized_handler(_ask_to_log_in)


def safe_next(target: str | None, area: str, default: str) -> str:
    """Where to go after logging in: only a path inside the area, never another site."""
    if target and target.startswith(area) and not target.startswith("//") and "\\" not in target:
        return target
    return default


# The brand of the last successful log-in on this browser, so staff type it once. Not a secret
# (it is in the brand's log-in links); the log-in still needs the email and the password.
BRAND_COOKIE = "lixi_brand"
BRAND_COOKIE_DAYS = 400  # the longest browsers keep a cookie


def log_in_page(area: str, home: str, roles: tuple[str, ...], title: str, subtitle: str) -> Any:
    """The log-in form of an area (/merchant, /dashboard): only `roles` may enter through it.

    Accounts are per brand, so the form asks for the brand's code (its slug), filled in from the
    link (`?brand=<slug>`) or from this browser's last log-in.
    """
    form = LoginForm()
    target = safe_next(request.args.get("next"), area, url_for(home))
    if form.validate_on_submit():
        user = authenticate(form.brand.data or "", form.email.data or "", form.password.data or "")
        if user is not None and user.role in roles:
            log_in(user)
            response = redirect(target)
            response.set_cookie(
                BRAND_COOKIE,
                normalize_slug(form.brand.data or ""),
                max_age=BRAND_COOKIE_DAYS * 86400,
                secure=current_app.config["SESSION_COOKIE_SECURE"],
                httponly=True,
                samesite="Lax",
            )
            return response
        page = render_template("login.html", form=form, failed=True, title=title, subtitle=subtitle)
        return page, LOGIN_FAILED
    if not form.is_submitted():
        form.brand.data = (request.args.get("brand") or request.cookies.get(BRAND_COOKIE) or "")[:80]
    return render_template("login.html", form=form, failed=False, title=title, subtitle=subtitle)


def act_for_staff(user: StaffUser) -> None:
    """A staff page's request: the tenant and the actor, as require_api_key sets them for the API."""
    g.brand_id = user.brand_id
    g.actor = staff_actor(user)


def log_in(user: StaffUser) -> None:
    session.clear()  # a fresh session at log-in: nothing set before it (fixation) survives
    login_user(user)
    session.permanent = True
    with write_transaction():
        record_audit(user.brand_id, "staff.logged_in", "staff_user", user.id, actor=staff_actor(user))


def log_out_everywhere() -> None:
    """Log-out: ends every session of the account on the server (see lixi.staff), then this cookie's."""
    if current_user.is_authenticated:
        log_out(current_user._get_current_object())  # type: ignore[attr-defined]
        logout_user()
    session.clear()


def keep_this_session(user: StaffUser) -> None:
    """After changing one's own password (which ends every session of the account), stay logged
    in on the browser that made the change: its session moves to the new version."""
    if current_user.is_authenticated and current_user.id == user.id:
        login_user(user)
