"""Invitation e-mail templates (admin: STORES)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from domain import email_templates
from domain.errors import DomainError, Refused
from schema.context import Info
from schema.email_templates import (
    DeleteEmailTemplatePayload,
    EmailPreview,
    EmailTemplate,
    EmailTemplateInput,
    SaveEmailTemplatePayload,
)
from schema.errors import BadRequest, UserError


async def email_templates_list(info: Info) -> list[EmailTemplate]:
    return [EmailTemplate.from_model(t) for t in await email_templates.all_templates()]


async def save_email_template(info: Info, input: EmailTemplateInput) -> SaveEmailTemplatePayload:
    try:
        saved = await email_templates.save(
            code=input.code, name=input.name, variants=input.unpack()
        )
    except Refused as refused:
        errors = [UserError.from_domain(error) for error in refused.errors]
        return SaveEmailTemplatePayload(template=None, user_errors=errors)
    return SaveEmailTemplatePayload(template=EmailTemplate.from_model(saved), user_errors=[])


async def delete_email_template(info: Info, code: str) -> DeleteEmailTemplatePayload:
    try:
        await email_templates.delete(code=code)
    except DomainError as error:
        return DeleteEmailTemplatePayload(
            deleted=False, user_errors=[UserError.from_domain(error, arguments={"code": "code"})]
        )
    return DeleteEmailTemplatePayload(deleted=True, user_errors=[])


async def preview_invitation_email(
    info: Info,
    template_code: str,
    store_view_id: strawberry.ID,
    message: Annotated[
        str | None, strawberry.argument(description="A custom message to show.")
    ] = None,
) -> EmailPreview:
    try:
        shown = await email_templates.preview(
            template_code=template_code, store_view_id=store_view_id, message=message
        )
    except DomainError as error:
        raise BadRequest.from_domain(error) from None
    return EmailPreview(from_=shown.sender, subject=shown.subject, text=shown.text, html=shown.html)
