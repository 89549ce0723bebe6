// One onboarding: its checklist by stage (tick/untick), commercial terms, the stage commands and its history.
import { get, may } from "../api.js";
import { commandsOn } from "../commands.js";
import { badge, date, el, field, show, timeline, words } from "../ui.js";
import { STAGES } from "./board.js";

const TERMS = [1, 12, 24];
const ENDPOINT_ITEM = "provisioning_endpoint_registered";

export async function render(main, id) {
  const path = `/onboardings/${encodeURIComponent(id)}`;
  const view = await get(path);
  const commands = may("onboarding.command") && (view.status === "in_progress" || view.status === "on_hold");
  const reload = () => render(main, id);

  const command = commandsOn(path, reload);

  show(main, 
    el("p", {}, el("a", { href: "#/onboardings" }, "← Onboarding board")),
    el("h1", {}, `${view.app.name} `, el("small", {}, `by ${view.isv.name}`)),
    summary(view),
    commands ? stageCommands(view, command) : null,
    el("h2", {}, "Checklist"),
    checklist(view, commands, command),
    el("h2", {}, "Commercial terms"),
    terms(view, commands, command),
    el("h2", {}, "History"),
    timeline(
      [...view.history].reverse().map((entry) => ({
        at: entry.at,
        title: `${words(entry.action)}${entry.to_stage ? ` → ${words(entry.to_stage)}` : ""}${entry.item ? `: ${entry.item}` : ""}`,
        actor: entry.actor,
        detail: entry.comment,
      })),
    ),
    may("audit.read")
      ? el("p", {}, el("a", { href: `#/audit/history/${encodeURIComponent(`onboarding-${view.id}`)}` }, "Decoded workflow history"))
      : null,
  );
}

function summary(view) {
  const titles = new Map(view.checklist.flatMap((stage) => stage.items.map((item) => [item.id, item.title])));
  const unmet = (view.unmet_criteria || []).map((id) => titles.get(id) || id);
  return el(
    "dl",
    { class: "facts" },
    el("dt", {}, "Stage"), el("dd", {}, words(view.stage)),
    el("dt", {}, "Status"), el("dd", {}, badge(view.status)),
    el("dt", {}, "SLA"), el("dd", {}, badge(view.sla_status)),
    el("dt", {}, "Partner manager"), el("dd", {}, view.partner_manager),
    el("dt", {}, "Category"), el("dd", {}, words(view.app.category)),
    el("dt", {}, "Started"), el("dd", {}, date(view.started_at)),
    el("dt", {}, "In this stage since"), el("dd", {}, date(view.stage_started_at)),
    el("dt", {}, "Stage due"), el("dd", {}, date(view.deadlines.stage_due_at)),
    el("dt", {}, "Go-live target"), el("dd", {}, date(view.deadlines.target_due_at)),
    view.predicted_go_live
      ? [el("dt", {}, "Predicted go-live"), el("dd", {}, date(view.predicted_go_live), ` (${words(view.prediction_basis)})`, view.misses_target ? [" ", badge("misses_target")] : null)]
      : null,
    view.on_hold_since ? [el("dt", {}, "On hold since"), el("dd", {}, date(view.on_hold_since))] : null,
    el("dt", {}, "Unmet criteria"),
    el("dd", {}, unmet.length ? el("ul", {}, unmet.map((title) => el("li", {}, title))) : "none"),
  );
}

function stageCommands(view, command) {
  const place = el("div", { class: "answer" });
  const comment = el("input", { type: "text", name: "comment", maxlength: 500 });
  const nextStage = STAGES[STAGES.indexOf(view.stage) + 1];
  const manager = el("input", { type: "text", name: "partner_manager", value: view.partner_manager, pattern: "[a-z0-9][a-z0-9-]{1,62}" });
  const onHold = view.status === "on_hold";
  const act = (label, method, suffix, body, done) =>
    el("button", { type: "button", onclick: () => command(place, method, suffix, body(), done) }, label);
  return el(
    "section",
    { class: "card commands", "aria-label": "Stage commands" },
    field("Comment or reason", comment),
    el(
      "div",
      { class: "buttons" },
      !onHold && nextStage
        ? act(`Advance to ${words(nextStage)}`, "POST", "/advance", () => ({ comment: comment.value || null }), `Advanced to ${words(nextStage)}.`)
        : null,
      !onHold && view.stage === "go_live" ? act("Go live", "POST", "/advance", () => ({ comment: comment.value || null }), "The app is live.") : null,
      onHold
        ? act("Resume", "POST", "/resume", () => ({ comment: comment.value || null }), "Resumed.")
        : act("Put on hold", "POST", "/hold", () => ({ reason: comment.value || "on hold" }), "Put on hold."),
      act("Reject", "POST", "/reject", () => ({ reason: comment.value || "rejected" }), "Rejected."),
    ),
    el(
      "div",
      { class: "buttons" },
      field("Partner manager", manager),
      act("Reassign", "POST", "/reassign", () => ({ partner_manager: manager.value, comment: comment.value || null }), "Reassigned."),
    ),
    place,
  );
}

