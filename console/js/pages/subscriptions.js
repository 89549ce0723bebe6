// Subscriptions: a list filtered by status (and app or ISV), each opening its lifecycle.
import { all } from "../api.js";
import { badge, date, el, field, filterForm, hashOf, select, show, table } from "../ui.js";

const STATUSES = [["", "any status"], ["trialing", "trialing"], ["active", "active"], ["suspended", "suspended"], ["terminated", "terminated"]];

export async function render(main) {
  const params = new URLSearchParams(location.hash.split("?")[1] || "");
  const filters = { status: params.get("status") || "", app_id: params.get("app_id") || "" };
  const items = await all("/subscriptions", filters, 500);
  const status = select("status", STATUSES, filters.status);
  const app = el("input", { type: "text", name: "app_id", value: filters.app_id, placeholder: "e.g. acme-crm" });
  const form = filterForm("Filter subscriptions", [field("Status", status), field("App", app)], () =>
    hashOf("#/subscriptions", { status: status.value, app_id: app.value.trim() }),
  );
  show(main, 
    el("h1", {}, "Subscriptions"),
    form,
    table(
      [
        ["Subscription", (s) => el("a", { href: `#/subscriptions/${encodeURIComponent(s.id)}` }, s.id)],
        ["Status", (s) => badge(s.status)],
        ["Customer", (s) => s.customer_id],
        ["App", (s) => s.app_id],
        ["ISV", (s) => s.isv_id],
        ["Channel partner", (s) => s.channel_partner_id || "—"],
        ["Booked", (s) => date(s.started_at)],
      ],
      items,
      `${items.length} subscriptions`,
    ),
  );
}
