"""The web layer: per-request sessions, login and roles, CSRF, i18n, error handlers, navigation.

Blueprints are listed and registered by `fleetops.wiring`."""
import logging
from datetime import datetime, timezone
from functools import wraps
from urllib.parse import urlsplit

from flask import (
    Flask, abort, current_app, flash, g, jsonify, redirect, render_template, request, session, url_for,
)
from flask_babel import Babel, gettext as _
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.routing import BuildError

from fleetops.domain.errors import DuplicateRequest, FleetopsError
from fleetops.platform import throttle_store  # noqa: F401 - registers the fleetops-db:// limiter storage
from fleetops.platform.i18n import translate
from fleetops.web import nav

log = logging.getLogger(__name__)
csrf = CSRFProtect()
login_manager = LoginManager()
babel = Babel()
# Throttles sign-in (web/auth.py) and the public fault form; storage from RATELIMIT_STORAGE_URI: by default
# fleetops-db:// (platform/throttle_store.py, registered by importing it), the counters in our database, shared by
# every web process on it; memory:// keeps them in this process only.
limiter = Limiter(key_func=get_remote_address, headers_enabled=True)

# Sent with every response. Scripts only from our own files (no inline script, no CDN: the network is closed);
# inline style attributes stay allowed for the few computed bar heights.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                               "img-src 'self' data: blob:; object-src 'none'; base-uri 'self'; "
                               "form-action 'self'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
}

def db_session() -> Session:
    """The request's SQLAlchemy session, opened on first use and closed at teardown."""
    if "db_session" not in g:
        g.db_session = current_app.extensions["fleetops.sessionmaker"]()
    return g.db_session


def _close_session(_exc=None):
    s = g.pop("db_session", None)
    if s is not None:
        s.close()


