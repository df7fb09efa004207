// The classroom's roster, made for 500 people: counts by state (present, hands, muted,
// publishing), a search by name, raised hands first in the order they went up, then the
// teacher, then everyone else by name; at most ROW_LIMIT rows are drawn (search to reach the
// rest). Rows carry no buttons: the teacher chooses a row, and the actions for that one
// person appear above the list (Mute, camera, Lower hand, Remove).
import { el } from "/static/common.js";

const $ = (id) => document.getElementById(id);
export const ROW_LIMIT = 100;

/** `ctx`: { room, isHost, act, removeParticipant, participantName }. Returns render(). */
export function setupRoster(ctx) {
  const { room } = ctx;
  room.chosen = null; // the participant id whose actions are shown
  room.rosterFilter = "";
  $("roster-search").oninput = (event) => {
    room.rosterFilter = event.target.value;
    render();
  };

  function choose(pid) {
    room.chosen = room.chosen === pid ? null : pid;
    render();
    if (room.chosen) $("roster-actions").querySelector("button")?.focus();
  }

  function actionsFor(p) {
    const controls = [];
    const { act } = ctx;
    if (room.tiles.has(p.id)) {  // only someone who sends something can be muted
      controls.push(el("button", { type: "button", class: "small secondary", "aria-label": `Mute ${p.name}`, onclick: () => act(() => room.client.mute(p.id, "all"), `Asked ${p.name} to mute.`) }, "Mute"));
    }
    controls.push(room.allowed.has(p.userId) || room.tiles.has(p.id)
      ? el("button", { type: "button", class: "small secondary", "aria-label": `Stop camera for ${p.name}`, onclick: () => act(async () => { await room.client.allow(p.id, false); room.allowed.delete(p.userId); render(); }, `${p.name} may no longer use their camera.`) }, "Stop camera")
      : el("button", { type: "button", class: "small secondary", "aria-label": `Allow camera for ${p.name}`, onclick: () => act(async () => { await room.client.allow(p.id, true); room.allowed.add(p.userId); render(); }, `${p.name} may use their camera.`) }, "Allow camera"));
    if (room.hands.has(p.id)) {
      controls.push(el("button", { type: "button", class: "small", "aria-label": `Lower hand for ${p.name}`, onclick: () => act(() => room.client.request({ type: "hand-lower", target: p.id }), `Lowered ${p.name}'s hand.`) }, "Lower hand"));
    }
    controls.push(el("button", { type: "button", class: "small danger", "aria-label": `Remove ${p.name}`, dataset: { kick: p.userId }, onclick: () => ctx.removeParticipant(p) }, "Remove"));
    controls.push(el("button", { type: "button", class: "small secondary", "aria-label": "Close the actions", onclick: () => choose(p.id) }, "Close"));
    return controls;
  }

  function render() {
    const host = ctx.isHost();
    const queue = new Map([...room.hands].map((pid, place) => [pid, place]));
    const rank = (p) => (queue.has(p.id) ? queue.get(p.id) : p.role === "host" ? queue.size : queue.size + 1);
    const all = [...room.roster.values()];
    const needle = room.rosterFilter.trim().toLocaleLowerCase();
    const found = needle ? all.filter((p) => p.name.toLocaleLowerCase().includes(needle)) : all;
    found.sort((a, b) => rank(a) - rank(b) || a.name.localeCompare(b.name));
    const shown = found.slice(0, ROW_LIMIT);

    const hands = room.hands.size;
    $("hands-count").hidden = hands === 0;
    $("hands-count").textContent = `✋ ${hands} hand${hands === 1 ? "" : "s"} up`;
    $("lower-all").hidden = hands === 0 || !host;
    const publishing = [...room.tiles.keys()].filter((k) => !k.endsWith(":screen")).length;
    $("roster-counts").replaceChildren(
      el("span", {}, `${room.count} present`), " · ",
      el("span", {}, `${hands} hand${hands === 1 ? "" : "s"}`), " · ",
      el("span", {}, `${room.micMuted.size} muted`), " · ",
      el("span", {}, `${publishing} publishing`));
    $("roster-search").parentElement.hidden = all.length < 8 && !needle;

    if (room.chosen && !room.roster.has(room.chosen)) room.chosen = null;
    const chosen = host ? room.roster.get(room.chosen) : null;
    const bar = $("roster-actions");
    bar.hidden = !chosen;
    if (chosen) {
      bar.setAttribute("aria-label", `Actions for ${chosen.name}`);
      bar.replaceChildren(el("span", { class: "name" }, chosen.name), el("span", { class: "actions", style: "margin:0;gap:4px" }, actionsFor(chosen)));
    } else {
      bar.replaceChildren();
    }

    $("roster").replaceChildren(...shown.map((p) => {
      const me = p.id === room.me?.id;
      const selectable = host && !me && p.role !== "host";
      // The name first, and a row's accessible name holds all its visible text: "Choose
      // Sam Student hand up #1" (a name without the hand hid it from screen readers).
      const label = [
        p.name, me ? " (you)" : "", p.role === "host" ? " · teacher" : "",
        room.micMuted.has(p.id) ? el("span", { class: "meta" }, " · muted") : null,
        queue.has(p.id) ? " " : null,
        queue.has(p.id) ? el("span", { class: "badge hand" }, `hand up #${queue.get(p.id) + 1}`) : null,
      ];
      const body = selectable
        ? el("button", { type: "button", class: "row name", "aria-pressed": String(room.chosen === p.id), onclick: () => choose(p.id) }, label)
        : el("span", { class: "name" }, label);
      if (selectable) body.setAttribute("aria-label", `Choose ${body.textContent}`);
      return el("li", { dataset: { participant: p.id, user: p.userId }, class: room.chosen === p.id ? "chosen" : null }, body);
    }));
    const rest = found.length - shown.length;
    $("roster-more").hidden = rest <= 0 && !(needle && found.length === 0);
    $("roster-more").textContent = found.length === 0 ? "Nobody by that name." : `${rest} more not shown: find a person by name.`;
    for (const [pid, entry] of room.tiles) entry.tile.querySelector(".label").textContent = ctx.participantName(pid);
  }

  return render;
}
