"""GraphQL projections of the invitation e-mail templates (admin: STORES)."""

from __future__ import annotations

import strawberry

from domain import email_templates as m
from schema.errors import UserError


@strawberry.type(description="One locale's subject, text and html of a template.")
class EmailTemplateVariant:
    locale: str = strawberry.field(description="e.g. en_US (the fallback), de_DE.")
    subject: str = strawberry.field(description="Jinja2 source of the subject.")
    text: str = strawberry.field(description="Jinja2 source of the text part.")
    html: str = strawberry.field(description="Jinja2 source of the html part (autoescaped).")


@strawberry.type(
    description="An invitation e-mail template: one variant per locale; a store view uses the "
    "variant of its locale, else en_US. Variables: invitation_url, store_name, inviter_name, "
    "message, invitee_email, expires_at."
)
class EmailTemplate:
    code: str = strawberry.field(description="What InvitationSettings.emailTemplate names.")
    name: str = strawberry.field(description="Its name.")
    built_in: bool = strawberry.field(description="The shipped one: read-only.")
    variants: list[EmailTemplateVariant] = strawberry.field(description="Its variants.")

    @classmethod
    def from_model(cls, template: m.StoredTemplate) -> EmailTemplate:
        return cls(
            code=template.code,
            name=template.name,
            built_in=template.built_in,
            variants=[
                EmailTemplateVariant(locale=v.locale, subject=v.subject, text=v.text, html=v.html)
                for v in template.variants
            ],
        )


@strawberry.input(description="One locale's variant.")
class EmailTemplateVariantInput:
    locale: str = strawberry.field(description="e.g. de_DE.")
    subject: str = strawberry.field(description="Jinja2 source of the subject.")
    text: str = strawberry.field(description="Must use {{ invitation_url }}.")
    html: str = strawberry.field(description="Must use {{ invitation_url }}; autoescaped.")


@strawberry.input(description="A template to create, or to replace the one with this code.")
class EmailTemplateInput:
    code: str = strawberry.field(description="[a-z0-9_], at most 64.")
    name: str = strawberry.field(description="Its name.")
    variants: list[EmailTemplateVariantInput] = strawberry.field(
        description="One per locale; en_US is required (the fallback)."
    )

    def unpack(self) -> list[m.Variant]:
        return [
            m.Variant(locale=v.locale, subject=v.subject, text=v.text, html=v.html)
            for v in self.variants
        ]


@strawberry.type(description="Result of saveEmailTemplate.")
class SaveEmailTemplatePayload:
    template: EmailTemplate | None = strawberry.field(description="The saved template.")
    user_errors: list[UserError] = strawberry.field(
        description="Why nothing was saved (TEMPLATE_INVALID names the variant and the line)."
    )


@strawberry.type(description="Result of deleteEmailTemplate.")
class DeleteEmailTemplatePayload:
    deleted: bool = strawberry.field(description="Whether it was deleted.")
    user_errors: list[UserError] = strawberry.field(
        description="IN_USE while a scope selects it; NOT_ALLOWED for the built-in one."
    )


@strawberry.type(description="An invitation e-mail as a template would render it.")
class EmailPreview:
    from_: str = strawberry.field(name="from", description="The sender, as in the From header.")
    subject: str = strawberry.field(description="The subject.")
    text: str = strawberry.field(description="The text part.")
    html: str = strawberry.field(description="The html part.")
