"""The operator console, used as its users would: a partner manager, an operator, an auditor and an ISV, each with
the API key of their role, in headless Chromium."""

import asyncio
import re
import uuid
import zipfile
from pathlib import Path

from playwright.async_api import expect

from domain.onboarding.config import ONBOARDING, CriterionSource, StageId
from tests.api.conftest import ISV_A, ISV_B, METHODS, auth, booking, key_of
from tests.browser.conftest import Console


async def _new_onboarding(console: Console, isv: str = ISV_A) -> tuple[str, str]:
    app = f"app-{uuid.uuid4().hex[:8]}"
    view = await console.api.start(isv=isv, app=app)
    return str(view["id"]), app


async def _book(console: Console, app: str) -> str:
    customer = f"cust-{uuid.uuid4().hex[:8]}"
    booking = {
        "customer": {"id": customer, "name": "Bäckerei Schmidt GmbH", "employees": 12},
        "app_id": app,
        "term_months": 12,
        "payment_method": {"type": "credit_card", "token": "tok_success"},
    }
    response = await console.api.http.post("/api/v1/subscriptions", json=booking, headers=auth("operator"))
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _walk_to_live(console: Console, onboarding: str) -> None:
    for spec in ONBOARDING.stages:
        await console.api.pass_stage(onboarding, spec.id)


async def test_a_partner_manager_takes_an_app_from_identification_to_live_and_finds_it_in_the_catalogue(
    console: Console,
) -> None:
    onboarding, app = await _new_onboarding(console)
    await console.sign_in("pm")
    await console.open("/onboardings")
    await console.page.locator(f'a[href="#/onboardings/{onboarding}"]').wait_for()
    await console.screenshot("onboarding-board")
    await console.page.locator(f'a[href="#/onboardings/{onboarding}"]').click()
    await console.page.get_by_role("heading", name="Checklist").wait_for()

    page = console.page
    for index, spec in enumerate(ONBOARDING.stages):
        if spec.id == StageId.FEASIBILITY:
            # Advancing before the criteria are met is refused where it was asked, with the unmet criteria listed.
            await page.get_by_role("button", name="Advance to commercial").click()
            refusal = await page.get_by_role("alert").inner_text()
            assert "409" in refusal and "criteria unmet" in refusal
            await console.screenshot("onboarding-refusal")
        if spec.id == StageId.COMMERCIAL:
            await page.get_by_label("Revenue share for the ISV (%)").fill("70")
            await page.get_by_label("Monthly price, 12-month term (€, empty: not offered)").fill("14.90")
            await page.get_by_role("button", name="Save terms").click()
            await page.get_by_text("Commercial terms saved.").wait_for()
        for criterion in spec.criteria:
            if criterion.source == CriterionSource.CHECKLIST:
                await page.locator(f"#item-{criterion.id}").check()
                await page.get_by_text(f"Ticked: {criterion.title}.").wait_for()
        if spec.id == StageId.GO_LIVE:
            await page.get_by_role("button", name="Go live").click()
            await page.get_by_text("The app is live.").wait_for()
        else:
            following = ONBOARDING.stages[index + 1].id.value.replace("_", " ")
            await page.get_by_role("button", name=f"Advance to {following}").click()
            await page.get_by_text(f"Advanced to {following}.").wait_for()

    assert "live" in await page.locator("dl.facts").inner_text()
    await console.screenshot("onboarding-live")
    await console.open("/catalogue")
    await page.get_by_text(f"({app})").wait_for()
    await console.screenshot("catalogue")
    console.assert_clean()


async def test_an_operator_cancels_a_subscription_in_its_trial_and_sees_suspend_mode(console: Console) -> None:
    onboarding, app = await _new_onboarding(console)
    await _walk_to_live(console, onboarding)
    subscription = await _book(console, app)
    await console.sign_in("operator")
    await console.open("/subscriptions?status=trialing")
    await console.page.locator(f'a[href="#/subscriptions/{subscription}"]').click()
    await console.page.get_by_role("heading", name="Lifecycle").wait_for()
    await console.screenshot("subscription-trial")

    await console.page.get_by_label("Reason or comment").fill("customer changed their mind")
    await console.page.get_by_role("button", name="Cancel").click()
    await console.page.get_by_text("Suspend mode (now)").wait_for()
    facts = await console.page.locator("dl.facts").inner_text()
    assert "suspended" in facts and "cancelled" in facts
    await console.screenshot("subscription-suspended")
    console.assert_clean()


