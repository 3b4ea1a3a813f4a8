"""The named errors a broken domain rule raises, each with a sentence a person understands."""


class FleetopsError(Exception):
    """Base class: `str(err)` is the message shown to the user."""

    status_code = 400

    def __init__(self, message: str, **details):
        super().__init__(message)
        self.message = message
        self.details = details


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


class IllegalTransition(FleetopsError):
    status_code = 409


class InsufficientStock(FleetopsError):
    status_code = 409
