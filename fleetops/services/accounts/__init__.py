"""Accounts: users (users.py), API tokens (tokens.py), and the administration pages' reads (queries.py).

Re-exported so `from fleetops.services import accounts; accounts.create_user(...)` keeps working."""
from fleetops.services.accounts.queries import AUDIT_FILTERS, AuditPage, active_usernames, audit_page, list_tokens, list_users
from fleetops.services.accounts.tokens import TOKEN_PREFIX, create_token, revoke_token, user_for_token
from fleetops.services.accounts.users import (
    authenticate, create_first_admin, create_user, end_sessions, get_user, known_districts, log_out,
    record_login_throttled, reset_password, set_password, set_password_of, update_user,
)

__all__ = ["AUDIT_FILTERS", "AuditPage", "TOKEN_PREFIX", "active_usernames", "audit_page", "authenticate", "create_first_admin",
           "create_token", "create_user", "end_sessions", "get_user", "log_out", "record_login_throttled", "list_tokens", "list_users", "revoke_token", "set_password",
           "set_password_of", "user_for_token", "known_districts", "reset_password", "update_user"]
