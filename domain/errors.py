"""Domain errors: a small tree, each class carrying its stable API code.

    DomainError
    ├── InvalidInput            INVALID_INPUT (bad argument; `field` names it)
    │   ├── InvalidEmail        INVALID_EMAIL
    │   └── WeakPassword        WEAK_PASSWORD
    │   └── TemplateInvalid     TEMPLATE_INVALID (variant, line and reason in the message)
    ├── NotFound                NOT_FOUND
    ├── NotAllowed              NOT_ALLOWED (e.g. changing the built-in template)
    ├── Conflict
    │   ├── AlreadyExists       ALREADY_EXISTS (a code that is taken)
    │   ├── InUse               IN_USE (something still refers to it)
    │   ├── CustomerExists      CUSTOMER_EXISTS
    │   ├── AlreadyInvited      ALREADY_INVITED
    │   ├── DuplicateInput      DUPLICATE_INPUT
    │   └── InvalidStatus       INVALID_STATUS
    ├── SignInRefused
    │   ├── InvalidCredentials  INVALID_CREDENTIALS
    │   └── AccountLocked       ACCOUNT_LOCKED
    ├── InvitationRefused
    │   ├── InvitationsDisabled INVITATIONS_DISABLED
    │   ├── TooManyRecipients   TOO_MANY_RECIPIENTS
    │   ├── MessageNotAllowed   MESSAGE_NOT_ALLOWED
    │   ├── MessageTooLong      MESSAGE_TOO_LONG
    │   └── QuotaExceeded       QUOTA_EXCEEDED
    └── AcceptanceRefused
        ├── InvitationNotValid  INVITATION_NOT_VALID
        ├── InvitationExpired   INVITATION_EXPIRED
        ├── EmailMismatch       EMAIL_MISMATCH
        └── RegistrationByInvitationOnly  REGISTRATION_BY_INVITATION_ONLY

`field` names the bad argument in Python terms: a keyword argument of the domain function that
raised, then attribute names and list indexes, e.g. ("emails", 3) or ("filter", "sent_at",
"start"). The schema turns each error into a `UserError` with the same code and the GraphQL path of
that argument (schema/errors.py), e.g. ["input", "emails", "3"].

`Refused` is not a refusal of its own: it carries every refusal of an all-or-nothing change (store
setup, a config file), raised when there is at least one and nothing was written.

`ErrorCode` lists the codes, in the order the API's enum of the same name shows them; the schema
exposes this enum itself, so a code exists once.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

Field = tuple[str | int, ...]


class ErrorCode(StrEnum):
    """The stable codes of domain errors, as the API spells them."""

    INVALID_EMAIL = "INVALID_EMAIL"
    DUPLICATE_INPUT = "DUPLICATE_INPUT"
    ALREADY_INVITED = "ALREADY_INVITED"
    CUSTOMER_EXISTS = "CUSTOMER_EXISTS"
    TOO_MANY_RECIPIENTS = "TOO_MANY_RECIPIENTS"
    MESSAGE_NOT_ALLOWED = "MESSAGE_NOT_ALLOWED"
    MESSAGE_TOO_LONG = "MESSAGE_TOO_LONG"
    QUOTA_EXCEEDED = "QUOTA_EXCEEDED"
    INVITATIONS_DISABLED = "INVITATIONS_DISABLED"
    NOT_FOUND = "NOT_FOUND"
    INVALID_STATUS = "INVALID_STATUS"
    INVITATION_NOT_VALID = "INVITATION_NOT_VALID"
    INVITATION_EXPIRED = "INVITATION_EXPIRED"
    EMAIL_MISMATCH = "EMAIL_MISMATCH"
    REGISTRATION_BY_INVITATION_ONLY = "REGISTRATION_BY_INVITATION_ONLY"
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    ACCOUNT_LOCKED = "ACCOUNT_LOCKED"
    WEAK_PASSWORD = "WEAK_PASSWORD"  # noqa: S105 (an error code)
    INVALID_INPUT = "INVALID_INPUT"
    ALREADY_EXISTS = "ALREADY_EXISTS"
    IN_USE = "IN_USE"
    TEMPLATE_INVALID = "TEMPLATE_INVALID"
    NOT_ALLOWED = "NOT_ALLOWED"


class DomainError(Exception):
    """An expected refusal, reported to the client as a user error."""

    code: ErrorCode = ErrorCode.INVALID_INPUT
    default_message = "The input is not valid."

    def __init__(
        self, message: str | None = None, *, field: Sequence[str | int] | None = None
    ) -> None:
        self.message = message or self.default_message
        self.field: Field | None = tuple(field) if field is not None else None
        super().__init__(self.message)

    def at(self, *field: str | int) -> DomainError:
        """The same error, reported at another input path."""
        self.field = field
        return self


class InvalidInput(DomainError):
    code = ErrorCode.INVALID_INPUT


class InvalidEmail(InvalidInput):
    code = ErrorCode.INVALID_EMAIL
    default_message = "This is not a valid e-mail address."


class WeakPassword(InvalidInput):
    code = ErrorCode.WEAK_PASSWORD
    default_message = (
        "The password must have at least 8 characters and use at least three of: lower-case "
        "letters, upper-case letters, digits, other characters."
    )


class TemplateInvalid(InvalidInput):
    code = ErrorCode.TEMPLATE_INVALID
    default_message = "The template cannot be used."


class NotFound(DomainError):
    code = ErrorCode.NOT_FOUND
    default_message = "No such record."


class Conflict(DomainError):
    pass


class NotAllowed(DomainError):
    code = ErrorCode.NOT_ALLOWED
    default_message = "This is not allowed."


class AlreadyExists(Conflict):
    code = ErrorCode.ALREADY_EXISTS
    default_message = "This code is taken."


class InUse(Conflict):
    code = ErrorCode.IN_USE
    default_message = "Something still refers to this."


class CustomerExists(Conflict):
    code = ErrorCode.CUSTOMER_EXISTS
    default_message = "A customer with this e-mail address already exists on this website."


class AlreadyInvited(Conflict):
    code = ErrorCode.ALREADY_INVITED
    default_message = "This address has already been invited."


class DuplicateInput(Conflict):
    code = ErrorCode.DUPLICATE_INPUT
    default_message = "This address appears more than once in the request."


class InvalidStatus(Conflict):
    code = ErrorCode.INVALID_STATUS
    default_message = "This is not allowed in the invitation's current status."


class SignInRefused(DomainError):
    pass


class InvalidCredentials(SignInRefused):
    code = ErrorCode.INVALID_CREDENTIALS
    default_message = "The sign-in details are not correct."


class AccountLocked(SignInRefused):
    code = ErrorCode.ACCOUNT_LOCKED
    default_message = "Too many failed sign-ins: the account is locked for a while."


class InvitationRefused(DomainError):
    pass


class InvitationsDisabled(InvitationRefused):
    code = ErrorCode.INVITATIONS_DISABLED
    default_message = "Invitations are not available in this store."


class TooManyRecipients(InvitationRefused):
    code = ErrorCode.TOO_MANY_RECIPIENTS
    default_message = "Too many addresses in one request."


class MessageNotAllowed(InvitationRefused):
    code = ErrorCode.MESSAGE_NOT_ALLOWED
    default_message = "Custom messages are not allowed in this store."


class MessageTooLong(InvitationRefused):
    code = ErrorCode.MESSAGE_TOO_LONG
    default_message = "The message is too long."


class QuotaExceeded(InvitationRefused):
    code = ErrorCode.QUOTA_EXCEEDED
    default_message = "The number of invitations allowed per day is used up."


class AcceptanceRefused(DomainError):
    pass


class InvitationNotValid(AcceptanceRefused):
    code = ErrorCode.INVITATION_NOT_VALID
    default_message = "This invitation is not valid."


class InvitationExpired(AcceptanceRefused):
    code = ErrorCode.INVITATION_EXPIRED
    default_message = "This invitation has expired."


class EmailMismatch(AcceptanceRefused):
    code = ErrorCode.EMAIL_MISMATCH
    default_message = "Register with the address the invitation was sent to."


class RegistrationByInvitationOnly(AcceptanceRefused):
    code = ErrorCode.REGISTRATION_BY_INVITATION_ONLY
    default_message = "Registration in this store is by invitation only."


class Refused(Exception):
    """Every refusal of an all-or-nothing change; nothing was written."""

    def __init__(self, errors: Sequence[DomainError]) -> None:
        assert errors, "a refusal names at least one problem"
        self.errors = tuple(errors)
        super().__init__("; ".join(error.message for error in self.errors))
