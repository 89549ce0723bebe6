"""Subscription side effects: the store's copy of a subscription, notifications, and customer data exports.

Also the store helpers the subscription's other activities (billing, connector, sandbox gateway) share.
"""

import csv
import io
import json
import os
import re
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import names
from activities.audit_trail import key_time, record_system_action, system_action
from domain.audit import AuditDraft, SystemAction
from domain.ids import subscription_workflow_id
from domain.subscription.model import (
    ExportFile,
    ExportJob,
    NotificationRecord,
    NotifiedRecord,
    SubscriptionRecord,
    SubscriptionStatus,
)
from store import audit, models
from store.db import as_utc, insert_ignoring_conflict, insert_once, table_of

EXPORT_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")  # becomes a file name: no paths
INVOICE_COLUMNS = (
    "number",
    "kind",
    "period_start",
    "period_end",
    "issued_at",
    "due_at",
    "net_cents",
    "proration_cents",  # of net_cents: a plan change's charge, or a credit below zero
    "vat_cents",
    "gross_cents",
    "currency",
    "status",
    "paid_at",
    "payment_id",
    "failure_reason",
)
SUBSCRIPTION_COLUMNS = tuple(name for name in SubscriptionRecord.model_fields if name != "updated_at")


def _row_values(row: models.Base, columns: tuple[str, ...]) -> dict[str, Any]:
    values = {name: getattr(row, name) for name in columns}
    return {name: as_utc(value) if isinstance(value, datetime) else value for name, value in values.items()}


class SubscriptionActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], exports_path: Path) -> None:
        self._sessions = sessions
        self._exports_path = exports_path

    @activity.defn(name=names.RECORD_SUBSCRIPTION)
    async def record_subscription(self, record: SubscriptionRecord) -> None:
        """Upserts the row of this booking; an older snapshot (a late retry) never overwrites a newer one.

        A snapshot that starts suspend mode, or terminates the subscription, is recorded in the audit log, in the
        same transaction.
        """
        await record_snapshot(self._sessions, record)

    @activity.defn(name=names.RECORD_SUBSCRIPTION_WITH_NOTICE)
    async def record_with_notice(self, change: NotifiedRecord) -> None:
        """`record_subscription` and `send_notification` in one transaction; a retry repeats neither."""
        await record_snapshot(self._sessions, change.record, change.notice)

    @activity.defn(name=names.SEND_NOTIFICATION)
    async def send_notification(self, note: NotificationRecord) -> None:
        async with self._sessions.begin() as session:
            await _notify_in(session, note)

    @activity.defn(name=names.PRODUCE_EXPORT)
    async def produce_export(self, job: ExportJob) -> ExportFile:
        """Writes `<export_id>.zip` (subscription, invoices as JSON and CSV, the ISV's export) once per export id."""
        if not EXPORT_ID_PATTERN.fullmatch(job.export_id):
            raise ApplicationError(f"export id {job.export_id!r} is not a safe file name", non_retryable=True)
        file_name = f"{job.export_id}.zip"
        path = self._exports_path / file_name
        async with self._sessions() as session:
            existing = await session.get(models.Export, job.export_id)
        if existing is not None and path.exists():
            produced = ExportFile(export_id=job.export_id, file_name=existing.file_name, size_bytes=existing.size_bytes)
            await self._record_export(job, produced)  # a retry after a crash before the audit write
            return produced

        archive = _zip(await self._export_files(job), job.requested_at)
        self._exports_path.mkdir(parents=True, exist_ok=True)
        # Write then rename, so a download never sees half a file.
        partial = path.with_suffix(".zip.partial")
        partial.write_bytes(archive)
        os.replace(partial, path)
        row = models.Export(
            export_id=job.export_id,
            subscription_id=job.subscription_id,
            file_name=file_name,
            size_bytes=len(archive),
            created_at=job.requested_at,
        )
        await insert_once(self._sessions, row)
        produced = ExportFile(export_id=job.export_id, file_name=file_name, size_bytes=len(archive))
        await self._record_export(job, produced)
        return produced

    async def _record_export(self, job: ExportJob, produced: ExportFile) -> None:
        await record_system_action(
            self._sessions,
            SystemAction.EXPORT_PRODUCED,
            target=subscription_workflow_id(job.subscription_id),
            at=job.requested_at,
            detail=f"data export {job.export_id}: file {produced.file_name}, {produced.size_bytes} bytes",
            event_key=f"{SystemAction.EXPORT_PRODUCED.value}:{job.export_id}",
        )

    async def _export_files(self, job: ExportJob) -> dict[str, bytes]:
        async with self._sessions() as session:
            subscription = await session.scalar(
                select(models.Subscription)
                .where(models.Subscription.subscription_id == job.subscription_id)
                .order_by(models.Subscription.booked_at.desc())
                .limit(1)
            )
            invoices = (
                await session.scalars(
                    select(models.InvoiceRow)
                    .where(models.InvoiceRow.subscription_id == job.subscription_id)
                    .order_by(models.InvoiceRow.issued_at, models.InvoiceRow.number)
                )
            ).all()
        invoice_rows = [_row_values(invoice, INVOICE_COLUMNS) for invoice in invoices]
        return {
            "subscription.json": _json(_row_values(subscription, SUBSCRIPTION_COLUMNS) if subscription else None),
            "invoices.json": _json(invoice_rows),
            "invoices.csv": _csv(invoice_rows),
            "isv_export.json": _json(job.isv_export),
        }