async def test_an_operator_changes_the_plan_of_a_subscription_in_its_trial(console: Console) -> None:
    onboarding, app = await _new_onboarding(console)
    await _walk_to_live(console, onboarding)
    subscription = await _book(console, app)  # the 12-month plan; the app also offers 1 month
    await console.sign_in("operator")
    await console.open(f"/subscriptions/{subscription}")
    await expect(console.page.get_by_role("heading", level=1)).to_contain_text("12-month term")

    await console.page.get_by_label("Change to").select_option("1")
    await console.page.get_by_role("button", name="Change plan").click()
    # In the trial a change applies at once: the page is drawn again on the new plan, which is no longer offered.
    await expect(console.page.get_by_role("heading", level=1)).to_contain_text("1-month term")
    await expect(console.page.locator("#flash")).to_contain_text("Plan changed.")
    await expect(console.page.get_by_label("Change to").locator("option")).to_have_text([re.compile("^12-month plan")])
    view = await console.api.http.get(f"/api/v1/subscriptions/{subscription}", headers=auth("operator"))
    assert (view.json()["term_months"], view.json()["monthly_price_cents"]) == (1, 1990)
    console.assert_clean()


async def test_an_operator_withdraws_a_cancellation_then_schedules_a_downgrade_for_the_terms_end(
    skipping_console: Console,
) -> None:
    console = skipping_console
    async with booking(console.api) as subs:
        view = await subs.book(term_months=12, payment_method=METHODS["credit_card"])
        await subs.sleep_days(31)  # the trial ends with a card on file: the 12-month term runs
        await subs.ok(view["id"], "cancel", {"reason": "budget cut"})
        await console.sign_in("operator")
        await console.open(f"/subscriptions/{view['id']}")
        facts = console.page.locator("dl.facts")
        await expect(facts).to_contain_text("Cancelled for")

        await console.page.get_by_role("button", name="Withdraw cancellation").click()
        await expect(facts).not_to_contain_text("Cancelled for")
        await console.page.get_by_label("Change to").select_option("1")
        await console.page.get_by_role("button", name="Change plan").click()
        # A shorter term waits for the end of the one the customer committed to.
        await expect(console.page.locator("#flash")).to_contain_text("Downgrade scheduled")
        await expect(facts).to_contain_text("to the 1-month plan")
        await expect(console.page.get_by_role("heading", level=1)).to_contain_text("12-month term")
        after = await subs.view(view["id"])
        assert after["cancel_at"] is None
        assert after["scheduled_plan_change"]["effective_at"] == after["current_term_end"]

        # Staying on the current plan withdraws the downgrade.
        await console.page.get_by_label("Change to").select_option("12")
        await console.page.get_by_role("button", name="Change plan").click()
        await expect(facts).not_to_contain_text("to the 1-month plan")
        assert (await subs.view(view["id"]))["scheduled_plan_change"] is None
        console.assert_clean()


async def test_an_auditor_reads_a_decoded_timeline_and_the_verification_of_the_audit_log(console: Console) -> None:
    onboarding, _ = await _new_onboarding(console)
    await console.api.pass_stage(onboarding, StageId.IDENTIFICATION)
    await console.sign_in("auditor")
    await console.open("/audit")
    await console.page.get_by_text("chain intact").wait_for()
    await console.screenshot("audit")

    await console.page.get_by_label("Workflow id").fill(f"onboarding-{onboarding}")
    await console.page.get_by_role("button", name="Open history").click()
    await console.page.get_by_role("heading", name=f"History onboarding-{onboarding} (OnboardingWorkflow)").wait_for()
    timeline = await console.page.locator("ol.timeline").inner_text()
    # Decoded: the partner manager's command and its payload read as text, not ciphertext.
    assert "advance" in timeline.lower() and "pm-anna" in timeline
    await console.screenshot("audit-history")
    # An auditor reads; the console offers no command to it.
    await console.open(f"/onboardings/{onboarding}")
    assert await console.page.get_by_role("button", name="Reject").count() == 0
    console.assert_clean()


async def test_an_isv_key_sees_only_its_own_onboardings_and_nothing_it_may_not_read(console: Console) -> None:
    own, _ = await _new_onboarding(console, ISV_A)
    other, _ = await _new_onboarding(console, ISV_B)
    await console.sign_in("isv_a")
    nav = await console.page.locator("#nav").inner_text()
    assert "Onboardings" in nav and "Audit" not in nav and "Partners" not in nav
    await console.open("/onboardings")
    await console.page.locator(f'a[href="#/onboardings/{own}"]').wait_for()
    assert await console.page.locator(f'a[href="#/onboardings/{other}"]').count() == 0
    await console.screenshot("isv-board")

    await console.open(f"/onboardings/{other}")
    refusal = await console.page.get_by_role("alert").inner_text()
    assert "404" in refusal or "403" in refusal
    console.assert_clean()


