// One subscription: its lifecycle (trial → active → suspended → terminated) with dates and causes, invoices,
// exports, and the operator's commands.
import { download, get, may } from "../api.js";
import { commandsOn } from "../commands.js";
import { badge, date, day, el, euros, field, show, table, timeline, words } from "../ui.js";

const METHODS = [
  ["credit_card", "Credit card (token)"],
  ["paypal", "PayPal (token)"],
  ["direct_debit", "SEPA direct debit"],
];

export async function render(main, id) {
  const path = `/subscriptions/${encodeURIComponent(id)}`;
  const [view, invoices] = await Promise.all([get(path), get(`${path}/invoices`)]);
  const commands = may("subscription.command") && view.status !== "terminated";
  // The app's plans, to change to; an app taken out of the catalogue offers none.
  const plans = commands ? await get(`/apps/${encodeURIComponent(view.app_id)}`).then((app) => app.plans, () => []) : [];
  const reload = () => render(main, id);

  const command = commandsOn(path, reload);

  show(main, 
    el("p", {}, el("a", { href: "#/subscriptions" }, "← Subscriptions")),
    el("h1", {}, `${view.customer.name} `, el("small", {}, `${view.app_id}, ${view.term_months}-month term`)),
    facts(view),
    el("h2", {}, "Lifecycle"),
    lifecycle(view),
    commands ? operatorCommands(view, plans, command) : null,
    el("h2", {}, "Invoices and payments"),
    table(
      [
        ["Invoice", (i) => i.number],
        ["Kind", (i) => words(i.kind)],
        ["Period", (i) => (i.period_start ? `${day(i.period_start)} – ${day(i.period_end)}` : "—")],
        ["Gross", (i) => euros(i.gross_cents)],
        ["Status", (i) => badge(i.status)],
        ["Paid", (i) => date(i.paid_at)],
        ["Failure", (i) => i.failure_reason || "—"],
      ],
      invoices.items,
    ),
    el("h2", {}, "Exports"),
    table(
      [
        ["Export", (e) => e.export_id],
        ["Requested", (e) => `${date(e.requested_at)} by ${e.requested_by}`],
        ["Fee invoice", (e) => e.fee_invoice],
        [
          "File",
          (e) =>
            e.file_name
              ? el("button", { type: "button", onclick: () => download(`${path}/exports/${encodeURIComponent(e.export_id)}`, {}, e.file_name) }, `Download ${e.file_name} (${e.size_bytes} bytes)`)
              : "being produced",
        ],
      ],
      view.exports,
    ),
    el("h2", {}, "History"),
    timeline([...view.history].reverse().map((entry) => ({ at: entry.at, title: words(entry.action), actor: entry.actor, detail: entry.detail }))),
    may("audit.read")
      ? el("p", {}, el("a", { href: `#/audit/history/${encodeURIComponent(`subscription-${view.id}`)}` }, "Decoded workflow history"))
      : null,
  );
}

function facts(view) {
  return el(
    "dl",
    { class: "facts" },
    el("dt", {}, "Status"), el("dd", {}, badge(view.status), view.suspension_reason ? ` (${words(view.suspension_reason)})` : ""),
    el("dt", {}, "Customer"), el("dd", {}, `${view.customer.name} (${view.customer.id}, ${view.customer.employees} employees)`),
    el("dt", {}, "ISV"), el("dd", {}, view.isv_id),
    el("dt", {}, "Channel partner"), el("dd", {}, view.channel_partner_id || "—"),
    el("dt", {}, "Price"), el("dd", {}, `${euros(view.monthly_price_cents)} per month, net`),
    el("dt", {}, "Payment method"), el("dd", {}, view.payment_method || "none on file"),
    el("dt", {}, "Next invoice"), el("dd", {}, date(view.next_invoice_at)),
    el("dt", {}, "Arrears"), el("dd", {}, euros(view.arrears_cents)),
    view.dunning
      ? [el("dt", {}, "Dunning"), el("dd", {}, `${view.dunning.retries_done} retries; next ${date(view.dunning.next_retry_at)}; unpaid ${view.dunning.unpaid_invoices.join(", ")}`)]
      : null,
    view.cancel_at ? [el("dt", {}, "Cancelled for"), el("dd", {}, date(view.cancel_at))] : null,
    view.scheduled_plan_change
      ? [el("dt", {}, "Plan change"), el("dd", {}, `to the ${planLabel(view.scheduled_plan_change)} from ${date(view.scheduled_plan_change.effective_at)}`)]
      : null,
    view.pending_proration_cents
      ? [el("dt", {}, "Proration"), el("dd", {}, `${euros(view.pending_proration_cents)} net on the next invoice`)]
      : null,
  );
}

function planLabel(plan) {
  return `${plan.term_months}-month plan at ${euros(plan.monthly_price_cents)} a month`;
}

