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
"""

from __future__ import annotations

from collections.abc import Sequence

Field = tuple[str | int, ...]


class DomainError(Exception):
    """An expected refusal, reported to the client as a user error."""

    code = "INVALID_INPUT"
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
    code = "INVALID_INPUT"


class InvalidEmail(InvalidInput):
    code = "INVALID_EMAIL"
    default_message = "This is not a valid e-mail address."


class WeakPassword(InvalidInput):
    code = "WEAK_PASSWORD"
    default_message = (
        "The password must have at least 8 characters and use at least three of: lower-case "
        "letters, upper-case letters, digits, other characters."
    )


class TemplateInvalid(InvalidInput):
    code = "TEMPLATE_INVALID"
    default_message = "The template cannot be used."


class NotFound(DomainError):
    code = "NOT_FOUND"
    default_message = "No such record."


class Conflict(DomainError):
    pass


class NotAllowed(DomainError):
    code = "NOT_ALLOWED"
    default_message = "This is not allowed."


class AlreadyExists(Conflict):
    code = "ALREADY_EXISTS"
    default_message = "This code is taken."


class InUse(Conflict):
    code = "IN_USE"
    default_message = "Something still refers to this."


class CustomerExists(Conflict):
    code = "CUSTOMER_EXISTS"
    default_message = "A customer with this e-mail address already exists on this website."


class AlreadyInvited(Conflict):
    code = "ALREADY_INVITED"
    default_message = "This address has already been invited."


class DuplicateInput(Conflict):
    code = "DUPLICATE_INPUT"
    default_message = "This address appears more than once in the request."


class InvalidStatus(Conflict):
    code = "INVALID_STATUS"
    default_message = "This is not allowed in the invitation's current status."


class SignInRefused(DomainError):
    pass


class InvalidCredentials(SignInRefused):
    code = "INVALID_CREDENTIALS"
    default_message = "The sign-in details are not correct."


class AccountLocked(SignInRefused):
    code = "ACCOUNT_LOCKED"
    default_message = "Too many failed sign-ins: the account is locked for a while."


class InvitationRefused(DomainError):
    pass


class InvitationsDisabled(InvitationRefused):
    code = "INVITATIONS_DISABLED"
    default_message = "Invitations are not available in this store."


class TooManyRecipients(InvitationRefused):
    code = "TOO_MANY_RECIPIENTS"
    default_message = "Too many addresses in one request."


class MessageNotAllowed(InvitationRefused):
    code = "MESSAGE_NOT_ALLOWED"
    default_message = "Custom messages are not allowed in this store."


class MessageTooLong(InvitationRefused):
    code = "MESSAGE_TOO_LONG"
    default_message = "The message is too long."


class QuotaExceeded(InvitationRefused):
    code = "QUOTA_EXCEEDED"
    default_message = "The number of invitations allowed per day is used up."


class AcceptanceRefused(DomainError):
    pass


class InvitationNotValid(AcceptanceRefused):
    code = "INVITATION_NOT_VALID"
    default_message = "This invitation is not valid."


class InvitationExpired(AcceptanceRefused):
    code = "INVITATION_EXPIRED"
    default_message = "This invitation has expired."


class EmailMismatch(AcceptanceRefused):
    code = "EMAIL_MISMATCH"
    default_message = "Register with the address the invitation was sent to."


class RegistrationByInvitationOnly(AcceptanceRefused):
    code = "REGISTRATION_BY_INVITATION_ONLY"
    default_message = "Registration in this store is by invitation only."


class Refused(Exception):
    """Every refusal of an all-or-nothing change; nothing was written."""

    def __init__(self, errors: Sequence[DomainError]) -> None:
        assert errors, "a refusal names at least one problem"
        self.errors = tuple(errors)
        super().__init__("; ".join(error.message for error in self.errors))
