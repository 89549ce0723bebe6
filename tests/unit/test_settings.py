"""Settings whose defaults depend on the machine."""

import os

import pytest

from settings import Settings


def test_the_main_job_starts_one_worker_process_per_core_by_default(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("WORKER_PROCESSES", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 6)

    assert Settings(_env_file=None).worker_processes == 6


def test_worker_processes_can_still_be_set(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("WORKER_PROCESSES", "3")

    assert Settings(_env_file=None).worker_processes == 3


def test_payment_webhook_secrets_are_a_comma_separated_list_of_standard_webhooks_secrets(
    monkeypatch: pytest.MonkeyPatch,
):
    current, previous = "whsec_" + "A" * 32, "whsec_" + "B" * 32
    monkeypatch.setenv("PAYMENT_WEBHOOK_SECRETS", f"{current}, {previous}")

    assert Settings(_env_file=None).payment_webhook_secrets == [current, previous]


@pytest.mark.parametrize(
    ("value", "message"),
    [("", "at least one"), ("not-a-secret", "starts with 'whsec_'"), ("whsec_QUJD", "24 to 64 bytes")],
)
def test_a_payment_webhook_secret_that_is_not_a_standard_webhooks_secret_is_refused(
    monkeypatch: pytest.MonkeyPatch, value: str, message: str
):
    monkeypatch.setenv("PAYMENT_WEBHOOK_SECRETS", value)
    with pytest.raises(ValueError, match=message):
        Settings(_env_file=None)


@pytest.mark.parametrize("value", ["whsec_not/base64!!", "whsec_QUJD", "sk_live_typed_into_the_wrong_setting"])
def test_a_refused_secret_is_not_repeated_in_the_error(monkeypatch: pytest.MonkeyPatch, value: str):
    monkeypatch.setenv("PAYMENT_WEBHOOK_SECRETS", value)
    with pytest.raises(ValueError, match="payment_webhook_secrets") as refused:
        Settings(_env_file=None)
    assert value not in str(refused.value) and value.removeprefix("whsec_") not in str(refused.value)
