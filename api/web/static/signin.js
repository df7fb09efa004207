// @ts-check
import { ApiError, jwtClaims, sameOriginPath, setAuth, webConfig } from "/static/common.js";

const params = new URLSearchParams(location.search);
// Only paths of this site: never send a fresh sign-in to another origin.
const target = sameOriginPath(params.get("next"));
document.getElementById("expired").hidden = !params.has("expired");

/** Show ``text`` in the element ``id`` (hidden when empty). @param {string} id @param {string} text */
function show(id, text) {
  const node = document.getElementById(id);
  node.textContent = text;
  node.hidden = !text;
}

const config = await webConfig();
if (config.devSignin) {
  document.getElementById("dev").hidden = false;
  document.getElementById("dev-preset").addEventListener("change", (e) => {
    const [sub, name, role] = /** @type {HTMLSelectElement} */ (e.target).value.split("|");
    if (!sub) return;
    /** @type {HTMLInputElement} */ (document.getElementById("dev-sub")).value = sub;
    /** @type {HTMLInputElement} */ (document.getElementById("dev-name")).value = name;
    /** @type {HTMLSelectElement} */ (document.getElementById("dev-role")).value = role;
  });
  document.getElementById("dev-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const form = new FormData(/** @type {HTMLFormElement} */ (e.target));
    show("dev-error", "");
    try {
      const response = await fetch("/dev/token", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({
          sub: form.get("sub"), name: form.get("name"), role: form.get("role"), tenant: form.get("tenant"),
        }),
      });
      const data = await response.json();
      if (!response.ok) throw new ApiError(response.status, data.error.code, data.error.message);
      setAuth({ token: data.token, user: data.user });
      location.assign(target);
    } catch (err) {
      show("dev-error", `Sign-in failed: ${err.message}`);
    }
  });
}

document.getElementById("token-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const form = /** @type {HTMLFormElement} */ (e.target);
  const token = /** @type {string} */ (new FormData(form).get("token")).trim();
  show("token-error", "");
  try {
    const claims = jwtClaims(token);
    const user = { sub: claims.sub, name: claims.name || claims.sub, role: claims.role, tenant: claims.tenant };
    const check = await fetch("/api/v1/me/bookings?limit=1", { headers: { Authorization: `Bearer ${token}` } });
    if (check.status === 401) throw new Error("the server does not accept this token");
    setAuth({ token, user });
    location.assign(target);
  } catch (err) {
    show("token-error", `Sign-in failed: ${err.message}`);
  }
});
