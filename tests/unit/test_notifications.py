"""Timers: a reminder when a stage overruns, an escalation when the 42-day target is missed (docs/architecture.md)."""

from datetime import timedelta

from domain.onboarding import rules
from domain.onboarding.config import StageId
from domain.onboarding.model import NotificationKind, ReassignCommand, RejectCommand

from .builders import PM, T0, advance, at, hold, new_onboarding, onboarding_in, resume

TICK = timedelta(microseconds=1)


def kinds(state, now) -> list[NotificationKind]:
    return [n.kind for n in rules.due_notifications(state, now)]


def send_all(state, now) -> None:
    for notification in rules.due_notifications(state, now):
        rules.mark_sent(state, notification)


# --- reminders -----------------------------------------------------------------------------------


def test_nothing_is_due_within_the_stage_budget():
    assert rules.due_notifications(new_onboarding(T0), at(5) - TICK) == []


def test_a_reminder_is_due_when_the_stage_overruns_its_budget():
    state = new_onboarding(T0)
    [reminder] = rules.due_notifications(state, at(5))
    assert reminder.kind == NotificationKind.REMINDER
    assert reminder.stage == StageId.IDENTIFICATION
    assert reminder.at == at(5)
    assert reminder.recipient == PM
    assert "identification" in reminder.message
    assert "5 days" in reminder.message


def test_the_reminder_goes_to_the_current_partner_manager():
    state = new_onboarding(T0)
    rules.apply_reassign(state, ReassignCommand(actor="admin-eve", partner_manager="pm-bert"), at(1))
    [reminder] = rules.due_notifications(state, at(6))
    assert reminder.recipient == "pm-bert"


def test_a_stage_is_reminded_only_once():
    state = new_onboarding(T0)
    send_all(state, at(5))
    assert state.reminded_stages == [StageId.IDENTIFICATION]
    assert rules.due_notifications(state, at(6)) == []
    assert rules.due_notifications(state, at(30)) == []


def test_every_stage_that_overruns_gets_its_own_reminder():
    state = new_onboarding(T0)
    send_all(state, at(6))
    advance(state, at(6))
    assert rules.due_notifications(state, at(13) - TICK) == []
    [reminder] = rules.due_notifications(state, at(13))
    assert (reminder.kind, reminder.stage) == (NotificationKind.REMINDER, StageId.FEASIBILITY)


def test_a_stage_left_within_budget_is_never_reminded():
    state = new_onboarding(T0)
    advance(state, at(4))
    assert rules.due_notifications(state, at(9)) == []
    assert StageId.IDENTIFICATION not in state.reminded_stages


def test_marking_a_notification_sent_keeps_it_on_the_onboarding():
    state = new_onboarding(T0)
    [reminder] = rules.due_notifications(state, at(5))
    rules.mark_sent(state, reminder)
    assert state.notifications == [reminder]
    assert not state.escalated


# --- escalation ----------------------------------------------------------------------------------


def test_missing_the_target_escalates():
    state = new_onboarding(T0)
    send_all(state, at(5))
    assert rules.due_notifications(state, at(42) - TICK) == []
    [escalation] = rules.due_notifications(state, at(42))
    assert escalation.kind == NotificationKind.ESCALATION
    assert escalation.stage == StageId.IDENTIFICATION
    assert escalation.recipient == PM
    assert "42-day" in escalation.message


def test_the_escalation_is_sent_once():
    state = new_onboarding(T0)
    send_all(state, at(42))
    assert state.escalated
    assert rules.due_notifications(state, at(43)) == []
    assert rules.due_notifications(state, at(400)) == []


def test_a_late_first_look_brings_the_reminder_and_the_escalation_together():
    state = new_onboarding(T0)
    assert kinds(state, at(50)) == [NotificationKind.REMINDER, NotificationKind.ESCALATION]
    send_all(state, at(50))
    assert [n.kind for n in state.notifications] == [NotificationKind.REMINDER, NotificationKind.ESCALATION]