def roles_required(*roles):
    """View decorator: logged in, and with one of `roles` (admin always passes)."""

    def deco(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if current_user.role != "admin" and current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return deco


def select_locale() -> str:
    lang = session.get("lang")
    return lang if lang in ("zh", "en") else "zh"


def current_locale() -> str:
    return select_locale()


def request_translations():
    """The reader's compiled catalogue, looked up once per request. Flask-Babel's own gettext resolves the context,
    the domain and the locale (and formats the locale's name) on every call — a page's templates call it 80 to
    100 times (issue 14 part 4). Looked up again when the request's locale changes (flask_babel.refresh)."""
    import flask_babel

    if not g:
        return flask_babel.get_translations()
    memo = g.get("_fleetops_translations")
    locale = getattr(g.get("_flask_babel"), "babel_locale", None)
    if memo is not None and locale is not None and memo[0] is locale:
        return memo[1]
    translations = flask_babel.get_translations()
    g._fleetops_translations = (flask_babel.get_locale(), translations)
    return translations


def _security_headers(response):
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def init_web(app: Flask) -> None:
    app.teardown_appcontext(_close_session)
    app.after_request(_security_headers)
    app.config["SESSION_COOKIE_SAMESITE"] = app.config.get("SESSION_COOKIE_SAMESITE") or "Lax"
    app.config["REMEMBER_COOKIE_SAMESITE"] = app.config["SESSION_COOKIE_SAMESITE"]
    app.config["REMEMBER_COOKIE_SECURE"] = app.config.get("SESSION_COOKIE_SECURE", False)
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    csrf.init_app(app)
    limiter.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    app.jinja_env.install_gettext_callables(  # Flask-Babel's own, with the catalogue looked up once per request
        gettext=lambda s: request_translations().ugettext(s),
        ngettext=lambda s, p, n: request_translations().ungettext(s, p, n),
        pgettext=lambda c, s: request_translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: request_translations().unpgettext(c, s, p, n), newstyle=True)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = None

    @login_manager.user_loader
    def load_user(user_id):
        from fleetops.services.accounts.queries import session_user

        return session_user(db_session(), user_id)

    @app.route("/")
    def index():
        if not current_user.is_authenticated:
            return redirect(url_for("auth.login"))
        return redirect(nav.home_for(current_user.role))

    @app.route("/lang/<code>")
    def set_language(code):
        if code in ("zh", "en"):
            session["lang"] = code
        return redirect(_same_site(request.referrer) or url_for("index"))

    app.jinja_env.globals.update(nav_items=nav.items_for, nav_groups=nav.groups_for, locale=current_locale, enum_label=enum_label)
    # A stored sentence (history line, audit summary, probe reason) in the reader's language.
    app.jinja_env.filters["msg"] = lambda v: translate(v, current_locale())
    app.jinja_env.filters["dt"] = format_dt
    app.jinja_env.filters["duration"] = duration
    _register_errors(app)


def _request_format() -> tuple:
    """The reader's Babel locale and zone, resolved once per request (the `dt` filter runs once per table cell:
    resolving both per call was a fifth of the status and ticket pages' time at 10,000 devices)."""
    try:
        return g._fleetops_format
    except AttributeError:
        pass
    from babel import Locale
    from flask_babel import get_timezone

    fmt = (Locale.parse(current_locale()), get_timezone())
    g._fleetops_format = fmt
    return fmt


# The all-digit patterns the templates use read the same in every locale: strftime, ten times cheaper than
# Babel's pattern engine (a status page formats ~600 times); any other pattern goes through Babel.
_NUMERIC_PATTERNS = {"yyyy-MM-dd HH:mm": "%Y-%m-%d %H:%M", "yyyy-MM-dd HH:mm:ss": "%Y-%m-%d %H:%M:%S",
                     "yyyy-MM-dd": "%Y-%m-%d", "MM-dd HH:mm": "%m-%d %H:%M", "MM-dd HH:mm:ss": "%m-%d %H:%M:%S",
                     "HH:mm": "%H:%M", "HH:mm:ss": "%H:%M:%S"}


def format_dt(value, fmt: str = "yyyy-MM-dd HH:mm") -> str:
    """The `dt` filter: a UTC datetime in the configured zone and the reader's locale ("" for None)."""
    if not value:
        return ""
    loc, tz = _request_format()
    numeric = _NUMERIC_PATTERNS.get(fmt)
    if numeric is not None and isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(tz).strftime(numeric)
    from babel.dates import format_datetime as babel_format

    return babel_format(value, fmt, tzinfo=tz, locale=loc)


def _duration_units() -> tuple[str, str, str]:
    """The three unit sentences of `duration`, translated once per request (not four gettext calls per row)."""
    try:
        return g._fleetops_duration_units
    except AttributeError:
        pass
    units = (_("%(d)s d %(h)s h"), _("%(h)s h %(m)02d min"), _("%(m)s min"))
    g._fleetops_duration_units = units
    return units


def duration(seconds) -> str:
    """'2 d 3 h', '4 h 05 min', '12 min' — a human duration for tables ("" for None)."""
    if seconds is None:
        return ""
    s = int(seconds)
    d, rest = divmod(s, 86400)
    h, rest = divmod(rest, 3600)
    m = rest // 60
    days, hours, minutes = _duration_units()
    if d:
        return days % {"d": d, "h": h}
    if h:
        return hours % {"h": h, "m": m}
    return minutes % {"m": m}


def page_arg(name: str = "page", highest: int = 100_000) -> int:
    """A page number from the query string (1 when absent); anything else than a whole number from 1 to `highest`
    is a 400 naming the field, never a 500 (a hand-edited URL)."""
    from fleetops.domain import inputs

    raw = request.args.get(name)
    if raw is None or raw == "":
        return 1
    try:
        return inputs.whole_number(raw, name, 1, highest)
    except FleetopsError as err:
        abort(400, description=err.message)


def pager_args(name: str = "page"):
    """For the `pager` macro: args(n) → this page's query string with page n."""
    from urllib.parse import urlencode

    kept = {k: v for k, v in request.args.items() if k != name and v != ""}
    return lambda n: urlencode({**kept, name: n})


def _same_site(url: str | None) -> str | None:
    """The path (and query) of `url` when it points into this site, else None: never redirect elsewhere."""
    if not url:
        return None
    parts = urlsplit(url.strip())
    if parts.netloc and (parts.netloc != request.host or parts.scheme not in ("http", "https")):
        return None
    if not parts.netloc and parts.scheme:
        return None  # javascript:, data: …
    path = parts.path or "/"
    if not path.startswith("/") or path.startswith("//") or "\\" in path or any(ord(ch) < 32 for ch in path):
        return None
    return path + (f"?{parts.query}" if parts.query else "")


def enum_label(enum_name: str, value) -> str:
    """The one label helper: enum_label("DeviceKind", "switch") → 交换机 (or the English label).

    Every labelled enum of the domain is reachable by its class name (choices, tickets, uptime, quality …).
    Labels are remembered for the request: a list of 300 rows asks for the same few labels 900 times."""
    try:
        memo = g._fleetops_labels
    except AttributeError:
        memo = g._fleetops_labels = {}
    except RuntimeError:  # outside a request (a CLI render): no memo
        memo = {}
    key = (enum_name, value)
    try:
        return memo[key]
    except (KeyError, TypeError):
        pass
    from fleetops.domain import choices, tickets, uptime  # noqa: F401 - their enums become known

    cls = choices.enum_by_name(enum_name)
    label = ("" if value is None else str(value)) if cls is None else cls.label_of(value, current_locale())
    try:
        memo[key] = label
    except TypeError:  # an unhashable value: not remembered
        pass
    return label


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def duplicate_answer(answer):
    """View decorator (below the route): the JSON body a resent request gets instead of {"duplicate": true};
    `answer(**view_args)` returns a dict."""

    def deco(view):
        view.duplicate_answer = answer
        return view

    return deco


def _back_after_duplicate():
    """Where a resent form goes: the record's page (`<blueprint>.detail` with the URL's ids), else the area's index."""
    bp_name, args = request.blueprint, request.view_args or {}
    for endpoint, values in ((f"{bp_name}.detail", args), (f"{bp_name}.index", {})):
        if endpoint in current_app.view_functions and (values or endpoint.endswith(".index")):
            try:
                return url_for(endpoint, **values)
            except BuildError:
                continue
    return request.referrer or url_for("index")


def _register_errors(app: Flask) -> None:
    """One handler per error class (STYLE §5): HTML flash + redirect, API {"error": …} + status."""

    @app.errorhandler(DuplicateRequest)
    def duplicate(_err: DuplicateRequest):
        """A resent action (same request id) changed nothing: say so, answered 200 (never an error page)."""
        db_session().rollback()
        if _wants_json():
            answer = getattr(current_app.view_functions.get(request.endpoint), "duplicate_answer", None)
            body = answer(**(request.view_args or {})) if answer else {"duplicate": True}
            return jsonify(body), DuplicateRequest.status_code
        flash(_("Already recorded: this form was sent before."), "info")
        return redirect(_back_after_duplicate())

    @app.errorhandler(FleetopsError)
    def domain_error(err: FleetopsError):
        db_session().rollback()
        if _wants_json():
            body = {"error": err.message}
            if err.details:
                body["details"] = err.details
            return jsonify(body), err.status_code
        flash(err.message, "error")
        return redirect(request.referrer or url_for("index"))

    @app.errorhandler(StaleDataError)
    def stale(_err):
        db_session().rollback()
        msg = _("Someone else changed this record while you were editing. Reload and try again.")
        if _wants_json():
            return jsonify({"error": msg}), 409
        flash(msg, "error")
        return redirect(request.referrer or url_for("index"))

    @app.errorhandler(CSRFError)
    def csrf_error(_err):
        msg = _("The form has expired or was not sent from this site. Please try again.")
        if _wants_json():
            return jsonify({"error": msg}), 400
        return render_template("error.html", code=400, message=msg), 400

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(_err):
        msg = _("Too large: the upload limit is exceeded.")
        if _wants_json():
            return jsonify({"error": msg}), 413
        return render_template("error.html", code=413, message=msg), 413

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException):
        messages = {403: _("You do not have permission to do that."), 404: _("Page not found.")}
        if err.code == 429:
            messages[429] = _("Too many wrong passwords: signing in is paused. Please try again in %(minutes)s "
                              "minutes.", minutes=g.get("retry_minutes", 1))
        msg = messages.get(err.code, err.description)
        if _wants_json():
            return jsonify({"error": msg}), err.code
        return render_template("error.html", code=err.code, message=msg), err.code

    @app.errorhandler(Exception)
    def unexpected(err: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        if "db_session" in g:
            g.db_session.rollback()
        msg = _("Something went wrong on our side; it has been logged.")
        if _wants_json():
            return jsonify({"error": msg}), 500
        return render_template("error.html", code=500, message=msg), 500
