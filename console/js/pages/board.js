// The onboarding board: one column per stage, a card per onboarding, filters by partner manager and SLA.
import { all, get } from "../api.js";
import { badge, date, daysSince, el, field, filterForm, hashOf, select, show, words } from "../ui.js";

export const STAGES = ["identification", "feasibility", "commercial", "integration", "go_live"];
const SLA = [["", "any SLA"], ["on_track", "on track"], ["at_risk", "at risk"], ["overdue", "overdue"]];

// The list names ids only; a card also shows names and days in stage, so each open onboarding's view is read too
// (a few at a time).
export async function views(items, concurrency = 6) {
  const queue = [...items];
  const read = [];
  async function next() {
    while (queue.length) {
      const item = queue.shift();
      read.push(await get(`/onboardings/${encodeURIComponent(item.id)}`));
    }
  }
  await Promise.all(Array.from({ length: concurrency }, next));
  return read;
}

export async function render(main) {
  const params = new URLSearchParams(location.hash.split("?")[1] || "");
  const filters = { partner_manager: params.get("partner_manager") || "", sla_status: params.get("sla_status") || "" };
  const closed = params.get("closed") === "1";
  const items = await all("/onboardings", filters, 300);
  const shown = items.filter((item) => closed || item.status === "in_progress" || item.status === "on_hold");
  const onboardings = await views(shown);
  const managers = [...new Set(items.map((item) => item.partner_manager).filter(Boolean))].sort();

  const manager = select("partner_manager", [["", "all partner managers"], ...managers.map((m) => [m, m])], filters.partner_manager);
  const sla = select("sla_status", SLA, filters.sla_status);
  const showClosed = el("input", { type: "checkbox", name: "closed", checked: closed });
  const form = filterForm(
    "Filter onboardings",
    [field("Partner manager", manager), field("SLA", sla), el("label", { class: "check" }, showClosed, " show live and rejected")],
    () => hashOf("#/onboardings", { partner_manager: manager.value, sla_status: sla.value, closed: showClosed.checked ? "1" : "" }),
  );

  const columns = STAGES.map((stage) => {
    const cards = onboardings.filter((view) => view.stage === stage).map(card);
    return el(
      "section",
      { class: "column", "aria-labelledby": `col-${stage}` },
      el("h2", { id: `col-${stage}` }, `${words(stage)} `, el("span", { class: "count" }, `(${cards.length})`)),
      cards.length ? el("ul", { class: "cards" }, cards) : el("p", { class: "empty" }, "No onboarding in this stage."),
    );
  });
  show(main, 
    el("h1", {}, "Onboarding board"),
    form,
    el("p", { class: "hint" }, `${onboardings.length} onboardings shown of ${items.length}.`),
    el("div", { class: "board" }, columns),
  );
}

function card(view) {
  const budget = (view.checklist.find((stage) => stage.stage === view.stage) || {}).budget_days;
  const days = daysSince(view.stage_started_at);
  return el(
    "li",
    { class: `card onboarding ${view.sla_status}` },
    el("a", { href: `#/onboardings/${encodeURIComponent(view.id)}` }, el("strong", {}, view.app.name)),
    el("div", {}, view.isv.name),
    el("div", { class: "meta" }, `Partner manager: ${view.partner_manager}`),
    el("div", { class: "meta" }, `Day ${days} of ${budget ?? "—"} in stage`),
    view.predicted_go_live ? el("div", { class: "meta" }, "Predicted go-live: ", date(view.predicted_go_live)) : null,
    el("div", { class: "badges" }, badge(view.sla_status), view.status !== "in_progress" ? badge(view.status) : null),
  );
}
