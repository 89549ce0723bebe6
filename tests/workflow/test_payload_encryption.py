"""Customer data reaches Temporal encrypted: an IBAN is in no byte of the stored history, yet workers still read it."""

from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.api.history.v1 import History
from temporalio.client import WorkflowHistory
from temporalio.converter import PayloadCodec
from temporalio.worker import Replayer

from domain.payments import DirectDebit
from domain.subscription.model import ChangePaymentMethodCommand, SubscriptionStatus
from payload_codec import ENCODING
from tests.workflow.subscription_harness import METHODS, OPERATOR, SubscriptionHarness
from worker import WORKFLOWS, data_converter, workflow_runner
from workflows.subscription import SubscriptionWorkflow

IBAN = "DE89370400440532013000"
HOLDER = "Erika Mustermann"  # not the customer's name, so a hit can only come from the payment method
DIRECT_DEBIT = DirectDebit.model_validate(
    {"type": "direct_debit", "iban": IBAN, "mandate_reference": "MANDATE-0042", "account_holder": HOLDER}
)


def payloads_in(message: Message) -> list[Payload]:
    """Every Payload anywhere inside `message` (event attributes, maps of payloads, nested failures)."""
    if isinstance(message, Payload):
        return [message]
    found: list[Payload] = []
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        if field.message_type.GetOptions().map_entry:
            children = list(value.values()) if field.message_type.fields_by_name["value"].message_type else []
        else:
            children = list(value) if field.is_repeated else [value]
        for child in children:
            found += payloads_in(child)
    return found


async def decoded(history: WorkflowHistory, codec: PayloadCodec) -> bytes:
    """The history's protobuf bytes with every payload decoded in place, as a worker sees them."""
    proto = History(events=history.events)
    for payload in payloads_in(proto):
        [plain] = await codec.decode([payload])
        payload.CopyFrom(plain)
    return proto.SerializeToString()


async def direct_debit_subscription(subs: SubscriptionHarness) -> WorkflowHistory:
    """Books a subscription, switches it to direct debit, and lets the trial end so the IBAN is charged."""
    handle = await subs.book(payment_method=METHODS["credit_card"])
    await handle.execute_update(
        SubscriptionWorkflow.change_payment_method,
        ChangePaymentMethodCommand(actor=OPERATOR, payment_method=DIRECT_DEBIT),
    )
    await subs.sleep_days(31)
    assert (await subs.view(handle)).status == SubscriptionStatus.ACTIVE
    return await subs.latest(handle).fetch_history()


async def test_an_iban_and_account_holder_appear_in_no_stored_history_byte(subs: SubscriptionHarness):
    history = await direct_debit_subscription(subs)

    stored_json = history.to_json()
    stored_bytes = History(events=history.events).SerializeToString()
    for secret in (IBAN, HOLDER):
        assert secret not in stored_json
        assert secret.encode() not in stored_bytes
    payloads = payloads_in(History(events=history.events))
    assert any(payload.metadata.get("encoding") == ENCODING for payload in payloads)

    # The same history decoded with the project's converter does hold them: the test looks where they would be.
    codec = data_converter().payload_codec
    assert codec is not None
    plain = await decoded(history, codec)
    assert IBAN.encode() in plain
    assert HOLDER.encode() in plain


async def test_an_encrypted_history_replays_with_the_project_replayer(subs: SubscriptionHarness):
    history = await direct_debit_subscription(subs)
    # Through JSON, as `temporal workflow show --output json` would store it.
    recorded = WorkflowHistory.from_json(history.workflow_id, history.to_json())

    replayer = Replayer(workflows=WORKFLOWS, data_converter=data_converter(), workflow_runner=workflow_runner())
    result = await replayer.replay_workflow(recorded)

    assert result.replay_failure is None