def test_an_escalation_is_still_followed_by_a_reminder_for_a_later_overrunning_stage():
    state = new_onboarding(T0)
    send_all(state, at(42))
    advance(state, at(43))
    assert kinds(state, at(50)) == [NotificationKind.REMINDER]


# --- on hold and closed --------------------------------------------------------------------------


def test_nothing_is_due_while_on_hold():
    state = new_onboarding(T0)
    hold(state, at(1))
    assert rules.due_notifications(state, at(6)) == []
    assert rules.due_notifications(state, at(60)) == []


def test_a_reminder_and_escalation_that_fell_due_before_a_hold_wait_for_the_resume():
    state = new_onboarding(T0)
    hold(state, at(43))  # stage and target both overran, nothing sent yet
    assert rules.due_notifications(state, at(43)) == []
    assert rules.due_notifications(state, at(50)) == []
    resume(state, at(50))
    assert kinds(state, at(50)) == [NotificationKind.REMINDER, NotificationKind.ESCALATION]


def test_after_a_resume_the_reminder_comes_later_by_the_time_on_hold():
    state = new_onboarding(T0)
    hold(state, at(1))
    resume(state, at(4))
    assert rules.due_notifications(state, at(8) - TICK) == []
    assert kinds(state, at(8)) == [NotificationKind.REMINDER]


def test_after_a_resume_the_escalation_comes_later_by_the_time_on_hold():
    state = new_onboarding(T0)
    hold(state, at(1))
    resume(state, at(4))
    send_all(state, at(8))
    assert rules.due_notifications(state, at(45) - TICK) == []
    assert kinds(state, at(45)) == [NotificationKind.ESCALATION]


def test_nothing_is_due_after_a_rejection():
    state = new_onboarding(T0)
    rules.apply_reject(state, RejectCommand(actor=PM, reason="not a fit"), at(1))
    assert rules.due_notifications(state, at(100)) == []


def test_nothing_is_due_after_going_live():
    state = onboarding_in(StageId.GO_LIVE, T0)
    advance(state, at(1))
    assert rules.due_notifications(state, at(100)) == []


# --- next wakeup ---------------------------------------------------------------------------------


def test_the_next_wakeup_is_the_stage_deadline_when_it_comes_first():
    assert rules.next_wakeup(new_onboarding(T0), T0) == at(5)


def test_after_the_reminder_the_next_wakeup_is_the_target():
    state = new_onboarding(T0)
    send_all(state, at(5))
    assert rules.next_wakeup(state, at(5)) == at(42)


def test_the_next_wakeup_is_the_target_when_it_comes_before_the_stage_deadline():
    state = onboarding_in(StageId.INTEGRATION, T0)
    state.clock = state.clock.enter_stage(at(40))  # integration due day 54, target day 42
    assert rules.next_wakeup(state, at(40)) == at(42)


def test_the_next_wakeup_follows_the_new_stage_after_advancing():
    state = new_onboarding(T0)
    advance(state, at(3))
    assert rules.next_wakeup(state, at(3)) == at(10)


def test_the_next_wakeup_moves_back_by_the_time_on_hold():
    state = new_onboarding(T0)
    hold(state, at(1))
    resume(state, at(4))
    assert rules.next_wakeup(state, at(4)) == at(8)


def test_there_is_no_wakeup_when_reminder_and_escalation_are_both_sent():
    state = new_onboarding(T0)
    send_all(state, at(42))
    assert rules.next_wakeup(state, at(42)) is None


def test_there_is_no_wakeup_while_on_hold():
    state = new_onboarding(T0)
    hold(state, at(1))
    assert rules.next_wakeup(state, at(1)) is None


def test_there_is_no_wakeup_once_closed():
    rejected = new_onboarding(T0)
    rules.apply_reject(rejected, RejectCommand(actor=PM, reason="not a fit"), at(1))
    live = onboarding_in(StageId.GO_LIVE, T0)
    advance(live, at(1))
    assert rules.next_wakeup(rejected, at(1)) is None
    assert rules.next_wakeup(live, at(1)) is None
