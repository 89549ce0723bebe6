"""The subscription's own account of what happened: who did what, when, and why."""

from datetime import datetime

from domain.subscription.model import HistoryEntry, SubscriptionState


def note(state: SubscriptionState, actor: str, action: str, now: datetime, detail: str | None = None) -> None:
    state.history.append(HistoryEntry(at=now, actor=actor, action=action, detail=detail))
