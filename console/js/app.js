// The console's shell: sign-in with an API key, the navigation the key's permissions allow, and a hash router.
import { ApiError, may, me, session, setCaller, who } from "./api.js";
import { el, refusal } from "./ui.js";
import * as audit from "./pages/audit.js";
import * as board from "./pages/board.js";
import * as catalogue from "./pages/catalogue.js";
import * as onboarding from "./pages/onboarding.js";
import * as overview from "./pages/overview.js";
import * as partners from "./pages/partners.js";
import * as subscription from "./pages/subscription.js";
import * as subscriptions from "./pages/subscriptions.js";

const ROUTES = [
  [/^#\/overview$/, overview.render],
  [/^#\/onboardings$/, board.render],
  [/^#\/onboardings\/(.+)$/, onboarding.render],
  [/^#\/subscriptions$/, subscriptions.render],
  [/^#\/subscriptions\/(.+)$/, subscription.render],
  [/^#\/catalogue$/, catalogue.render],
  [/^#\/partners$/, partners.render],
  [/^#\/partners\/(.+)$/, partners.renderOne],
  [/^#\/audit$/, audit.render],
  [/^#\/audit\/history\/(.+)$/, audit.renderHistory],
];

const main = document.getElementById("main");
let navigations = 0;

function signInPage(problem) {
  const key = el("input", { type: "password", name: "key", autocomplete: "off", required: true, id: "api-key" });
  const form = el(
    "form",
    { class: "card sign-in", "aria-labelledby": "sign-in-title" },
    el("h1", { id: "sign-in-title" }, "Sign in"),
    el("p", {}, "Paste your Partnerflow API key. It is kept for this browser tab only and sent with every request."),
    el("label", { for: "api-key", class: "field" }, el("span", {}, "API key"), key),
    problem || null,
    el("button", { type: "submit" }, "Sign in"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    session.signIn(key.value.trim());
    if (await identify()) {
      location.hash = location.hash && location.hash !== "#/" ? location.hash : defaultPage();
      route();
    }
  });
  main.replaceChildren(form);
  key.focus();
}

async function identify() {
  let caller;
  try {
    caller = setCaller(await me());
  } catch (error) {
    session.signOut();
    setCaller(null);
    signInPage(error instanceof ApiError ? refusal(error) : el("p", { class: "refusal" }, String(error)));
    return false;
  }
  document.getElementById("who").textContent = `${caller.subject} (${caller.roles.join(", ")})`;
  document.getElementById("sign-out").hidden = false;
  const nav = document.getElementById("nav");
  for (const link of nav.querySelectorAll("a")) link.hidden = !link.dataset.needs.split(" ").some(may);
  nav.hidden = false;
  return true;
}

function defaultPage() {
  const first = [...document.querySelectorAll("#nav a")].find((link) => !link.hidden);
  return first ? first.getAttribute("href") : "#/overview";
}

async function route() {
  if (!who()) return;
  if (!location.hash || location.hash === "#/") location.hash = defaultPage();
  const path = location.hash.split("?")[0]; // pages read their filters from the query part themselves
  const match = ROUTES.map(([pattern, render]) => [path.match(pattern), render]).find(([found]) => found);
  for (const link of document.querySelectorAll("#nav a")) {
    link.toggleAttribute("aria-current", path.startsWith(link.getAttribute("href")));
  }
  // Each page renders into a container of its own, shown once it is complete and only if no later navigation
  // happened meanwhile (a slow page must not replace a newer one).
  const mine = ++navigations;
  const page = el("div", { class: "page" });
  main.replaceChildren(el("p", { class: "loading" }, "Loading…"));
  try {
    if (!match) throw new Error(`no page at ${location.hash}`);
    const [found, render] = match;
    await render(page, ...found.slice(1).map(decodeURIComponent));
  } catch (error) {
    page.replaceChildren(error instanceof ApiError ? refusal(error) : el("p", { class: "refusal", role: "alert" }, String(error)));
  }
  if (mine !== navigations) return;
  main.replaceChildren(page);
  main.dataset.shown = location.hash; // which page is on screen (tests wait for it)
  main.focus({ preventScroll: true });
}

document.getElementById("sign-out").addEventListener("click", () => {
  session.signOut();
  location.hash = "";
  location.reload();
});
window.addEventListener("hashchange", route);

(async () => {
  if (session.key() && (await identify())) route();
  else if (!session.key()) signInPage();
})();