function checklist(view, commands, command) {
  return el(
    "div",
    { class: "stages" },
    view.checklist.map((stage) => {
      const place = el("div", { class: "answer" });
      const current = stage.stage === view.stage;
      return el(
        "fieldset",
        { class: current ? "stage current" : "stage" },
        el("legend", {}, `${stage.title} (${words(stage.stage)}, ${stage.budget_days} days)${current ? " — current" : ""}`),
        el(
          "ul",
          { class: "checklist" },
          stage.items.map((item) => {
            const box = el("input", {
              type: "checkbox",
              id: `item-${item.id}`,
              checked: item.done,
              disabled: !commands || item.source !== "checklist",
            });
            // The endpoint item carries the ISV's provisioning URL ("local": the embedded connector).
            const endpoint =
              item.id === ENDPOINT_ITEM && !item.done && commands
                ? el("input", { type: "text", name: "endpoint", value: "local", "aria-label": "Provisioning endpoint" })
                : null;
            box.addEventListener("change", () =>
              command(
                place,
                box.checked ? "POST" : "DELETE",
                `/checklist/${encodeURIComponent(item.id)}`,
                box.checked ? (endpoint ? { value: endpoint.value } : {}) : undefined,
                `${box.checked ? "Ticked" : "Unticked"}: ${item.title}.`,
              ),
            );
            return el(
              "li",
              {},
              box,
              el("label", { for: `item-${item.id}` }, item.title),
              endpoint ? [" ", endpoint] : null,
              item.source !== "checklist" ? el("small", { class: "meta" }, ` (from the ${words(item.source)})`) : null,
              item.done && item.done_by ? el("small", { class: "meta" }, ` ✓ ${item.done_by}, ${date(item.done_at)}`) : null,
            );
          }),
        ),
        place,
      );
    }),
  );
}

function terms(view, commands, command) {
  const current = view.commercial_terms;
  if (!commands) {
    return current
      ? el("p", {}, `${current.revenue_share_percent} % revenue share; `, current.plans.map((plan) => `${plan.term_months} months at ${plan.monthly_price_cents / 100} €/month`).join(", "))
      : el("p", {}, "Not agreed yet.");
  }
  const share = el("input", { type: "number", name: "revenue_share_percent", min: 0, max: 100, step: "0.1", value: current ? current.revenue_share_percent : 70 });
  const prices = TERMS.map((months) => {
    const plan = current && current.plans.find((p) => p.term_months === months);
    return [months, el("input", { type: "number", name: `price_${months}`, min: 0, step: "0.01", value: plan ? plan.monthly_price_cents / 100 : "" })];
  });
  const place = el("div", { class: "answer" });
  const form = el(
    "form",
    { class: "card terms", "aria-label": "Commercial terms" },
    field("Revenue share for the ISV (%)", share),
    prices.map(([months, input]) => field(`Monthly price, ${months}-month term (€, empty: not offered)`, input)),
    el("p", { class: "hint" }, "Trial 30 days, no listing fee (the marketplace's terms)."),
    el("button", { type: "submit" }, "Save terms"),
    place,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const plans = prices
      .filter(([, input]) => input.value !== "")
      .map(([months, input]) => ({ term_months: months, monthly_price_cents: Math.round(Number(input.value) * 100) }));
    const body = { revenue_share_percent: Number(share.value), plans, trial_days: 30, listing_fee_cents: 0 };
    command(place, "PUT", "/commercial-terms", body, "Commercial terms saved.");
  });
  return form;
}

