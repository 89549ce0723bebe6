// Overview: onboardings by stage and SLA, revenue and payouts per month, partners per tier.
import { all, get, may } from "../api.js";
import { stackedBars } from "../charts.js";
import { el, euros, words, show } from "../ui.js";
import { STAGES } from "./board.js";
import { TIERS } from "./partners.js";

const SLA_TONES = [["on_track", "ok", "on track"], ["at_risk", "warn", "at risk"], ["overdue", "bad", "overdue"]];

export async function render(main) {
  const sections = [el("h1", {}, "Overview")];
  if (may("onboarding.read")) {
    const open = (await all("/onboardings", {}, 1000)).filter((o) => o.status === "in_progress" || o.status === "on_hold");
    const rows = STAGES.map((stage) => ({
      label: words(stage),
      parts: SLA_TONES.map(([sla, tone, name]) => ({ name, tone, value: open.filter((o) => o.stage === stage && o.sla_status === sla).length })),
    }));
    sections.push(stackedBars("Open onboardings by stage and SLA", rows));
  }
  if (may("payout.read")) {
    const months = (await get("/reports/monthly")).items;
    const rows = months.map((month) => ({
      label: month.month,
      parts: [
        { name: "ISV share paid out", tone: "info", value: month.payouts_cents },
        { name: "marketplace revenue", tone: "ok", value: Math.max(0, month.paid_net_cents - month.isv_share_cents) },
        { name: "ISV share not yet paid out", tone: "muted", value: Math.max(0, month.isv_share_cents - month.payouts_cents) },
      ],
    }));
    sections.push(
      rows.length ? stackedBars("Paid revenue per month (net) and payouts", rows, euros) : el("p", {}, "No revenue yet."),
    );
  }
  if (may("partner.read")) {
    const partners = await all("/partners", {}, 1000);
    const rows = TIERS.map((tier) => ({ label: words(tier), parts: [{ name: "partners", tone: "info", value: partners.filter((p) => p.tier === tier).length }] }));
    sections.push(stackedBars("Channel partners per tier", rows));
  }
  show(main, ...sections);
}