async def record_snapshot(
    sessions: async_sessionmaker[AsyncSession], record: SubscriptionRecord, notice: NotificationRecord | None = None
) -> None:
    """The snapshot, its audit entry (a suspension, a termination) and `notice`, in one transaction."""
    for attempt in range(2):
        try:
            async with sessions.begin() as session:
                await _record_in(session, record)
                if notice is not None:
                    await _notify_in(session, notice)
            return
        except IntegrityError:
            # A concurrent attempt inserted the row between our read and write: update it instead.
            if attempt:
                raise


async def _record_in(session: AsyncSession, record: SubscriptionRecord) -> None:
    values = record.model_dump()
    values["status"] = record.status.value
    values["suspension_reason"] = record.suspension_reason.value if record.suspension_reason else None
    # Core statements, not the ORM's unit of work: a snapshot is written at every step of every subscription.
    table = table_of(models.Subscription)
    booking = (table.c.subscription_id == record.subscription_id) & (table.c.booked_at == record.booked_at)
    stored = (await session.execute(select(table.c.status, table.c.updated_at).where(booking))).first()
    # The store held an earlier snapshot of this same suspension: not a new one.
    suspension_went_on = (
        stored is not None
        and stored.status == SubscriptionStatus.SUSPENDED
        and as_utc(stored.updated_at) < record.updated_at
    )
    if stored is None:
        await session.execute(insert(table), values)
    elif as_utc(stored.updated_at) <= record.updated_at:
        await session.execute(update(table).where(booking), values)
    if record.status == SubscriptionStatus.SUSPENDED and not suspension_went_on:
        audit.enqueue_in(session, _suspension(record))
    elif record.status == SubscriptionStatus.TERMINATED:
        audit.enqueue_in(session, _termination(record))


def _suspension(record: SubscriptionRecord) -> AuditDraft:
    """Suspend mode starts with the first suspended snapshot: the workflow records one as it suspends.

    The store held no suspended snapshot of this booking before it (a later one of the same suspension, should
    the workflow ever record one, finds the earlier one and is not a new suspension). The snapshot's time is
    the workflow's time as it suspended, which also tells this suspension from an earlier one that ended in a
    reinstatement; a retry of the same snapshot has the same time and so the same key.
    """
    reason = record.suspension_reason.value if record.suspension_reason else "unknown reason"
    return system_action(
        SystemAction.SUBSCRIPTION_SUSPENDED,
        target=subscription_workflow_id(record.subscription_id),
        at=record.updated_at,
        detail=f"suspend mode ({reason}) for app {record.app_id} of ISV {record.isv_id}; the data is kept",
        event_key=(
            f"{SystemAction.SUBSCRIPTION_SUSPENDED.value}:{record.subscription_id}:"
            f"{key_time(record.booked_at)}:{key_time(record.updated_at)}"
        ),
    )


def _termination(record: SubscriptionRecord) -> AuditDraft:
    """The end of suspend mode. The deletion of the customer's data is recorded by the ISV connector when the
    ISV acknowledges the deprovisioning call (activities/connector.py): that is where the data is deleted, and a
    deprovisioning the ISV refused must not read as a deletion here."""
    terminated_at = record.terminated_at or record.updated_at
    return system_action(
        SystemAction.SUBSCRIPTION_TERMINATED,
        target=subscription_workflow_id(record.subscription_id),
        at=terminated_at,
        detail=f"suspend mode ended; subscription to app {record.app_id} of ISV {record.isv_id} terminated",
        event_key=(
            f"{SystemAction.SUBSCRIPTION_TERMINATED.value}:{record.subscription_id}:"
            f"{key_time(record.booked_at)}:{key_time(terminated_at)}"
        ),
    )


async def _notify_in(session: AsyncSession, note: NotificationRecord) -> None:
    """Stores the notification once per key (delivery is the store's row: operators and the API read it)."""
    values = {
        "key": note.key,
        "subject_ref": note.subject_ref,
        "kind": note.kind,
        "recipient": note.recipient,
        "message": note.message,
        "created_at": note.at,
    }
    if await insert_ignoring_conflict(session, models.Notification, values):
        activity.logger.info("notified %s: %s", note.recipient, note.message)


def _json(value: Any) -> bytes:
    return json.dumps(to_jsonable_python(value), indent=2, ensure_ascii=False).encode()


def _csv(rows: list[dict[str, Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=INVOICE_COLUMNS)
    writer.writeheader()
    for row in rows:
        writer.writerow(
            {name: value.isoformat() if isinstance(value, datetime) else value for name, value in row.items()}
        )
    return buffer.getvalue().encode()


def _zip(files: dict[str, bytes], stamped: datetime) -> bytes:
    """A ZIP whose entries carry the request's time, so producing the same export again gives the same bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=stamped.timetuple()[:6]), content, zipfile.ZIP_DEFLATED)
    return buffer.getvalue()
