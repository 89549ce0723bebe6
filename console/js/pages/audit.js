// Audit: the audit log with filters and CSV download, its verification, and a workflow's decoded history.
import { download, get } from "../api.js";
import { badge, date, el, field, filterForm, hashOf, show, table, words } from "../ui.js";

const FILTERS = ["target", "subject", "action", "outcome", "since", "until", "onboarding_id", "app_id", "isv_id", "subscription_id", "customer_id", "partner_id"];

export async function render(main) {
  const params = new URLSearchParams(location.hash.split("?")[1] || "");
  const query = Object.fromEntries(FILTERS.map((name) => [name, params.get(name) || ""]));
  const [page, verification] = await Promise.all([get("/audit/log", { ...query, page_size: 100, page_token: params.get("page_token") || "" }), get("/audit/verify")]);
  const inputs = Object.fromEntries(FILTERS.map((name) => [name, el("input", { type: "text", name, value: query[name], placeholder: placeholder(name) })]));
  const form = filterForm("Filter the audit log", FILTERS.map((name) => field(words(name), inputs[name])), () =>
    hashOf("#/audit", Object.fromEntries(FILTERS.map((name) => [name, inputs[name].value.trim()]))),
  );
  const history = el("input", { type: "text", name: "workflow_id", placeholder: "e.g. onboarding-acme-acme-crm", required: true });
  const open = el("form", { class: "filters", "aria-label": "Open a workflow history" }, field("Workflow id", history), el("button", { type: "submit" }, "Open history"));
  open.addEventListener("submit", (event) => {
    event.preventDefault();
    location.hash = `#/audit/history/${encodeURIComponent(history.value.trim())}`;
  });
  const more = page.next_page_token ? new URLSearchParams({ ...Object.fromEntries(params), page_token: page.next_page_token }) : null;
  show(main, 
    el("h1", {}, "Audit"),
    verify(verification),
    el("h2", {}, "A workflow's history"),
    open,
    el("h2", {}, "Audit log"),
    form,
    el("p", {}, el("button", { type: "button", onclick: () => download("/audit/log", { ...clean(query), format: "csv" }, "audit-log.csv") }, "Download CSV (every matching entry)")),
    table(
      [
        ["#", (e) => String(e.seq)],
        ["When", (e) => date(e.occurred_at)],
        ["Who", (e) => `${e.subject} (${e.role})`],
        ["Action", (e) => e.action],
        ["Target", (e) => (e.target.includes("-") ? el("a", { href: `#/audit/history/${encodeURIComponent(e.target)}` }, e.target) : e.target)],
        ["Outcome", (e) => badge(e.outcome === "accepted" || e.outcome === "done" ? "paid" : e.outcome === "refused" ? "failed" : "open", words(e.outcome))],
        ["Detail", (e) => e.detail || (e.status_code ? `HTTP ${e.status_code}` : "")],
        ["Changes", (e) => changes(e.changes)],
      ],
      page.items,
      `${page.items.length} entries${more ? " (more on the next page)" : ""}`,
    ),
    more ? el("p", {}, el("a", { href: `#/audit?${more}` }, "Next page →")) : null,
  );
}

const placeholder = (name) =>
  ({ since: "2026-01-01T00:00:00Z", until: "2026-12-31T00:00:00Z", target: "workflow id", onboarding_id: "isv-app", subscription_id: "customer-app" })[name] || "";

// What an accepted command changed, e.g. "from stage: integration, to stage: certification".
const changes = (values) =>
  Object.entries(values || {})
    .map(([name, value]) => `${words(name)}: ${value}`)
    .join(", ");
const clean = (query) => Object.fromEntries(Object.entries(query).filter(([, value]) => value));

function verify(result) {
  return el(
    "section",
    { class: `card verify ${result.ok ? "ok" : "bad"}`, "aria-label": "Audit log verification" },
    el("h2", {}, "Verification"),
    el(
      "p",
      {},
      result.ok ? badge("green", "chain intact") : badge("red", "chain broken"),
      ` ${result.checked} entries checked; ${result.queued} queued; ${result.unresolved_commands} unresolved commands.`,
    ),
    result.first_broken ? el("p", { role: "alert" }, `First broken entry: #${result.first_broken.seq} (${result.first_broken.reason}).`) : null,
    el("p", { class: "meta" }, `Last hash: ${result.last_hash}`),
  );
}

export async function renderHistory(main, workflowId) {
  const path = `/audit/workflows/${encodeURIComponent(workflowId)}/history`;
  const history = await get(path);
  show(main, 
    el("p", {}, el("a", { href: "#/audit" }, "← Audit")),
    el("h1", {}, "History ", el("small", {}, `${history.workflow_id} (${history.workflow_type})`)),
    el("p", {}, el("button", { type: "button", onclick: () => download(path, { format: "csv" }, `${workflowId}-history.csv`) }, "Download CSV")),
    table(
      [
        ["Run", (r) => r.run_id],
        ["Started", (r) => date(r.started_at)],
        ["Closed", (r) => date(r.closed_at)],
        ["Status", (r) => words(r.status)],
        ["Events", (r) => String(r.event_count)],
      ],
      history.runs,
      "Runs",
    ),
    history.omitted_events ? el("p", { class: "hint" }, `${history.omitted_events} routine events (workflow task bookkeeping) are not shown.`) : null,
    el(
      "ol",
      { class: "timeline" },
      history.events.map((entry) =>
        el(
          "li",
          { class: entry.source },
          el("time", { datetime: entry.time }, date(entry.time)),
          el("strong", {}, entry.summary),
          el("span", { class: "actor" }, ` ${entry.actor}${entry.outcome ? ` — ${entry.outcome}` : ""}`),
          el("div", { class: "meta" }, `${entry.source === "audit_log" ? "audit log" : "Temporal"}: ${entry.type}`),
          Object.keys(entry.details || {}).length
            ? el("details", {}, el("summary", {}, "Decoded details"), el("pre", {}, JSON.stringify(entry.details, null, 2)))
            : null,
        ),
      ),
    ),
  );
}
