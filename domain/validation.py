"""Checks of untrusted text: e-mail addresses, names, passwords."""

from __future__ import annotations

import unicodedata

from email_validator import EmailNotValidError, validate_email

from domain.errors import InvalidEmail, InvalidInput, WeakPassword

MAX_EMAIL_LENGTH = 254
MAX_NAME_LENGTH = 255
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 256


NEEDS_SMTPUTF8 = (
    "This address has characters other than ASCII before the @: most mail servers cannot deliver "
    "to it (it needs SMTPUTF8), so invitations cannot be sent to it."
)


def normalize_email(raw: str) -> str:
    """The address as it is stored and sent, or InvalidEmail.

    Trimmed, the domain lower-cased and in its ASCII (IDNA) form: `bücher.example` is stored as
    `xn--bcher-kva.example`, what the SMTP envelope carries. A local part must be ASCII: one that
    is not needs SMTPUTF8 all along its way, which the mailer cannot promise.
    """
    candidate = raw.strip()
    if not candidate or len(candidate) > MAX_EMAIL_LENGTH:
        raise InvalidEmail()
    try:
        checked = validate_email(candidate, check_deliverability=False)
    except EmailNotValidError as error:
        raise InvalidEmail(f"This is not a valid e-mail address: {error}") from None
    if checked.ascii_email is None:
        raise InvalidEmail(NEEDS_SMTPUTF8)
    return checked.ascii_email


def email_key(email: str) -> str:
    """What two addresses are compared by: case-insensitive, as Magento compares them."""
    return email.casefold()


def has_control_characters(text: str) -> bool:
    return any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") for ch in text)


# Magento's rule for customer names: letters, marks, digits, spaces and , - _ . ' (and ’).
# Names go into e-mail subjects and greetings, so nothing else gets in.
_NAME_PUNCTUATION = frozenset(" ,-_.'’")


def _is_name_character(ch: str) -> bool:
    return ch in _NAME_PUNCTUATION or unicodedata.category(ch)[0] in "LMN"


def clean_name(raw: str, *, label: str) -> str:
    name = raw.strip()
    if not name:
        raise InvalidInput(f"The {label} is required.")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidInput(f"The {label} is longer than {MAX_NAME_LENGTH} characters.")
    if not all(_is_name_character(ch) for ch in name):
        raise InvalidInput(
            f"The {label} may hold only letters, digits, spaces and the characters , - _ . '"
        )
    return name


def check_password_strength(password: str, *, email: str | None = None) -> None:
    """Magento's rule: at least 8 characters from at least three classes of characters."""
    if len(password) > MAX_PASSWORD_LENGTH:
        raise WeakPassword(f"The password is longer than {MAX_PASSWORD_LENGTH} characters.")
    if len(password) < MIN_PASSWORD_LENGTH or password.strip() != password:
        raise WeakPassword()
    if has_control_characters(password):
        raise WeakPassword("The password contains control or unassigned characters.")
    classes = (
        any(ch.islower() for ch in password),
        any(ch.isupper() for ch in password),
        any(ch.isdigit() for ch in password),
        any(not ch.isalnum() for ch in password),
    )
    if sum(classes) < 3:
        raise WeakPassword()
    if email is not None and password.casefold() == email.casefold():
        raise WeakPassword("The password must differ from the e-mail address.")
