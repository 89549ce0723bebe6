"""What a rejected Update answers: a rule's refusal is the caller's conflict (409, the rule's code and details); an
Update the worker could not even take up is not (502 worker_error)."""

from http import HTTPStatus

from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from api.errors import refusal


def test_a_rules_refusal_is_a_409_with_its_code_and_details():
    cause = ApplicationError("stage 2 has unmet criteria", {"unmet_criteria": ["nda_signed"]}, type="criteria_unmet")

    answered = refusal(WorkflowUpdateFailedError(cause))

    assert (answered.status, answered.code, answered.details) == (
        HTTPStatus.CONFLICT,
        "criteria_unmet",
        {"unmet_criteria": ["nda_signed"]},
    )


def test_an_update_whose_argument_the_worker_cannot_decode_is_a_502_not_a_conflict():
    # How the SDK rejects an Update before its validator runs: the Python exception's name as the type.
    cause = ApplicationError("Failed decoding arguments", type="RuntimeError")

    answered = refusal(WorkflowUpdateFailedError(cause))

    assert (answered.status, answered.code, answered.details) == (
        HTTPStatus.BAD_GATEWAY,
        "worker_error",
        {"cause": "RuntimeError"},
    )
    assert "Failed decoding" not in answered.message, "the worker's internals stay in its log"
