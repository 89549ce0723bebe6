// Every action of the console is a call to /api/v1 with the signed-in key: the console adds no privilege.

const KEY = "partnerflow.key";
const BASE = "/api/v1";

export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `HTTP ${status}`);
    this.status = status;
    this.code = error.code || "http_" + status;
    this.details = error.details;
  }
}

export const session = {
  key: () => sessionStorage.getItem(KEY),
  signIn: (key) => sessionStorage.setItem(KEY, key),
  signOut: () => sessionStorage.removeItem(KEY),
};

function headers(extra) {
  const key = session.key();
  return { Accept: "application/json", ...(key ? { Authorization: `Bearer ${key}` } : {}), ...extra };
}

async function parse(response) {
  const text = await response.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return { text };
  }
}

export async function get(path, query = {}) {
  const url = new URL(BASE + path, location.origin);
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
  }
  const response = await fetch(url, { headers: headers() });
  const body = await parse(response);
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

// A command: a fresh Idempotency-Key per click, so a retry of the same click is applied once.
export async function send(method, path, body) {
  const response = await fetch(BASE + path, {
    method,
    headers: headers({ "Content-Type": "application/json", "Idempotency-Key": crypto.randomUUID() }),
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const answer = await parse(response);
  if (!response.ok) throw new ApiError(response.status, answer);
  return answer;
}

// Every page of a list, up to `limit` items (every list pages with page_token = the previous next_page_token).
export async function all(path, query = {}, limit = 500) {
  const items = [];
  let token = null;
  do {
    const page = await get(path, { ...query, page_size: 100, page_token: token });
    items.push(...page.items);
    token = page.next_page_token;
  } while (token && items.length < limit);
  return items.slice(0, limit);
}

// A file the API serves (CSV, export ZIP), downloaded with the key in the header rather than in the URL.
export async function download(path, query, fileName) {
  const url = new URL(BASE + path, location.origin);
  for (const [name, value] of Object.entries(query || {})) url.searchParams.set(name, value);
  const response = await fetch(url, { headers: headers({ Accept: "*/*" }) });
  if (!response.ok) throw new ApiError(response.status, await parse(response));
  const link = document.createElement("a");
  link.href = URL.createObjectURL(await response.blob());
  link.download = fileName;
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
}

export const me = () => get("/me");

// Who is signed in (GET /me): the console shows only what these permissions allow.
let caller = null;
export const setCaller = (value) => (caller = value);
export const who = () => caller;
export const may = (action) => Boolean(caller && caller.permissions.includes(action));
