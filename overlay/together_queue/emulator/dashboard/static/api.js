// Calls to the emulator. The API key, when the emulator has keys, is kept in this tab's
// sessionStorage and sent only as an Authorization: Bearer header: never in a URL, never
// in a cookie. Every state-changing call is a POST with a JSON body.

const KEY_NAME = "together-queue-emulator-key";

export class AuthError extends Error {
  constructor(message) {
    super(message || "this emulator needs an API key");
    this.name = "AuthError";
  }
}

export class ApiError extends Error {
  constructor(status, body) {
    super(body && body.message ? `${status}: ${body.message}` : `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

export function storedKey() {
  return sessionStorage.getItem(KEY_NAME) || "";
}

export function storeKey(key) {
  sessionStorage.setItem(KEY_NAME, key);
}

export function forgetKey() {
  sessionStorage.removeItem(KEY_NAME);
}

function headers(extra = {}) {
  const key = storedKey();
  return key ? { ...extra, Authorization: `Bearer ${key}` } : extra;
}

async function answer(response) {
  let body = null;
  const type = response.headers.get("content-type") || "";
  if (type.includes("json")) body = await response.json();
  if (response.status === 401) throw new AuthError(body && body.message);
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

export async function session() {
  const response = await fetch("/_dashboard/session", { cache: "no-store" });
  return answer(response);
}

export async function get(path, params = {}) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") query.set(name, String(value));
  }
  const url = query.size ? `${path}?${query}` : path;
  return answer(await fetch(url, { headers: headers(), cache: "no-store" }));
}

export async function post(path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: headers({ "Content-Type": "application/json" }),
    body: JSON.stringify(body),
    cache: "no-store",
  });
  return answer(response);
}
