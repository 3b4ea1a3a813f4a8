"""Logging in and out, and the user's own account page.

Wrong passwords are throttled per account and per address (Flask-Limiter; only failed attempts count, limits in
LOGIN_LIMIT_PER_ACCOUNT / LOGIN_LIMIT_PER_ADDRESS); a pause is one audit line per window and a 429 in words. The
counters live in the database by default (platform/throttle_store.py), so every web process counts the same failures;
the keys name the account (user name) or the address, never a password.
Logout ends the user's sessions everywhere (the session version in every cookie)."""
import math
import time

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired

from fleetops.services import accounts
from fleetops.web import db_session, limiter

bp = Blueprint("auth", __name__)


class LoginForm(FlaskForm):
    username = StringField("User name", validators=[DataRequired()])
    password = PasswordField("Password", validators=[DataRequired()])


def _safe_next(target: str | None) -> str | None:
    return target if target and target.startswith("/") and not target.startswith("//") else None


def _account_key() -> str:
    return "login-account:" + (request.form.get("username") or "").strip().lower()[:80]


def _address_key() -> str:
    return "login-address:" + (get_remote_address() or "")


def _failed(response) -> bool:
    """Only a refused sign-in counts against the limits (a success redirects)."""
    return response.status_code != 302


def _paused(scope: str):
    def on_breach(limit) -> None:
        left_s = limit.reset_at - time.time()
        g.retry_minutes = max(1, math.ceil(left_s / 60))
        # One audit line per key and window, whichever web process sees the breach: a counter of its own in the
        # limiter's storage (shared through the database by default), expiring with the window.
        if limiter.storage.incr(f"audited/{limit.key}", max(1, math.ceil(left_s))) != 1:
            return None
        session = db_session()
        accounts.record_login_throttled(session, request.form.get("username", ""), get_remote_address() or "", scope)
        session.commit()
        return None

    return on_breach


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_PER_ACCOUNT"], key_func=_account_key, methods=["POST"],
               deduct_when=_failed, on_breach=_paused("account"))
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_PER_ADDRESS"], key_func=_address_key, methods=["POST"],
               deduct_when=_failed, on_breach=_paused("address"))
def login():
    form = LoginForm()
    if form.validate_on_submit():
        user = accounts.authenticate(db_session(), form.username.data, form.password.data)
        if user is None:
            flash(_("Wrong user name or password."), "error")
        else:
            login_user(user)
            db_session().commit()
            return redirect(_safe_next(request.args.get("next")) or url_for("index"))
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
def logout():
    if current_user.is_authenticated:
        accounts.log_out(db_session(), current_user)
        db_session().commit()
    logout_user()
    return redirect(url_for("auth.login"))


@bp.route("/account")
@login_required
def account():
    return render_template("auth/account.html", user=current_user)