// The four phases with their dates and what caused each step (from the subscription's own history).
function lifecycle(view) {
  const cause = (...actions) => {
    const entry = [...view.history].reverse().find((h) => actions.includes(h.action)); // the latest
    return entry ? `${words(entry.action)}${entry.detail ? `: ${entry.detail}` : ""} (${entry.actor})` : null;
  };
  const phases = [
    ["trialing", "Trial", view.booked_at, view.trial_ends_at, "booked"],
    ["active", "Active", view.contract_started_at, view.cancel_at || view.current_term_end, cause("trial_ended_with_method", "reinstated")],
    ["suspended", "Suspend mode", view.suspended_at, view.suspend_ends_at, cause("trial_ended_without_method", "cancelled_in_trial", "contract_ended", "dunning_exhausted")],
    ["terminated", "Terminated", view.terminated_at, null, cause("suspend_mode_ended")],
  ];
  const reached = ["trialing", "active", "suspended", "terminated"].indexOf(view.status);
  return el(
    "ol",
    { class: "phases" },
    phases.map(([status, title, from, until, why], index) =>
      el(
        "li",
        { class: status === view.status ? "phase current" : from ? "phase done" : "phase" },
        el("strong", {}, title, status === view.status ? " (now)" : ""),
        el("div", {}, from ? `from ${date(from)}` : index > reached ? "not reached" : "skipped"),
        until && from ? el("div", {}, `${status === view.status ? "until" : "ended"} ${date(until)}`) : null,
        why && from ? el("div", { class: "meta" }, why) : null,
      ),
    ),
  );
}

function operatorCommands(view, plans, command) {
  const place = el("div", { class: "answer" });
  const reason = el("input", { type: "text", name: "reason", maxlength: 500 });
  const method = el("select", { name: "method" }, METHODS.map(([value, label]) => el("option", { value }, label)));
  const token = el("input", { type: "text", name: "token", value: "tok_success" });
  const iban = el("input", { type: "text", name: "iban", placeholder: "DE89 3704 0044 0532 0130 00" });
  const holder = el("input", { type: "text", name: "holder" });
  const buttons = [];
  if (view.status !== "suspended" && !view.cancel_at) {
    buttons.push(el("button", { type: "button", onclick: () => command(place, "POST", "/cancel", { reason: reason.value || null }, view.status === "trialing" ? "Cancelled: suspend mode starts now." : "Cancelled at the end of the term.") }, "Cancel"));
  }
  if (view.status === "active" && view.cancel_at) {
    buttons.push(el("button", { type: "button", onclick: () => command(place, "POST", "/uncancel", {}, "Cancellation withdrawn: the subscription renews.") }, "Withdraw cancellation"));
  }
  if (view.status === "suspended") {
    buttons.push(el("button", { type: "button", onclick: () => command(place, "POST", "/reinstate", { comment: reason.value || null }, "Reinstated.") }, "Reinstate"));
  }
  buttons.push(el("button", { type: "button", onclick: () => command(place, "POST", "/export-request", {}, "Export requested.") }, "Request data export"));
  const change = el("button", {
    type: "button",
    onclick: () => {
      const body =
        method.value === "direct_debit"
          ? { type: "direct_debit", iban: iban.value, account_holder: holder.value, mandate_reference: `MANDATE-${Date.now()}` }
          : { type: method.value, token: token.value };
      command(place, "PUT", "/payment-method", body, "Payment method changed.");
    },
  }, "Change payment method");
  return el(
    "section",
    { class: "card commands", "aria-label": "Subscription commands" },
    field("Reason or comment", reason),
    el("div", { class: "buttons" }, buttons),
    view.status === "suspended" || view.cancel_at ? null : planChange(view, plans, command, place),
    el("fieldset", {}, el("legend", {}, "Payment method"), field("Type", method), field("Token (cards, PayPal)", token), field("IBAN (direct debit)", iban), field("Account holder", holder), change),
    place,
  );
}

// Another plan of the app: an upgrade applies at once (prorated on the next invoice), a downgrade when the term ends,
// and in the trial any change at once. With a downgrade scheduled, choosing the current plan withdraws it.
function planChange(view, plans, command, place) {
  const same = (a, b) => a && b && a.term_months === b.term_months && a.monthly_price_cents === b.monthly_price_cents;
  const current = { term_months: view.term_months, monthly_price_cents: view.monthly_price_cents };
  const scheduled = view.scheduled_plan_change;
  const offered = plans.filter((plan) => !same(plan, scheduled) && (scheduled || !same(plan, current)));
  if (offered.length === 0) return null;
  const term = el(
    "select",
    { name: "term" },
    offered.map((plan) => el("option", { value: plan.term_months }, same(plan, current) ? `${planLabel(plan)} (stay: no change at the term's end)` : planLabel(plan))),
  );
  const said = (answer) =>
    answer.scheduled_plan_change
      ? `Downgrade scheduled: the ${planLabel(answer.scheduled_plan_change)} from ${date(answer.scheduled_plan_change.effective_at)}.`
      : answer.pending_proration_cents
        ? `Upgraded at once; ${euros(answer.pending_proration_cents)} net prorated on the next invoice.`
        : "Plan changed.";
  const change = el("button", { type: "button", onclick: () => command(place, "POST", "/plan", { term_months: Number(term.value) }, said) }, "Change plan");
  return el("fieldset", {}, el("legend", {}, "Plan"), field("Change to", term), change);
}
