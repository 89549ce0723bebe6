"""A payment method a caller brings to the API (a booking, a change of method): checked in full and described."""

from activities.sandbox_gateway import described
from api.errors import invalid_request
from domain.payments import DirectDebit, PaymentMethod, iban_problem


def new_payment_method(method: PaymentMethod, location: str) -> PaymentMethod:
    """`method` once its IBAN passed the account rules too (422 at `location` otherwise), with the gateway's
    description of its card. The models check an IBAN's length and check digits only, so that the IBANs a running
    workflow holds from an earlier release still decode (domain/payments.iban_problem); a new one is checked here."""
    if isinstance(method, DirectDebit) and (problem := iban_problem(method.iban)) is not None:
        field = f"{location}.{method.type.value}.iban"
        raise invalid_request([{"field": field, "message": f"not a valid IBAN: {problem}"}])
    return described(method)
