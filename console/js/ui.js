// Small helpers every page uses: building elements, formatting, badges, tables, timelines, refusals.

export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "class") node.className = value;
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export const words = (value) => (value ? String(value).replaceAll("_", " ") : "—");

export function date(value) {
  if (!value) return "—";
  return new Date(value).toLocaleString("en-GB", { dateStyle: "medium", timeStyle: "short", timeZone: "UTC" }) + " UTC";
}

export const day = (value) =>
  value ? new Date(value).toLocaleDateString("en-GB", { dateStyle: "medium", timeZone: "UTC" }) : "—";

export const euros = (cents) =>
  cents === null || cents === undefined ? "—" : (cents / 100).toLocaleString("en-GB", { style: "currency", currency: "EUR" });

export const daysSince = (value) => Math.max(0, Math.floor((Date.now() - new Date(value).getTime()) / 86_400_000));

// Colour is never the only signal: a badge always says what it means in words, with a symbol.
const BADGES = {
  on_track: ["ok", "✓"],
  at_risk: ["warn", "!"],
  overdue: ["bad", "✕"],
  live: ["ok", "✓"],
  in_progress: ["info", "…"],
  on_hold: ["warn", "‖"],
  rejected: ["bad", "✕"],
  trialing: ["info", "…"],
  active: ["ok", "✓"],
  suspended: ["warn", "‖"],
  terminated: ["muted", "■"],
  paid: ["ok", "✓"],
  open: ["info", "…"],
  failed: ["bad", "✕"],
  green: ["ok", "✓"],
  red: ["bad", "✕"],
};

export function badge(value, label) {
  const [tone, symbol] = BADGES[value] || ["muted", "•"];
  return el("span", { class: `badge ${tone}` }, el("span", { "aria-hidden": "true" }, symbol + " "), label || words(value));
}

export function table(columns, rows, caption) {
  return el(
    "table",
    {},
    caption ? el("caption", {}, caption) : null,
    el("thead", {}, el("tr", {}, columns.map(([title]) => el("th", { scope: "col" }, title)))),
    el(
      "tbody",
      {},
      rows.length
        ? rows.map((row) => el("tr", {}, columns.map(([, cell]) => el("td", {}, cell(row)))))
        : el("tr", {}, el("td", { colspan: columns.length, class: "empty" }, "Nothing here yet.")),
    ),
  );
}

export function timeline(entries) {
  return el(
    "ol",
    { class: "timeline" },
    entries.map((entry) =>
      el(
        "li",
        {},
        el("time", { datetime: entry.at }, date(entry.at)),
        el("strong", {}, entry.title),
        entry.actor ? el("span", { class: "actor" }, ` by ${entry.actor}`) : null,
        entry.detail ? el("div", { class: "detail" }, entry.detail) : null,
      ),
    ),
  );
}

// A refusal where it happened: the API's message, its code, and what it lists (e.g. unmet criteria).
export function refusal(error) {
  const details = error.details;
  const list = Array.isArray(details)
    ? details
    : details && typeof details === "object"
      ? Object.entries(details).flatMap(([name, value]) =>
          Array.isArray(value) ? value.map((item) => describe(item, name)) : [`${words(name)}: ${describe(value)}`],
        )
      : [];
  return el(
    "div",
    { class: "refusal", role: "alert" },
    el("strong", {}, `Refused (${error.status} ${words(error.code)}): `),
    error.message,
    list.length ? el("ul", {}, list.map((item) => el("li", {}, describe(item)))) : null,
  );
}

function describe(item, name) {
  if (item === null || item === undefined) return "—";
  if (typeof item !== "object") return String(item);
  const text = item.title || item.message || item.msg || item.id || JSON.stringify(item);
  return name && !item.title ? `${words(name)}: ${text}` : text;
}

export function flash(message, tone = "ok") {
  const region = document.getElementById("flash");
  region.replaceChildren(el("div", { class: `note ${tone}` }, message));
  setTimeout(() => region.firstChild && region.firstChild.remove(), 6000);
}

export function field(label, control) {
  const id = control.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  control.id = id;
  return el("label", { for: id, class: "field" }, el("span", {}, label), control);
}

export function select(name, options, value) {
  return el(
    "select",
    { name },
    options.map(([optionValue, label]) => el("option", { value: optionValue, selected: optionValue === value }, label)),
  );
}

export function progress(value, max, label) {
  const filled = el("span");
  filled.style.width = `${max > 0 ? Math.min(100, Math.round((100 * value) / max)) : 100}%`; // CSSOM: allowed by the CSP
  const bar = el("div", { role: "progressbar", "aria-valuemin": 0, "aria-valuemax": max, "aria-valuenow": value, "aria-label": label }, filled);
  return el("div", { class: "progress" }, bar, el("small", {}, `${label}: ${value} of ${max}`));
}

// Replaces what `container` shows; like replaceChildren, but takes nested lists and skips empty parts as el() does.
export function show(container, ...children) {
  container.replaceChildren(...children.flat(Infinity).filter((child) => child !== null && child !== undefined && child !== false));
}

// A filter form: labelled controls and a Filter button that moves to the hash `target()` names.
export function filterForm(label, controls, target) {
  const form = el("form", { class: "filters", "aria-label": label }, controls, el("button", { type: "submit" }, "Filter"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    location.hash = target();
  });
  return form;
}

// `#/page` with the non-empty values of `query` as its query part.
export function hashOf(page, query) {
  const params = new URLSearchParams(Object.entries(query).filter(([, value]) => value));
  return params.size ? `${page}?${params}` : page;
}
