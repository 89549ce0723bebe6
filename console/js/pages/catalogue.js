// The app catalogue: every live app, by category.
import { all } from "../api.js";
import { date, el, euros, field, filterForm, hashOf, select, show, table, words } from "../ui.js";

const CATEGORIES = [
  "sales_marketing", "crm_customer_management", "finance_accounting", "hr", "erp_logistics",
  "communication_collaboration", "analytics_bi", "office_administration", "antivirus_security", "online_storage_backup",
];

export async function render(main) {
  const params = new URLSearchParams(location.hash.split("?")[1] || "");
  const apps = await all("/apps", { category: params.get("category") || "" }, 500);
  const category = select("category", [["", "all categories"], ...CATEGORIES.map((c) => [c, words(c)])], params.get("category") || "");
  const form = filterForm("Filter the catalogue", [field("Category", category)], () =>
    hashOf("#/catalogue", { category: category.value }),
  );
  show(main, 
    el("h1", {}, "App catalogue"),
    form,
    table(
      [
        ["App", (a) => el("span", {}, el("strong", {}, a.name), ` (${a.id})`)],
        ["ISV", (a) => a.isv_id],
        ["Category", (a) => words(a.category)],
        ["Plans", (a) => a.plans.map((p) => `${p.term_months} mo at ${euros(p.monthly_price_cents)}`).join(", ")],
        ["Trial", (a) => `${a.trial_days} days`],
        ["Live since", (a) => date(a.published_at)],
      ],
      apps,
      `${apps.length} live apps`,
    ),
  );
}
