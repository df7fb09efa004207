// @ts-check
// Breakout rooms in the classroom. The teacher's "Breakout rooms" panel (in the main room)
// opens rooms (how many, automatically or by hand, an optional timer), then lists them with
// their members, a countdown, "Visit" (this tab goes to the room; "Back to main room"
// returns), "Send to all rooms" and "Close rooms". A student told `breakout` with a token
// leaves the main room and this page loads the breakout room (its own chat, people and
// media); `breakout-ended` brings everyone back to the main room. Inside a room the bar by
// the video says which room, of which class, and how long is left.
import { api, el } from "/static/common.js";

/** @param {string} id */
const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
/** @param {string} id */
const input = (id) => /** @type {HTMLInputElement} */ ($(id));
/** @param {string} id */
const select = (id) => /** @type {HTMLSelectElement} */ ($(id));

/** The classroom URL of session `id`, keeping this page's other parameters (the codec). */
function roomUrl(id) {
  const params = new URLSearchParams(location.search);
  params.set("session", id);
  return `/classroom.html?${params}`;
}

function left(endsAt) {
  if (!endsAt) return "";
  const seconds = Math.max(0, Math.round((endsAt - Date.now()) / 1000));
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")} left`;
}

export function setupBreakouts(client, { room, isHost, note, notify, leaveFor }) {
  const state = { open: false, rooms: [], endsAt: null, inside: null, host: false };
  let ticker = null;

  function tick() {
    clearInterval(ticker);
    const endsAt = state.inside?.endsAt ?? (state.open ? state.endsAt : null);
    if (endsAt) ticker = setInterval(renderBar, 1000);
  }

  function renderBar() {
    const bar = $("breakout-bar");
    const inside = state.inside;
    bar.hidden = !inside;
    if (!inside) return;
    const time = left(inside.endsAt);
    $("breakout-where").textContent = `You are in ${inside.room.name}${time ? ` · ${time}` : ""}`;
    $("breakout-back").hidden = !isHost();
    $("breakout-close-all").hidden = !isHost();
    $("breakout-timer").textContent = state.open ? left(state.endsAt) : "";
  }

  function students() {
    return [...room.roster.values()].filter((p) => p.role === "guest");
  }

  function renderPanel() {
    const panel = $("breakout-panel");
    panel.hidden = !state.host || Boolean(state.inside);
    if (panel.hidden) return;
    $("breakout-form").hidden = state.open;
    $("breakout-open-view").hidden = !state.open;
    $("breakout-timer").textContent = left(state.endsAt);
    $("breakout-rooms").replaceChildren(...state.rooms.map((r) => el("li", { dataset: { room: r.id } },
      el("strong", {}, r.name), " ",
      el("span", { class: "meta" }, (r.members || []).map((m) => m.name).join(", ") || "nobody yet"), " ",
      el("a", { class: "button small secondary", href: roomUrl(r.id), "aria-label": `Visit ${r.name}` }, "Visit"))));
    renderManual();
    renderMove();
  }

  /** "Move <student> to <room or the main room>": everyone in a room, and the main room's students. */
  function renderMove() {
    const people = new Map();
    for (const r of state.rooms) for (const m of r.members || []) people.set(m.userId, m.name);
    for (const p of students()) if (!people.has(p.userId)) people.set(p.userId, p.name);
    const who = select("breakout-who");
    const chosen = who.value;
    who.replaceChildren(...[...people].map(([id, name]) => el("option", { value: id }, name)));
    if (people.has(chosen)) who.value = chosen;
    const to = select("breakout-where-to");
    const target = to.value;
    to.replaceChildren(el("option", { value: "" }, "Main room"),
      ...state.rooms.map((r) => el("option", { value: r.id }, r.name)));
    if ([...to.options].some((o) => o.value === target)) to.value = target;
  }

  function renderManual() {
    const byHand = input("breakout-manual").checked;
    const count = Number(input("breakout-count").value) || 1;
    const list = $("breakout-assign");
    list.hidden = !byHand;
    if (!byHand) return;
    const kept = new Map([...list.querySelectorAll("select")].map((s) => [s.dataset.user, s.value]));
    list.replaceChildren(...students().map((p, i) => {
      const id = `breakout-user-${i}`;
      const select = el("select", { id, "aria-label": `Room for ${p.name}`, dataset: { user: p.userId } },
        el("option", { value: "" }, "Main room"),
        ...Array.from({ length: count }, (_, n) => el("option", { value: String(n) }, `Room ${n + 1}`)));
      select.value = kept.get(p.userId) ?? String(i % count);
      return el("li", {}, el("label", { for: id }, p.name), select);
    }));
  }

  client.on("welcome", (m) => {
    state.host = Boolean(m.grants?.moderate);
    renderPanel();
  });
  client.on("presence", () => {
    if (!state.host) return;
    if (state.open) renderMove(); else renderManual();
  });
  client.on("breakouts", (m) => {
    state.open = m.open;
    state.rooms = m.rooms || [];
    state.endsAt = m.endsAt || null;
    tick();
    renderPanel();
  });
  client.on("breakout", (m) => {
    if (m.token) {
      notify(`Going to ${m.room.name}…`);
      leaveFor(roomUrl(m.room.id));
      return;
    }
    state.inside = m;
    $("no-video").textContent = "Nobody in this room shows video yet: turn your camera on to be seen.";
    tick();
    renderBar();
    renderPanel();
  });
  client.on("breakout-ended", (m) => {
    notify(`${m.reason}: back to the main room…`);
    leaveFor(roomUrl(m.parent));
  });
  // A breakout room that ends by other means (the visiting teacher's "End class"): back too.
  client.on("room-ended", () => { if (state.inside) leaveFor(roomUrl(state.inside.parent)); });
  client.on("breakout-notice", (m) => {
    $("breakout-message").textContent = `${m.by?.name || "The teacher"} to all rooms: ${m.text}`;
    $("breakout-message").hidden = false;
  });

  // Properties, not listeners: a reconnect sets the page up again with a new client.
  input("breakout-manual").onchange = renderManual;
  $("breakout-auto").onchange = renderManual;
  input("breakout-count").oninput = renderManual;
  $("breakout-form").onsubmit = async (event) => {
    event.preventDefault();
    const message = { type: "breakout-open", rooms: Number(input("breakout-count").value) };
    const minutes = Number(input("breakout-minutes").value);
    if (minutes) message.duration = Math.round(minutes * 60);
    if (input("breakout-manual").checked) {
      message.assignments = {};
      for (const select of $("breakout-assign").querySelectorAll("select")) {
        if (select.value !== "") message.assignments[select.dataset.user] = Number(select.value);
      }
    }
    try {
      const ack = await client.request(message);
      note(`Opened ${ack.rooms.length} breakout room${ack.rooms.length === 1 ? "" : "s"}.`);
    } catch (err) {
      note(`Failed: ${err.message}`);
    }
  };
  $("breakout-send").onclick = async () => {
    const text = input("breakout-text").value.trim();
    if (!text) return;
    try {
      await client.request({ type: "breakout-broadcast", text });
      input("breakout-text").value = "";
      note("Sent to every room.");
    } catch (err) {
      note(`Failed: ${err.message}`);
    }
  };
  $("breakout-move").onclick = async () => {
    const userId = select("breakout-who").value;
    if (!userId) return;
    const room = select("breakout-where-to").value || null;
    try {
      await client.request({ type: "breakout-move", userId, room });
      note(`Moved ${select("breakout-who").selectedOptions[0]?.textContent || "them"}.`);
    } catch (err) {
      note(`Failed: ${err.message}`);
    }
  };
  $("breakout-close").onclick = async () => {
    try {
      await client.request({ type: "breakout-close" });
      note("Everyone is coming back.");
    } catch (err) {
      note(`Failed: ${err.message}`);
    }
  };
  // Inside a room, the visiting teacher goes back or calls everyone back (over REST: the
  // rooms are run from the main room).
  $("breakout-back").onclick = () => state.inside && leaveFor(roomUrl(state.inside.parent));
  $("breakout-close-all").onclick = async () => {
    if (!state.inside) return;
    try {
      await api(`/sessions/${encodeURIComponent(state.inside.parent)}/breakouts/close`, { method: "POST" });
    } catch (err) {
      notify(`Failed: ${err.message}`);
    }
  };
  return state;
}
