"""Builders shared by the activity tests."""

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.money import invoice_amounts
from domain.subscription.model import ChargeRequest, Invoice, InvoiceIssue, InvoiceKind
from payload_codec import EncryptionCodec
from store.app_secrets import AppSecrets

SEALING_CODEC = EncryptionCodec({"test-1": bytes(range(32))}, "test-1")


def app_secrets(sessions: async_sessionmaker[AsyncSession], overlap: timedelta = timedelta(hours=24)) -> AppSecrets:
    """The apps' signing secrets, sealed with a test key."""
    return AppSecrets(sessions, SEALING_CODEC, overlap)


def charge_request(method: str, value: str | None, key: str | None = None) -> ChargeRequest:
    payment: dict[str, Any] = {"type": method}
    if method == "direct_debit":
        payment.update(iban=value, mandate_reference="MANDATE-0001", account_holder="Acme GmbH")
    elif method != "phone_bill":
        payment["token"] = value
    return ChargeRequest.model_validate(
        {
            "idempotency_key": key or f"charge-{method}-{value}",
            "subscription_id": "acme-crm-pro",
            "invoice_number": f"INV-{method}-{value}",
            "amount_cents": 2_368,
            "currency": "EUR",
            "method": payment,
            "telekom_customer_number": value if method == "phone_bill" else None,
            "description": "CRM Pro, March 2026",
        }
    )


def invoice_issue(number: str, issued: datetime) -> InvoiceIssue:
    """A 19.90 EUR monthly invoice of subscription acme-crm-pro, due 14 days after it is issued."""
    invoice = Invoice(
        number=number,
        kind=InvoiceKind.PERIOD,
        issued_at=issued,
        period_start=issued,
        period_end=issued + timedelta(days=30),
        amounts=invoice_amounts(1_990, 19),
    )
    return InvoiceIssue(
        subscription_id="acme-crm-pro",
        customer_id="acme",
        app_id="crm-pro",
        isv_id="crm-isv",
        channel_partner_id=None,
        invoice=invoice,
        due_at=issued + timedelta(days=14),
    )
