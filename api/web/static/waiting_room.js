// @ts-check
// The waiting room in the classroom. A student who waits sees so, with the class's name (the
// server sends `waiting` instead of `welcome`), and a student the teacher refused is told.
// The teacher's panel lists who waits (live, from `waiting-list`), lets each one in or sends
// them away, or everyone at once, and turns the waiting room on and off.

/** @typedef {import("/static/liveclass.js").LiveclassClient} LiveclassClient */
/** @typedef {import("/static/protocol.js").Waiting} Waiting */
/** @typedef {import("/static/protocol.js").WaitingList} WaitingList */
/** @typedef {import("/static/protocol.js").WaiterView} WaiterView */
/** @typedef {import("/static/protocol.js").Welcome} Welcome */

/**
 * What the page knows of the waiting room (the classroom reads ``refused`` when the
 * connection closes).
 * @typedef {Object} WaitingState
 * @property {boolean} host this participant runs the waiting room (host or moderator)
 * @property {boolean} enabled the waiting room is on
 * @property {WaiterView[]} waiting who waits, the longest-waiting first
 * @property {boolean} refused the teacher refused this student
 * @property {boolean} live connected and admitted
 */

/** @param {string} id @returns {HTMLElement} */
const $ = (id) => document.getElementById(id);

/**
 * Set up the waiting room's part of the classroom for ``client``.
 * @param {LiveclassClient} client
 * @param {{showState: (state: string, text: string) => void, note: (text: string) => void}} page
 * @returns {WaitingState}
 */
export function setupWaitingRoom(client, { showState, note }) {
  /** @type {WaitingState} */
  const state = { host: false, enabled: false, waiting: [], refused: false, live: false };

  function render() {
    $("waiting-panel").hidden = !state.host || !state.live;
    const n = state.waiting.length;
    $("waiting-toggle").textContent = state.enabled ? "Turn waiting room off" : "Turn waiting room on";
    $("waiting-toggle").setAttribute("aria-pressed", String(state.enabled));
    $("waiting-count").textContent = n ? `(${n})` : "";
    $("waiting-all").hidden = n < 2;
    $("waiting-note").textContent = !state.enabled && n === 0
      ? "Off: students come straight in."
      : n === 0 ? "On: nobody is waiting." : `${n} waiting to be let in.`;
    $("waiting-list").replaceChildren(...state.waiting.map((w) => {
      const li = document.createElement("li");
      li.dataset.waiter = w.id;
      const name = Object.assign(document.createElement("span"), { className: "name", textContent: w.name });
      const actions = Object.assign(document.createElement("span"), { className: "actions" });
      actions.style.cssText = "margin:0;gap:4px";
      actions.append(
        button(`Admit ${w.name}`, "Admit", "small", () => decide("waiting-admit", w.id, `${w.name} was let in.`)),
        button(`Refuse ${w.name}`, "Refuse", "small danger", () => decide("waiting-refuse", w.id, `${w.name} was sent away.`)),
      );
      li.append(name, actions);
      return li;
    }));
  }

  /**
   * @param {string} label @param {string} text @param {string} className
   * @param {() => void} onclick
   */
  function button(label, text, className, onclick) {
    const b = Object.assign(document.createElement("button"), { type: "button", className, textContent: text, onclick });
    b.setAttribute("aria-label", label);
    return b;
  }

  /**
   * Let one waiter in or send them away (``id``), or everyone waiting (``id`` null).
   * @param {"waiting-admit"|"waiting-refuse"} type @param {string|null} id
   * @param {string} [done] the note once one waiter was decided on
   */
  async function decide(type, id, done) {
    try {
      const ack = await client.request(id ? { type, id } : { type });
      note(id ? done : `${ack.count} ${type === "waiting-admit" ? "let in" : "sent away"}.`);
    } catch (err) {
      note(`Failed: ${err.message}`);
    }
  }

  client.on("waiting", /** @param {Waiting} m */ (m) => {
    showState("waiting", `You are in the waiting room of “${m.room.title}”. The teacher will let you in; this page goes on by itself.`);
  });
  client.on("waiting-refused", () => { state.refused = true; });
  client.on("waiting-list", /** @param {WaitingList} m */ (m) => {
    const before = new Set(state.waiting.map((w) => w.id));
    state.enabled = m.enabled;
    state.waiting = m.waiting || [];
    const fresh = state.waiting.filter((w) => !before.has(w.id));
    if (fresh.length && state.host) note(`${fresh.map((w) => w.name).join(", ")} ${fresh.length === 1 ? "is" : "are"} waiting to be let in.`);
    render();
  });
  client.on("welcome", /** @param {Welcome} m */ (m) => { state.host = Boolean(m.grants?.moderate); state.live = true; render(); });
  client.on("closed", () => { state.live = false; render(); });
  // Properties, not listeners: a reconnect sets the page up again with a new client.
  $("waiting-toggle").onclick = async () => {
    try {
      await client.request({ type: "waiting-room", enabled: !state.enabled });
    } catch (err) {
      note(`Failed: ${err.message}`);
    }
  };
  $("admit-all").onclick = () => decide("waiting-admit", null);
  $("refuse-all").onclick = () => decide("waiting-refuse", null);
  return state;
}
