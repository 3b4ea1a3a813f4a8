"""The named errors a broken domain rule raises, each with a sentence a person understands.

The sentence is a `Msg` (a msgid with parameters), rendered in the reader's language when it is shown:
`err.message` gives it in the current language. Plain strings are accepted for text that is not
user-facing (and shown unchanged).
"""
from fleetops.domain.text import Msg


class FleetopsError(Exception):
    """Base class: `str(err)` / `err.message` is the message shown to the user; `status_code` its HTTP status."""

    status_code = 400

    def __init__(self, message, **details):
        super().__init__(message)
        self.msg = message
        self.details = details

    @property
    def message(self) -> str:
        return str(self.msg)

    def __str__(self) -> str:
        return self.message


class NotFound(FleetopsError):
    status_code = 404


class PermissionDenied(FleetopsError):
    status_code = 403


class ValidationFailed(FleetopsError):
    """Input that cannot be accepted; `details["errors"]` may list each problem."""

    status_code = 422


class ConflictError(FleetopsError):
    """Someone else changed the record first (concurrent edit) or a duplicate was sent."""

    status_code = 409


class DuplicateRequest(ConflictError):
    """The same action was already applied under this request id; nothing was changed (answered 200)."""

    status_code = 200


class IllegalTransition(FleetopsError):
    status_code = 409


class InsufficientStock(FleetopsError):
    status_code = 409


__all__ = ["FleetopsError", "NotFound", "PermissionDenied", "ValidationFailed", "ConflictError",
           "DuplicateRequest", "IllegalTransition", "InsufficientStock", "Msg"]
