"""Builders shared by the activity tests."""

from typing import Any

from domain.subscription.model import ChargeRequest


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
