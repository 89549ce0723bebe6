// Channel partners by tier, with points towards keeping the tier and reaching the next; a partner's quality
// reports as traffic lights and its open termination review with the decision.
import { all, get, may } from "../api.js";
import { commandsOn } from "../commands.js";
import { badge, date, day, el, field, filterForm, hashOf, progress, select, show, table, timeline, words } from "../ui.js";

export const TIERS = ["basic", "advanced", "expert", "expert_plus"];

export async function render(main) {
  const params = new URLSearchParams(location.hash.split("?")[1] || "");
  const items = await all("/partners", { tier: params.get("tier") || "" }, 300);
  const partners = await Promise.all(items.map((item) => get(`/partners/${encodeURIComponent(item.id)}`)));
  const tier = select("tier", [["", "all tiers"], ...TIERS.map((t) => [t, words(t)])], params.get("tier") || "");
  const form = filterForm("Filter partners", [field("Tier", tier)], () => hashOf("#/partners", { tier: tier.value }));
  show(main, 
    el("h1", {}, "Channel partners"),
    form,
    TIERS.filter((t) => partners.some((p) => p.tier === t)).map((t) =>
      el(
        "section",
        { "aria-labelledby": `tier-${t}` },
        el("h2", { id: `tier-${t}` }, words(t)),
        el("ul", { class: "cards partners" }, partners.filter((p) => p.tier === t).map(card)),
      ),
    ),
    partners.length ? null : el("p", { class: "empty" }, "No partner enrolled."),
  );
}

function card(partner) {
  return el(
    "li",
    { class: "card" },
    el("a", { href: `#/partners/${encodeURIComponent(partner.id)}` }, el("strong", {}, partner.name)),
    el("div", { class: "meta" }, `Account manager: ${partner.account_manager}`),
    el("div", { class: "badges" }, badge(partner.status), partner.open_review ? badge("at_risk", "termination review open") : null),
    standing(partner),
  );
}

// Points against the thresholds of keeping the tier and of reaching the next, as the year end will apply them.
function standing(partner) {
  const tier = words(partner.tier);
  const keep =
    partner.points_to_keep_tier > 0
      ? progress(partner.points, partner.points + partner.points_to_keep_tier, `Points to keep ${tier}`)
      : progress(partner.points, partner.points, `${tier} kept; points`);
  if (!partner.next_tier) return [keep, el("small", {}, "Highest tier")];
  const next = words(partner.next_tier);
  return [
    keep,
    partner.points_to_next_tier > 0
      ? progress(partner.points, partner.points + partner.points_to_next_tier, `Points to reach ${next}`)
      : progress(partner.points, partner.points, `${next} reached (from the year end); points`),
  ];
}

export async function renderOne(main, id) {
  const path = `/partners/${encodeURIComponent(id)}`;
  const [partner, reports] = await Promise.all([get(path), get(`${path}/quality-reports`)]);
  show(main, 
    el("p", {}, el("a", { href: "#/partners" }, "← Partners")),
    el("h1", {}, partner.name, " ", el("small", {}, words(partner.tier))),
    el(
      "dl",
      { class: "facts" },
      el("dt", {}, "Status"), el("dd", {}, badge(partner.status)),
      el("dt", {}, "Programme year"), el("dd", {}, `${partner.year}, ends ${day(partner.year_ends_at)}`),
      el("dt", {}, "Points this year"), el("dd", {}, String(partner.points)),
      el("dt", {}, "Last year"), el("dd", {}, String(partner.last_year_points)),
      el("dt", {}, "Projected tier"), el("dd", {}, words(partner.projected_tier)),
      el("dt", {}, "Next quality report"), el("dd", {}, date(partner.next_report_at)),
    ),
    el("section", { class: "card", "aria-label": "Standing" }, standing(partner)),
    partner.open_review ? review(partner, () => renderOne(main, id)) : null,
    el("h2", {}, "Quality reports"),
    table(
      [
        ["Period", (r) => `${day(r.period_start)} – ${day(r.period_end)}`],
        ["Result", (r) => (r.below_thresholds ? badge("red", "below thresholds") : badge("green", "meets thresholds"))],
        ["Paid on time", (r) => light(r.metrics.paid_on_time_share, r.failing.includes("paid_on_time_share"))],
        ["Usage", (r) => light(r.metrics.usage_share, r.failing.includes("usage_share"))],
        ["Churn", (r) => light(r.metrics.churn_share, r.failing.includes("churn_share"))],
        ["Bad reports in a row", (r) => String(r.bad_streak)],
      ],
      reports.items,
    ),
    el("h2", {}, "Tier decisions"),
    table(
      [
        ["Year", (d) => String(d.year)],
        ["Points", (d) => String(d.points)],
        ["From → to", (d) => `${words(d.from_tier)} → ${words(d.to_tier)}`],
        ["Change", (d) => words(d.change)],
        ["Decided", (d) => date(d.decided_at)],
      ],
      partner.decisions,
    ),
    el("h2", {}, "History"),
    timeline([...partner.history].reverse().map((h) => ({ at: h.at, title: words(h.action), actor: h.actor, detail: h.detail }))),
  );
}

const light = (share, failing) =>
  share === null || share === undefined ? "—" : badge(failing ? "red" : "green", `${Math.round(share * 100)} %${failing ? " (below)" : ""}`);

function review(partner, reload) {
  const place = el("div", { class: "answer" });
  const note = el("input", { type: "text", name: "note", maxlength: 500, required: true });
  const command = commandsOn(`/partners/${encodeURIComponent(partner.id)}`, reload);
  const decide = (decision) => () =>
    command(place, "POST", "/review-decision", { decision, note: note.value || decision }, `Review decided: ${decision}.`);
  return el(
    "section",
    { class: "card commands", "aria-label": "Termination review" },
    el("h2", {}, "Open termination review"),
    el("p", {}, `${partner.open_review.reason}; opened ${date(partner.open_review.opened_at)}, escalates ${date(partner.open_review.escalate_at)}.`),
    may("partner.command")
      ? [field("Note", note), el("div", { class: "buttons" }, el("button", { type: "button", onclick: decide("retain") }, "Retain"), el("button", { type: "button", onclick: decide("terminate") }, "Terminate")), place]
      : null,
  );
}
