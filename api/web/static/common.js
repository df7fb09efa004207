// @ts-check
// Shared by the pages: who is signed in (per tab), calling the REST API, small DOM helpers.

const AUTH_KEY = "liveclass.auth";

/** The signed-in user of this tab: {token, user: {sub, name, role, tenant}} or null.
 *  Kept in sessionStorage, so two tabs can be two people (a teacher and a student). */
export function getAuth() {
  try {
    const auth = JSON.parse(sessionStorage.getItem(AUTH_KEY) || "null");
    return auth && auth.token ? auth : null;
  } catch {
    return null;
  }
}

export function setAuth(auth) {
  sessionStorage.setItem(AUTH_KEY, JSON.stringify(auth));
}

export function signOut() {
  sessionStorage.removeItem(AUTH_KEY);
  location.assign("/signin.html");
}

/** `next` (from a URL: untrusted) as a path of this site, or "/" when it would lead
 *  anywhere else ("//host", "/\\host", "/<tab>/host" and the like: browsers read them as
 *  other hosts). What comes back is resolved here, so it cannot change meaning later. */
export function sameOriginPath(next, origin = location.origin) {
  if (typeof next !== "string" || !next.startsWith("/")) return "/";
  let url;
  try {
    url = new URL(next, origin);
  } catch {
    return "/";
  }
  if (url.origin !== origin) return "/";
  return url.pathname + url.search + url.hash;
}

/** `url` (from the server's data: a recording's link) if it is an http(s) URL, else null:
 *  never a `javascript:` or `data:` link in the page. */
export function httpUrl(url, base = location.href) {
  if (typeof url !== "string") return null;
  try {
    const parsed = new URL(url, base);
    return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.href : null;
  } catch {
    return null;
  }
}

/** The signed-in user, or off to the sign-in page (coming back here afterwards). */
export function requireAuth() {
  const auth = getAuth();
  if (!auth) {
    const next = location.pathname + location.search;
    location.assign(`/signin.html?next=${encodeURIComponent(next)}`);
    throw new Error("not signed in");
  }
  return auth;
}

/** The claims of a JWT (not verified: for display only). */
export function jwtClaims(token) {
  const part = token.split(".")[1] || "";
  try {
    const json = atob(part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "="));
    const claims = JSON.parse(new TextDecoder().decode(Uint8Array.from(json, (c) => c.charCodeAt(0))));
    if (claims && typeof claims === "object" && !Array.isArray(claims)) return claims;
  } catch (err) {
    // Not base64, or not JSON: said in words below rather than as a parser's message.
  }
  throw new Error("this is not a sign-in token (one looks like eyJhbGciOi….eyJzdWIiOi….signature)");
}

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

/** Calls the REST API as the signed-in user; resolves with the JSON body, rejects with an
 *  ApiError (the server's error shape). 401 sends the user to sign in again.
 * @param {string} path under /api/v1
 * @param {{method?: string, body?: *}} [options]
 * @returns {Promise<any>}
 */
export async function api(path, { method = "GET", body } = {}) {
  const auth = getAuth();
  /** @type {Record<string, string>} */
  const headers = {};
  if (auth) headers.Authorization = `Bearer ${auth.token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(`/api/v1${path}`, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    throw new ApiError(0, "network", "the server cannot be reached");
  }
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) {
    const error = (data && data.error) || {};
    if (response.status === 401 && auth) {
      sessionStorage.removeItem(AUTH_KEY);
      const next = location.pathname + location.search;
      location.assign(`/signin.html?next=${encodeURIComponent(next)}&expired=1`);
    }
    throw new ApiError(response.status, error.code || "error", error.message || response.statusText, error.details);
  }
  return data;
}

let configPromise = null;
/** /web-config.json: {environment, devSignin, apiBase, features: {recording}}. */
export function webConfig() {
  configPromise ||= fetch("/web-config.json").then((r) => r.json());
  return configPromise;
}

/**
 * An element: el("li", {class: "x", onclick: f}, "text", child...).
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Object<string, any>} [attrs]
 * @param {...any} children nodes, text, or nothing (null, undefined, false); arrays flattened
 * @returns {HTMLElementTagNameMap[K]}
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

export function formatTime(iso) {
  const d = new Date(iso);
  return d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

/** Shows the signed-in user in the header's #who element, with a sign-out button. */
export function showWho(auth) {
  const who = document.getElementById("who");
  if (!who) return;
  who.replaceChildren(
    el("span", { class: "who-name" }, `${auth.user.name} `),
    el("span", { class: "badge" }, auth.user.role),
    " ",
    el("button", { type: "button", class: "link", onclick: signOut }, "Sign out"),
  );
}
