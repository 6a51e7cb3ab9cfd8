"""Store structure: websites, their store views, and customer groups."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from models.fields import DatetimeField

DEFAULT_URL_TEMPLATE = "{base_url}customer/account/create/?invitation={code}"


class CustomerGroup(Model):
    """A customer group (General, Wholesale, Retailer, ...)."""

    id = fields.IntField(primary_key=True)
    code = fields.CharField(max_length=64, unique=True)

    class Meta:
        table = "customer_group"


class Website(Model):
    """A website: customers and their e-mail addresses belong to one."""

    id = fields.IntField(primary_key=True)
    code = fields.CharField(max_length=64, unique=True)
    name = fields.CharField(max_length=255)
    default_group: fields.ForeignKeyRelation[CustomerGroup] = fields.ForeignKeyField(
        "models.CustomerGroup", related_name=False, on_delete=fields.RESTRICT
    )
    default_group_id: int

    class Meta:
        table = "website"


class StoreView(Model):
    """A store view of a website: its language, storefront URL and the link in its emails."""

    id = fields.IntField(primary_key=True)
    code = fields.CharField(max_length=64, unique=True)
    name = fields.CharField(max_length=255)
    locale = fields.CharField(max_length=16, default="en_US")
    website: fields.ForeignKeyRelation[Website] = fields.ForeignKeyField(
        "models.Website", related_name="store_views", on_delete=fields.RESTRICT
    )
    website_id: int
    base_url = fields.CharField(max_length=1024)
    # "{base_url}" and "{code}" are replaced; the code is URL-safe.
    invitation_url_template = fields.CharField(max_length=1024, default=DEFAULT_URL_TEMPLATE)
    is_default = fields.BooleanField(default=False)
    sort_order = fields.IntField(default=0)

    class Meta:
        table = "store_view"

    def invitation_url(self, code: str) -> str:
        return self.invitation_url_template.replace("{base_url}", self.base_url).replace(
            "{code}", code
        )


async def find_store_view(code: str | None) -> StoreView | None:
    """The store view with this code; without a code, the default one."""
    if code is None or code == "":
        return await StoreView.filter(is_default=True).order_by("id").first()
    if len(code) > 64:
        return None
    return await StoreView.get_or_none(code=code)


class EmailTemplate(Model):
    """A store's own invitation e-mail template: one variant per locale (domain/email_templates)."""

    id = fields.IntField(primary_key=True)
    code = fields.CharField(max_length=64, unique=True)
    name = fields.CharField(max_length=255)
    # [{"locale", "subject", "text", "html"}, ...]
    variants: object = fields.JSONField(default=list)
    updated_at = DatetimeField()

    class Meta:
        table = "email_template"
