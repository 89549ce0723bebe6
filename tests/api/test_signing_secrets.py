"""An app's own signing secret for its connector calls: its ISV reads it and rotates it through the API; no other ISV
sees it; the rotation's answer, which Idempotency-Key replays keep, never holds the secret."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from domain.signing import checked_secret
from store import models
from store.db import create_engine, create_session_factory
from tests.api.conftest import ISV_A, ISV_B, Api, assert_error, auth, publish_app


def url(app_id: str) -> str:
    return f"/api/v1/apps/{app_id}/signing-secret"


async def read(api: Api, app_id: str, as_role: str = "isv_a") -> dict[str, object]:
    response = await api.http.get(url(app_id), headers=auth(as_role))
    assert response.status_code == 200, response.text
    answer: dict[str, object] = response.json()
    return answer


async def rotate(api: Api, app_id: str, key: str | None = None) -> dict[str, object]:
    headers = auth("isv_a") | ({"Idempotency-Key": key} if key else {})
    response = await api.http.post(f"{url(app_id)}/rotate", headers=headers)
    assert response.status_code == 201, response.text
    answer: dict[str, object] = response.json()
    return answer


async def test_an_isv_reads_its_apps_own_standard_webhooks_secret(api: Api):
    app_id, other_app = (
        await publish_app(api.settings.database_url, ISV_A),
        await publish_app(api.settings.database_url, ISV_A),
    )

    first = await read(api, app_id)

    assert checked_secret(str(first["secret"])) == first["secret"]
    assert (first["app_id"], first["generation"], first["also_signing"]) == (app_id, 1, [])
    assert await read(api, app_id) == first, "the secret is made once and then kept"
    assert (await read(api, other_app))["secret"] != first["secret"], "each app has a secret of its own"
    assert await read(api, app_id, as_role="admin") == first


async def test_another_isv_cannot_read_or_rotate_an_apps_secret(api: Api):
    theirs = await publish_app(api.settings.database_url, ISV_B)
    assert_error(await api.http.get(url(theirs), headers=auth("isv_a")), 404, "app_not_found")
    assert_error(await api.http.post(f"{url(theirs)}/rotate", headers=auth("isv_a")), 404, "app_not_found")
    assert_error(await api.http.get(url("no-such-app"), headers=auth("admin")), 404, "app_not_found")
    assert_error(await api.http.get(url(theirs), headers=auth("operator")), 403, "forbidden")


async def test_a_rotation_makes_a_new_secret_and_keeps_the_previous_one_signing_for_the_overlap(api: Api):
    app_id = await publish_app(api.settings.database_url, ISV_A)
    before = await read(api, app_id)

    rotation = await rotate(api, app_id, key="rotate-once")

    assert rotation["generation"] == 2
    assert str(before["secret"]) not in str(rotation) and "whsec_" not in str(rotation), "the answer holds no secret"
    assert rotation["secret_url"] == url(app_id)
    retires_at = datetime.fromisoformat(str(rotation["previous_retires_at"]))
    overlap = timedelta(hours=api.settings.connector_secret_overlap_hours)
    assert abs(retires_at - (datetime.now(UTC) + overlap)) < timedelta(minutes=1)
    after = await read(api, app_id)
    assert after["secret"] != before["secret"]
    assert after["also_signing"] == [{"generation": 1, "retires_at": rotation["previous_retires_at"]}]

    assert await rotate(api, app_id, key="rotate-once") == rotation, "a retry with the same key rotates once"
    assert (await read(api, app_id))["generation"] == 2


async def test_an_apps_secret_is_kept_sealed_in_the_store(api: Api):
    app_id = await publish_app(api.settings.database_url, ISV_A)
    secret = str((await read(api, app_id))["secret"])
    engine = create_engine(api.settings.database_url)
    async with create_session_factory(engine)() as session:
        row = await session.scalar(select(models.AppSigningSecret).where(models.AppSigningSecret.app_id == app_id))
    await engine.dispose()
    assert row is not None
    assert secret not in row.sealed_secret and secret.removeprefix("whsec_") not in row.sealed_secret