async def test_the_overview_and_partner_pages_draw_from_the_api(console: Console) -> None:
    enrolment = {
        "id": f"p-{uuid.uuid4().hex[:8]}",
        "name": "Vertrieb Süd GmbH",
        "account_manager": "am-arno",
        "last_year_points": 8000,
    }
    response = await console.api.http.post("/api/v1/partners", json=enrolment, headers=auth("account_manager"))
    assert response.status_code == 201, response.text
    await console.sign_in("admin")
    await console.open("/overview")
    await console.page.get_by_text("Open onboardings by stage and SLA").wait_for()
    await console.page.get_by_text("Channel partners per tier").wait_for()
    await console.screenshot("overview")
    await console.open("/partners")
    await console.page.get_by_text("Vertrieb Süd GmbH").first.wait_for()
    await console.screenshot("partners")
    console.assert_clean()


async def test_the_api_documentation_renders_offline(console: Console) -> None:
    await console.page.goto(f"{console.url}/docs")
    await console.page.get_by_text("/api/v1/onboardings", exact=False).first.wait_for()
    await console.screenshot("docs")
    console.assert_clean()


async def test_the_console_is_used_with_the_keyboard_alone(console: Console) -> None:
    await console.page.goto(f"{console.url}/console/")
    await console.page.keyboard.type(key_of("pm"))  # the key field has the focus when the page opens
    await console.page.keyboard.press("Enter")
    await console.page.get_by_role("button", name="Sign out").wait_for()
    # The skip link comes first, then the pages: Tab to "Onboardings" and open it with Enter.
    for _ in range(10):
        await console.page.keyboard.press("Tab")
        focused = await console.page.evaluate("document.activeElement.textContent")
        if focused == "Onboardings":
            break
    assert focused == "Onboardings"
    await console.page.keyboard.press("Enter")
    await console.page.get_by_role("heading", name="Onboarding board").wait_for()
    console.assert_clean()


async def test_a_partner_manager_puts_an_onboarding_on_hold_and_resumes_it(console: Console) -> None:
    onboarding, _ = await _new_onboarding(console)
    await console.sign_in("pm")
    await console.open(f"/onboardings/{onboarding}")
    page = console.page
    await page.get_by_label("Comment or reason").fill("waiting for the ISV's security audit")
    await page.get_by_role("button", name="Put on hold").click()
    await page.get_by_text("Put on hold.").wait_for()
    # The facts are read again after the answer: wait for them rather than read them at once.
    await expect(page.locator("dl.facts")).to_contain_text("on hold")
    await console.open("/onboardings")
    card = page.locator("li.card", has=page.locator(f'a[href="#/onboardings/{onboarding}"]'))
    assert "on hold" in await card.inner_text()
    await console.open(f"/onboardings/{onboarding}")
    await page.get_by_role("button", name="Resume").click()
    await page.get_by_text("Resumed.").wait_for()
    await expect(page.locator("dl.facts")).to_contain_text("in progress")
    console.assert_clean()


async def test_an_auditor_downloads_the_audit_log_as_csv(console: Console) -> None:
    await _new_onboarding(console)
    await console.sign_in("auditor")
    await console.open("/audit")
    async with console.page.expect_download() as started:
        await console.page.get_by_role("button", name="Download CSV (every matching entry)").click()
    download = await started.value
    assert download.suggested_filename == "audit-log.csv"
    content = await asyncio.to_thread(Path(await download.path()).read_text)
    assert content.splitlines()[0].startswith("seq,") and "onboarding.start" in content
    console.assert_clean()


async def test_an_operator_requests_a_data_export_in_suspend_mode_and_downloads_it(console: Console) -> None:
    onboarding, app = await _new_onboarding(console)
    await _walk_to_live(console, onboarding)
    subscription = await _book(console, app)
    cancel = await console.api.http.post(
        f"/api/v1/subscriptions/{subscription}/cancel", json={"reason": "closing down"}, headers=auth("operator")
    )
    assert cancel.status_code == 200, cancel.text
    await console.sign_in("operator")
    await console.open(f"/subscriptions/{subscription}")
    await console.page.get_by_role("button", name="Request data export").click()
    await console.page.get_by_text("Export requested.").wait_for()
    download_button = console.page.get_by_role("button", name=re.compile(r"^Download .*\.zip"))
    for _ in range(20):  # the export is produced by an activity after the command answered
        if await download_button.count():
            break
        await console.open(f"/subscriptions/{subscription}")
    async with console.page.expect_download() as started:
        await download_button.click()
    download = await started.value
    with zipfile.ZipFile(await download.path()) as archive:
        assert {"subscription.json", "invoices.csv"} <= set(archive.namelist())
    console.assert_clean()
