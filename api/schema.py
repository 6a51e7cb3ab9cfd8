"""Composes the GraphQL schema: root fields bound to resolvers, and the schema's extensions."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Iterable
from typing import Any, cast

import strawberry
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import MaxAliasesLimiter, QueryDepthLimiter, SchemaExtension
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from api.tracing import TraceOperations
from config import Settings
from models.accounts import Permission
from resolvers import (
    accounts,
    admin_invitations,
    bulk,
    invitations,
    reports,
    settings,
    store,
    subscriptions,
    webhooks,
)
from resolvers import email_templates as templates
from schema.accounts import (
    CreateCustomerPayload,
    Customer,
    GenerateAdminTokenPayload,
    GenerateCustomerTokenPayload,
    RevokeTokenPayload,
)
from schema.admin_invitation import (
    CreateInvitationsPayload,
    DiscardInvitationsPayload,
    ResendInvitationsPayload,
    UpdateInvitationPayload,
)
from schema.bulk import (
    BulkOperation,
    BulkOperationConnection,
    CancelBulkOperationPayload,
    StartBulkOperationPayload,
)
from schema.context import Context
from schema.email_templates import (
    DeleteEmailTemplatePayload,
    EmailPreview,
    EmailTemplate,
    SaveEmailTemplatePayload,
)
from schema.execution import ExecutionContext
from schema.extensions import (
    HideSuggestions,
    MaskUnexpectedErrors,
    StoreScope,
    SubscriptionsOverWebSocket,
)
from schema.invitation import (
    AcceptInvitationPayload,
    CancelInvitationPayload,
    Invitation,
    InvitationConnection,
    InvitationPreview,
    SendInvitationsPayload,
    StorefrontInvitationSettings,
)
from schema.limits import Checked, CheckedDocuments, DocumentChecker, document_checker
from schema.operation import ShortOperations
from schema.operation_metrics import OperationMetrics
from schema.permissions import HasPermission, IsAdmin, IsCustomer
from schema.reports import InvitationsReport, InvitedCustomerRow
from schema.settings import InvitationSettings, UpdateInvitationSettingsPayload
from schema.store import (
    CustomerGroup,
    CustomerGroupPayload,
    EmailSender,
    StoreView,
    StoreViewPayload,
    UpdateEmailSendersPayload,
    Website,
    WebsitePayload,
)
from schema.webhooks import (
    CreateWebhookEndpointPayload,
    RedeliverWebhookPayload,
    RotateWebhookSecretPayload,
    WebhookEndpoint,
    WebhookEndpointPayload,
)

CAN_INVITE = HasPermission(Permission.INVITATIONS)
CAN_MANAGE_WEBHOOKS = HasPermission(Permission.WEBHOOKS)
CAN_SET_UP = HasPermission(Permission.STORES)


@strawberry.type(description="Read the store, your account and invitations.")
class Query:
    storefront_invitation_settings: StorefrontInvitationSettings = strawberry.field(
        resolver=invitations.storefront_invitation_settings,
        description="The invitation settings of the request's store view, for the storefront.",
    )
    invitation_by_code: InvitationPreview | None = strawberry.field(
        resolver=invitations.invitation_by_code,
        description="What the registration page may show for an invitation code; null when the "
        "code is not valid. Rate-limited per client address (RATE_LIMITED).",
    )
    customer: Customer | None = strawberry.field(
        resolver=accounts.customer,
        permission_classes=[IsCustomer],
        description="The signed-in customer (customer token).",
    )
    my_invitations: InvitationConnection = strawberry.field(
        resolver=invitations.my_invitations,
        permission_classes=[IsCustomer],
        description="The signed-in customer's invitations, newest first (at most 100 a page).",
    )
    invitations: InvitationConnection = strawberry.field(
        resolver=admin_invitations.invitations,
        permission_classes=[CAN_INVITE],
        description="The grid of all invitations: filtered, sorted, a page at a time "
        "(admin: INVITATIONS).",
    )
    invitation: Invitation | None = strawberry.field(
        resolver=admin_invitations.invitation,
        permission_classes=[CAN_INVITE],
        description="One invitation with its history; null for an unknown id (admin: INVITATIONS).",
    )
    websites: list[Website] = strawberry.field(
        resolver=store.websites, permission_classes=[IsAdmin], description="All websites (admin)."
    )
    store_views: list[StoreView] = strawberry.field(
        resolver=store.store_views,
        description="Every store view in its sort order, for a storefront's store switcher "
        "(public; invitationUrlTemplate needs STORES).",
    )
    customer_groups: list[CustomerGroup] = strawberry.field(
        resolver=store.customer_groups,
        permission_classes=[IsAdmin],
        description="All customer groups (admin).",
    )
    email_senders: list[EmailSender] = strawberry.field(
        resolver=store.email_senders,
        permission_classes=[CAN_SET_UP],
        description="Every sender identity as resolved for a scope (admin: STORES).",
    )
    email_templates: list[EmailTemplate] = strawberry.field(
        resolver=templates.email_templates_list,
        permission_classes=[CAN_SET_UP],
        description="The built-in template and the store's own (admin: STORES).",
    )
    preview_invitation_email: EmailPreview = strawberry.field(
        resolver=templates.preview_invitation_email,
        permission_classes=[CAN_SET_UP],
        description="An admin invitation from a store view as a template renders it, with sample "
        "values (admin: STORES).",
    )
    invitation_settings: InvitationSettings = strawberry.field(
        resolver=settings.invitation_settings_at,
        permission_classes=[HasPermission(Permission.INVITATION_SETTINGS)],
        description="The effective invitation settings at a scope (admin: INVITATION_SETTINGS).",
    )
    invitations_report: InvitationsReport = strawberry.field(
        resolver=reports.invitations_report,
        permission_classes=[HasPermission(Permission.INVITATION_REPORTS)],
        description=(
            "Invitations by the calendar period of their creation (admin: INVITATION_REPORTS)."
        ),
    )
    invited_customers_report: list[InvitedCustomerRow] = strawberry.field(
        resolver=reports.invited_customers_report,
        permission_classes=[HasPermission(Permission.INVITATION_REPORTS)],
        description="Invitations per inviting customer in a range (admin: INVITATION_REPORTS).",
    )
    bulk_operation: BulkOperation | None = strawberry.field(
        resolver=bulk.bulk_operation,
        permission_classes=[CAN_INVITE],
        description="One bulk operation; null for an unknown id (admin: INVITATIONS).",
    )
    bulk_operations: BulkOperationConnection = strawberry.field(
        resolver=bulk.bulk_operations,
        permission_classes=[CAN_INVITE],
        description="Bulk operations, newest first (admin: INVITATIONS).",
    )
    webhook_endpoints: list[WebhookEndpoint] = strawberry.field(
        resolver=webhooks.webhook_endpoints,
        permission_classes=[CAN_MANAGE_WEBHOOKS],
        description="The webhook endpoints, oldest first (admin: WEBHOOKS).",
    )


@strawberry.type(description="Sign in, register, invite, administer.")
class Mutation:
    generate_customer_token: GenerateCustomerTokenPayload = strawberry.mutation(
        resolver=accounts.generate_customer_token,
        description="Sign a customer of the store's website in.",
    )
    create_customer: CreateCustomerPayload = strawberry.mutation(
        resolver=accounts.create_customer,
        description="Register a customer of the store's website, optionally through an invitation.",
    )
    generate_admin_token: GenerateAdminTokenPayload = strawberry.mutation(
        resolver=accounts.generate_admin_token, description="Sign an admin user in."
    )
    revoke_customer_token: RevokeTokenPayload = strawberry.mutation(
        resolver=accounts.revoke_customer_token,
        permission_classes=[IsCustomer],
        description="Revoke the customer token of this request.",
    )
    send_invitations: SendInvitationsPayload = strawberry.mutation(
        resolver=invitations.send_invitations,
        permission_classes=[IsCustomer],
        description="Invite addresses to register, on behalf of the signed-in customer.",
    )
    cancel_invitation: CancelInvitationPayload = strawberry.mutation(
        resolver=invitations.cancel_invitation,
        permission_classes=[IsCustomer],
        description="Cancel one of your own NOT_SENT or SENT invitations.",
    )
    create_invitations: CreateInvitationsPayload = strawberry.mutation(
        resolver=admin_invitations.create_invitations,
        permission_classes=[CAN_INVITE],
        description="Invite addresses from a store view (admin: INVITATIONS).",
    )
    update_invitation: UpdateInvitationPayload = strawberry.mutation(
        resolver=admin_invitations.update_invitation,
        permission_classes=[CAN_INVITE],
        description="Change the address or message of a NOT_SENT invitation (admin: INVITATIONS).",
    )
    discard_invitations: DiscardInvitationsPayload = strawberry.mutation(
        resolver=admin_invitations.discard_invitations,
        permission_classes=[CAN_INVITE],
        description="Discard NOT_SENT and SENT invitations, at most 1,000 ids "
        "(admin: INVITATIONS).",
    )
    resend_invitations: ResendInvitationsPayload = strawberry.mutation(
        resolver=admin_invitations.resend_invitations,
        permission_classes=[CAN_INVITE],
        description="Queue invitations to be sent again, reopening discarded and expired ones; "
        "at most 1,000 ids (admin: INVITATIONS).",
    )
    start_bulk_invitation_action: StartBulkOperationPayload = strawberry.mutation(
        resolver=bulk.start_bulk_invitation_action,
        permission_classes=[CAN_INVITE],
        description='Discard or resend every invitation a grid filter matches ("Select All"), '
        "less excludeIds, in the background; the selection is fixed now (admin: INVITATIONS).",
    )
    cancel_bulk_operation: CancelBulkOperationPayload = strawberry.mutation(
        resolver=bulk.cancel_bulk_operation,
        permission_classes=[CAN_INVITE],
        description="Stop a QUEUED or RUNNING bulk operation between chunks (admin: INVITATIONS).",
    )
    create_webhook_endpoint: CreateWebhookEndpointPayload = strawberry.mutation(
        resolver=webhooks.create_webhook_endpoint,
        permission_classes=[CAN_MANAGE_WEBHOOKS],
        description="A new webhook endpoint; its secret is shown once (admin: WEBHOOKS).",
    )
    update_webhook_endpoint: WebhookEndpointPayload = strawberry.mutation(
        resolver=webhooks.update_webhook_endpoint,
        permission_classes=[CAN_MANAGE_WEBHOOKS],
        description="Change, enable or disable a webhook endpoint (admin: WEBHOOKS).",
    )
    delete_webhook_endpoint: WebhookEndpointPayload = strawberry.mutation(
        resolver=webhooks.delete_webhook_endpoint,
        permission_classes=[CAN_MANAGE_WEBHOOKS],
        description="Delete a webhook endpoint and its deliveries (admin: WEBHOOKS).",
    )
    rotate_webhook_secret: RotateWebhookSecretPayload = strawberry.mutation(
        resolver=webhooks.rotate_webhook_secret,
        permission_classes=[CAN_MANAGE_WEBHOOKS],
        description="A new signing secret, shown once; the old one keeps signing beside it for "
        "24 hours (admin: WEBHOOKS).",
    )
    redeliver_webhook: RedeliverWebhookPayload = strawberry.mutation(
        resolver=webhooks.redeliver_webhook,
        permission_classes=[CAN_MANAGE_WEBHOOKS],
        description="A new attempt of a FAILED or DELIVERED delivery, same webhook-id "
        "(admin: WEBHOOKS).",
    )
    update_invitation_settings: UpdateInvitationSettingsPayload = strawberry.mutation(
        resolver=settings.update_invitation_settings,
        permission_classes=[HasPermission(Permission.INVITATION_SETTINGS)],
        description=(
            "Write the given invitation settings at a scope, all or nothing "
            "(admin: INVITATION_SETTINGS)."
        ),
    )

    create_website: WebsitePayload = strawberry.mutation(
        resolver=store.create_website,
        permission_classes=[CAN_SET_UP],
        description="Create a website (admin: STORES).",
    )
    update_website: WebsitePayload = strawberry.mutation(
        resolver=store.update_website,
        permission_classes=[CAN_SET_UP],
        description="Change a website's name or default group (admin: STORES).",
    )
    create_store_view: StoreViewPayload = strawberry.mutation(
        resolver=store.create_store_view,
        permission_classes=[CAN_SET_UP],
        description="Create a store view of a website (admin: STORES).",
    )
    update_store_view: StoreViewPayload = strawberry.mutation(
        resolver=store.update_store_view,
        permission_classes=[CAN_SET_UP],
        description="Change a store view; its later e-mails link to the new URL (admin: STORES).",
    )
    create_customer_group: CustomerGroupPayload = strawberry.mutation(
        resolver=store.create_customer_group,
        permission_classes=[CAN_SET_UP],
        description="Create a customer group (admin: STORES).",
    )
    update_email_senders: UpdateEmailSendersPayload = strawberry.mutation(
        resolver=store.update_email_senders,
        permission_classes=[CAN_SET_UP],
        description="Set who the e-mails of a scope come from, all or nothing (admin: STORES).",
    )
    save_email_template: SaveEmailTemplatePayload = strawberry.mutation(
        resolver=templates.save_email_template,
        permission_classes=[CAN_SET_UP],
        description="Create a template, or replace the one with this code; every variant is "
        "compiled and test-rendered first (admin: STORES).",
    )
    delete_email_template: DeleteEmailTemplatePayload = strawberry.mutation(
        resolver=templates.delete_email_template,
        permission_classes=[CAN_SET_UP],
        description="Delete a template no scope selects (admin: STORES).",
    )
    accept_invitation: AcceptInvitationPayload = strawberry.mutation(
        resolver=accounts.accept_invitation,
        permission_classes=[IsCustomer],
        description=(
            "Accept an invitation as the customer your identity provider's JWT signs in: the "
            "rules of createCustomer with invitationCode, against the token's verified e-mail."
        ),
    )


@strawberry.type(
    description="Live updates, over graphql-transport-ws on /graphql: sign in with "
    '{"authorization": "Bearer <token>"} in the connection_init payload (or the upgrade request\'s '
    "Authorization header)."
)
class Subscription:
    my_invitation_updates: AsyncGenerator[Invitation, None] = strawberry.subscription(
        resolver=subscriptions.my_invitation_updates,
        permission_classes=[IsCustomer],
        description="Each change of status or delivery of one of your own invitations, as it is "
        "now (customer token).",
    )
    invitation_updates: AsyncGenerator[Invitation, None] = strawberry.subscription(
        resolver=subscriptions.invitation_updates,
        permission_classes=[CAN_INVITE],
        description="Each change of status or delivery of an invitation the filter admits, as it "
        "is now (admin: INVITATIONS).",
    )
    bulk_operation_updates: AsyncGenerator[BulkOperation, None] = strawberry.subscription(
        resolver=bulk.bulk_operation_updates,
        permission_classes=[CAN_INVITE],
        description="The progress of one bulk operation, at most four times a second, until it "
        "ends (admin: INVITATIONS).",
    )


class Schema(strawberry.Schema):
    """The served schema, with the checks every operation's document passes (schema.limits), and
    the short way past Strawberry's extension runner for the operations that may take it
    (schema.operation)."""

    def __init__(
        self,
        *args: Any,
        check: DocumentChecker,
        short_operations: bool,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._document_check = check
        self._short: ShortOperations | None = None
        if short_operations and not self.directives and ShortOperations.covers(self.extensions):
            self._short = ShortOperations(self, check)

    @property
    def short_operations(self) -> ShortOperations | None:
        """The short way of its known operations (None: turned off)."""
        return self._short

    async def execute(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        short = self._short
        if short is not None and (
            known := short.known(query, operation_name, allowed_operation_types, context_value)
        ):
            return await short.execute(
                known,
                variable_values=variable_values,
                context=cast(Context, context_value),  # (known: a Context)
                root_value=root_value,
                operation_extensions=operation_extensions,
            )
        return await super().execute(
            query,
            variable_values,
            context_value,
            root_value,
            operation_name,
            allowed_operation_types,
            operation_extensions,
        )

    def check_document(self, document: str) -> Checked:
        """As the operation's document is checked when it runs (remembered): persisted queries
        are registered only once theirs passes. A syntax error is raised."""
        return self._document_check(self._schema, document)


def build_schema(settings: Settings) -> Schema:
    # The rules are built once: the limiters build a new rule class per instance.
    rules = [
        *QueryDepthLimiter(max_depth=settings.max_query_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=settings.max_aliases).validation_rules,
    ]
    if settings.is_production:
        rules.append(NoSchemaIntrospectionCustomRule)
    check = document_checker(max_tokens=settings.max_tokens, rules=rules)
    extensions: list[type[SchemaExtension] | Callable[[], SchemaExtension]] = [
        OperationMetrics,  # first: its hook is left last, after the errors are masked
        lambda: CheckedDocuments(check),
        StoreScope,
        SubscriptionsOverWebSocket,
        MaskUnexpectedErrors,
        TraceOperations,
    ]
    if settings.is_production:
        extensions.append(HideSuggestions)
    return Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        config=StrawberryConfig(disable_field_suggestions=settings.is_production),
        # None: Strawberry's own execution context.
        execution_context_class=ExecutionContext if settings.fast_execution else None,
        check=check,
        short_operations=settings.short_operations,
    )
