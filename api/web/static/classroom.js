// The classroom: one room, for students and its teacher (host). States, shown in #state and
// as main[data-state]: loading, not-started, live, room-full, removed, ended, replaced,
// not-found, error. "reconnecting" is a banner over the live room.
import { LiveclassClient } from "/static/liveclass.js";
import { ApiError, api, el, formatTime, requireAuth, webConfig } from "/static/common.js";

const auth = requireAuth();
const params = new URLSearchParams(location.search);
const sessionRef = params.get("session");
const codec = params.get("codec") === "json" ? "json" : "msgpack";
const $ = (id) => document.getElementById(id);
const main = $("main");

// The page's state, also as window.liveclassRoom for debugging in the console.
const room = window.liveclassRoom = {
  session: null,
  client: null,
  media: null,
  me: null,
  grants: {},
  capacity: null,
  count: 0,
  roster: new Map(), // participant id -> participant
  hands: new Set(), // participant ids with a raised hand
  chat: new Map(), // seq -> chat message
  tiles: new Map(), // participant id -> {tile, video}
  camera: null, // our MediaStream while publishing
  kicked: false,
  ended: false,
  recording: false,
  config: null,
};

// -- states -----------------------------------------------------------------------------

const STATES = {
  "not-started": ["The class has not started yet", "This page joins by itself as soon as the teacher starts it."],
  "room-full": ["The room is full", "Every seat is taken. Try again in a moment."],
  removed: ["You were removed by the host", "The teacher removed you from this class. You cannot rejoin it."],
  ended: ["The class has ended", "Thank you for joining."],
  replaced: ["You joined from another tab", "This class is open in another tab or window."],
  "not-found": ["No such class", "It does not exist, or it is not in your school."],
  forbidden: ["You cannot join this class", "Enroll in it first."],
  error: ["Something went wrong", ""],
};

function setState(name, detail) {
  main.dataset.state = name;
  const live = name === "live";
  $("room").hidden = !live;
  $("state").hidden = live;
  if (!live) {
    const [title, text] = STATES[name] || [name, ""];
    $("state-title").textContent = title;
    $("state-text").textContent = detail || text;
    const actions = [];
    if (name === "room-full") actions.push(el("button", { type: "button", onclick: () => enter() }, "Try again"));
    if (name !== "loading") actions.push(el("a", { class: "button secondary", href: "/" }, "All classes"));
    if (name === "not-started" && isHost()) actions.unshift(el("button", { type: "button", id: "start-class-big", onclick: startClass }, "Start class"));
    $("state-actions").replaceChildren(...actions);
  }
  setBanner("");
  updateTeacherPanel();
}

function setBanner(text) {
  $("banner").textContent = text;
  $("banner").hidden = !text;
}

const isHost = () => Boolean(room.session && room.session.isInstructor) || room.me?.role === "host";

// -- the session and its room token ------------------------------------------------------

async function loadSession() {
  room.session = await api(`/sessions/${encodeURIComponent(sessionRef)}`);
  document.title = `${room.session.title} · liveclass`;
  $("title").textContent = room.session.title;
  $("status").textContent = room.session.status;
  $("status").className = `badge ${room.session.status}`;
  if (room.capacity === null) room.capacity = room.session.maxParticipants;
  renderCount();
  return room.session;
}

/** A fresh room token each (re)connect; refusals that retrying cannot fix end the client. */
async function roomToken() {
  try {
    const data = await api(`/sessions/${encodeURIComponent(sessionRef)}/token`, { method: "POST" });
    return data.token;
  } catch (err) {
    if (err instanceof ApiError && err.status === 403) {
      throw Object.assign(err, { final: true, code: 4003, reason: err.code === "banned" ? "banned" : "forbidden" });
    }
    if (err instanceof ApiError && err.status === 404) {
      throw Object.assign(err, { final: true, code: 4004, reason: "not_found" });
    }
    throw err;
  }
}

let notStartedTimer = null;

async function enter() {
  clearTimeout(notStartedTimer);
  setState("loading");
  let session;
  try {
    session = await loadSession();
  } catch (err) {
    if (err.status === 404) return setState("not-found");
    // A removed user is refused at every door of the session, this one included.
    if (err.code === "banned") return setState("removed");
    return setState("error", err.message);
  }
  if (session.status === "ended" || session.status === "cancelled") {
    room.ended = true;
    setState("ended", session.status === "cancelled" ? "This class was cancelled." : undefined);
    return showRecordings();
  }
  if (session.status === "scheduled") {
    setState("not-started", session.isInstructor ? "Start the class when you are ready: students join as soon as you do." : undefined);
    if (session.isInstructor) showRecordings();
    notStartedTimer = setTimeout(enter, 3000);
    return;
  }
  connect();
}

// -- the connection ----------------------------------------------------------------------

async function connect() {
  const wsUrl = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;
  const client = room.client = new LiveclassClient({ url: wsUrl, token: roomToken, codec });
  room.media = client.media({
    onTrack: ({ participantId, stream }) => showTrack(participantId, stream),
    onRemoveTrack: ({ participantId, stream }) => {
      if (stream.getTracks().length === 0) removeTile(participantId);
    },
  });
  client.on("welcome", onWelcome);
  client.on("presence", (m) => {
    for (const p of m.left || []) { room.roster.delete(p.id); room.hands.delete(p.id); removeTile(p.id); }
    for (const p of m.joined || []) room.roster.set(p.id, p);
    setCount(m.count);
    renderRoster();
  });
  client.on("count", (m) => setCount(m.count));
  client.on("chat", addChat);
  // A resume after a long gap: the missed messages are in the history, not replayed.
  client.on("reload", ({ after }) => loadHistory(after));
  client.on("hand", (m) => {
    if (m.raised) room.hands.add(m.from.id); else room.hands.delete(m.from.id);
    if (m.from.id === room.me?.id) setHandButton(m.raised);
    renderRoster();
  });
  client.on("grants", (m) => { room.grants = m.grants; applyGrants(); });
  client.on("mute-request", (m) => {
    if (!room.camera) return;
    for (const track of room.camera.getTracks()) {
      if (m.kind === "all" || track.kind === m.kind) track.enabled = false;
    }
    syncMicButton();
    note(`${m.from?.name || "The host"} muted your ${m.kind === "all" ? "camera and microphone" : m.kind}.`);
  });
  client.on("kicked", () => { room.kicked = true; });
  client.on("room-ended", () => { room.ended = true; });
  client.on("recording", (m) => {
    room.recording = m.status === "started";
    updateTeacherPanel();
    showRecordings();
  });
  client.on("state", ({ state }) => {
    if (state === "reconnecting") setBanner("Reconnecting…");
    else if (state === "open") setBanner("");
  });
  client.on("closed", onClosed);
  try {
    await client.connect();
  } catch (err) {
    // onClosed shows why.
  }
}

function onWelcome(m) {
  room.me = m.participant;
  room.grants = m.grants || {};
  room.capacity = m.room.capacity;
  if (!m.resumed) {
    room.roster = new Map((m.roster || []).map((p) => [p.id, p]));
    room.roster.set(m.participant.id, m.participant);
    room.hands.clear();
  }
  setCount(m.count);
  renderRoster();
  setState("live");
  loadHistory();
  applyGrants();
  if (isHost()) showRecordings();
}

async function onClosed({ code, reason }) {
  stopCamera();
  clearTiles();
  if (room.kicked || reason === "banned" || code === 4003) {
    return setState(room.kicked || reason === "banned" ? "removed" : "forbidden");
  }
  if (room.ended) {
    setState("ended");
    return showRecordings();
  }
  if (code === 4009) return setState("room-full");
  if (code === 4000) return setState("replaced");
  if (code === 4004) return setState("not-found");
  if (code === 1000 && reason === "left") return; // leave() navigates away
  // 4010 (not live) and anything else: look at the session again.
  enter();
}

// -- media -------------------------------------------------------------------------------

async function applyGrants() {
  const canPublish = Boolean(room.grants.publish);
  $("camera").hidden = !canPublish;
  if (!canPublish && room.camera) stopCamera();
  if (canPublish && isHost() && !room.camera && !room.cameraRefused) await startCamera();
  syncCameraButton();
}

async function startCamera() {
  $("media-error").hidden = true;
  try {
    room.camera = await navigator.mediaDevices.getUserMedia({
      video: { width: { ideal: 640 }, height: { ideal: 360 }, frameRate: { ideal: 24 } },
      audio: true,
    });
  } catch (err) {
    room.cameraRefused = true;
    $("media-error").textContent = `Camera unavailable: ${err.message}`;
    $("media-error").hidden = false;
    syncCameraButton();
    return;
  }
  showTrack(room.me.id, room.camera, true);
  syncCameraButton();
  try {
    await room.media.publish(room.camera);
  } catch (err) {
    $("media-error").textContent = `Could not send your video: ${err.message}`;
    $("media-error").hidden = false;
  }
}

function stopCamera() {
  if (!room.camera) return;
  room.media?.unpublish();
  for (const track of room.camera.getTracks()) track.stop();
  room.camera = null;
  if (room.me) removeTile(room.me.id);
  syncCameraButton();
}

function syncCameraButton() {
  $("camera").textContent = room.camera ? "Turn camera off" : "Turn camera on";
  $("mic").hidden = !room.camera;
  syncMicButton();
}

function syncMicButton() {
  const audio = room.camera?.getAudioTracks()[0];
  const muted = !audio || !audio.enabled;
  $("mic").textContent = muted ? "Unmute microphone" : "Mute microphone";
  $("mic").setAttribute("aria-pressed", String(muted));
}

function participantName(pid) {
  const p = room.roster.get(pid);
  if (pid === room.me?.id) return `${room.me.name} (you)`;
  return p ? p.name : "Participant";
}

function showTrack(pid, stream, local = false) {
  let entry = room.tiles.get(pid);
  if (!entry) {
    const video = el("video", { autoplay: true, playsinline: true, dataset: { participant: pid } });
    const p = room.roster.get(pid);
    const host = p?.role === "host" || (local && isHost());
    const tile = el("figure", { class: host ? "tile host" : "tile", dataset: { participant: pid } },
      video, el("figcaption", { class: "label" }, participantName(pid)));
    $("stage").append(tile);
    if (host) $("stage").prepend(tile);
    entry = { tile, video };
    room.tiles.set(pid, entry);
  }
  const { video, tile } = entry;
  video.muted = local; // never hear yourself
  if (video.srcObject !== stream) video.srcObject = stream;
  video.play().catch(() => {
    // Autoplay with sound needs a gesture: play muted and offer to unmute.
    video.muted = true;
    video.play().catch(() => {});
    if (!local && !tile.querySelector(".unmute")) {
      tile.append(el("button", {
        type: "button", class: "small unmute", onclick: (e) => { video.muted = false; video.play(); e.target.remove(); },
      }, "Unmute"));
    }
  });
  $("no-video").hidden = room.tiles.size > 0;
}

function removeTile(pid) {
  const entry = room.tiles.get(pid);
  if (!entry) return;
  entry.video.srcObject = null;
  entry.tile.remove();
  room.tiles.delete(pid);
  $("no-video").hidden = room.tiles.size > 0;
}

function clearTiles() {
  for (const pid of [...room.tiles.keys()]) removeTile(pid);
}

// -- roster, count, hands ----------------------------------------------------------------

function setCount(count) {
  if (typeof count === "number") room.count = count;
  renderCount();
}

function renderCount() {
  const text = `${room.count} / ${room.capacity ?? "–"}`;
  $("count").textContent = text;
  $("count").setAttribute("aria-label", `${room.count} of ${room.capacity ?? "?"} in the room`);
  $("count-side").textContent = `(${text})`;
}

function renderRoster() {
  const people = [...room.roster.values()].sort((a, b) =>
    (a.role === "host" ? 0 : 1) - (b.role === "host" ? 0 : 1) || a.name.localeCompare(b.name));
  $("roster").replaceChildren(...people.map((p) => {
    const me = p.id === room.me?.id;
    const controls = [];
    if (isHost() && !me && p.role !== "host") {
      controls.push(
        el("button", { type: "button", class: "small secondary", "aria-label": `Mute ${p.name}`, onclick: () => act(() => room.client.mute(p.id, "all"), `Asked ${p.name} to mute.`) }, "Mute"),
        el("button", { type: "button", class: "small secondary", "aria-label": `Let ${p.name} use their camera`, onclick: () => act(() => room.client.allow(p.id, true), `${p.name} may use their camera.`) }, "Allow camera"),
        el("button", { type: "button", class: "small danger", "aria-label": `Remove ${p.name}`, dataset: { kick: p.userId }, onclick: () => act(() => room.client.kick(p.id, "removed by the host"), `${p.name} was removed.`) }, "Remove"),
      );
    }
    return el("li", { dataset: { participant: p.id, user: p.userId } },
      el("span", { class: "name" },
        room.hands.has(p.id) ? [el("span", { class: "badge hand" }, "hand up"), " "] : null,
        p.name, me ? " (you)" : "", p.role === "host" ? " · teacher" : ""),
      el("span", { class: "actions", style: "margin:0;gap:4px" }, controls));
  }));
  for (const [pid, entry] of room.tiles) entry.tile.querySelector(".label").textContent = participantName(pid);
}

function setHandButton(raised) {
  $("hand").setAttribute("aria-pressed", String(raised));
  $("hand").textContent = raised ? "Lower hand" : "Raise hand";
}

// -- chat ------------------------------------------------------------------------------

async function loadHistory(from) {
  try {
    let after = from;
    for (let page = 0; page < (from === undefined ? 5 : 50); page++) {
      const query = after === undefined ? "?limit=200" : `?limit=200&after=${after}`;
      const data = await api(`/sessions/${encodeURIComponent(sessionRef)}/messages${query}`);
      for (const m of data.messages) addChat({ seq: m.seq, id: m.id, from: m.sender || m.from, text: m.text, ts: m.ts });
      if (!data.hasMore || data.nextCursor == null) break;
      after = data.nextCursor;
    }
  } catch (err) {
    // History is a convenience; live chat works without it.
  }
}

function addChat(m) {
  if (room.chat.has(m.seq)) return;
  room.chat.set(m.seq, m);
  const log = $("chat");
  const stick = log.scrollTop + log.clientHeight >= log.scrollHeight - 30;
  const item = el("li", { dataset: { seq: m.seq } },
    el("strong", {}, `${m.from?.name || "?"}: `), m.text,
    el("time", { datetime: m.ts }, new Date(m.ts).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })));
  const later = [...log.children].find((li) => Number(li.dataset.seq) > m.seq);
  log.insertBefore(item, later || null);
  while (log.children.length > 500) log.firstElementChild.remove();
  if (stick) log.scrollTop = log.scrollHeight;
}

// -- teacher -----------------------------------------------------------------------------

function note(text) { $("teacher-note").textContent = text; }

async function act(fn, done) {
  try {
    await fn();
    if (done) note(done);
  } catch (err) {
    note(`Failed: ${err.message}`);
  }
}

function updateTeacherPanel() {
  const host = isHost();
  const status = room.session?.status;
  const live = main.dataset.state === "live";
  $("teacher").hidden = !host || !live;
  $("start-class").hidden = status !== "scheduled";
  $("end-class").hidden = !live;
  const recording = Boolean(room.config?.features?.recording) && live;
  $("record-start").hidden = !recording || room.recording;
  $("record-stop").hidden = !recording || !room.recording;
}

async function startClass() {
  try {
    await api(`/sessions/${encodeURIComponent(sessionRef)}/start`, { method: "POST" });
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 409)) return setState("error", `Could not start the class: ${err.message}`);
  }
  enter();
}

async function endClass() {
  await act(async () => {
    room.ended = true;
    try {
      await room.client.end();
    } catch (err) {
      await api(`/sessions/${encodeURIComponent(sessionRef)}/end`, { method: "POST" });
    }
  });
}

async function recordingAction(action) {
  await act(async () => {
    await api(`/sessions/${encodeURIComponent(sessionRef)}/recording/${action}`, { method: "POST" });
    room.recording = action === "start";
    updateTeacherPanel();
    pollRecordings();
  }, action === "start" ? "Recording…" : "Recording stopped; it appears below when ready.");
}

let recordingsPoll = null;
function pollRecordings(tries = 30) {
  clearTimeout(recordingsPoll);
  showRecordings().then((list) => {
    const busy = list.some((r) => r.status === "recording" || r.status === "processing");
    if ((busy || room.recording) && tries > 0) recordingsPoll = setTimeout(() => pollRecordings(tries - 1), 2000);
  });
}

async function showRecordings() {
  const panel = $("recordings-panel");
  let list = [];
  try {
    const data = await api(`/sessions/${encodeURIComponent(sessionRef)}/recordings`);
    list = data.recordings;
  } catch (err) {
    return list;
  }
  panel.hidden = list.length === 0 && !isHost();
  const items = list.map((r) => {
    const name = r.filename || `Recording of ${formatTime(r.createdAt)}`;
    const size = r.size ? ` · ${(r.size / 1048576).toFixed(1)} MB` : "";
    const duration = r.duration ? ` · ${Math.round(r.duration)} s` : "";
    const ready = r.status === "ready";
    const href = r.accessLink?.url || r.url;
    return el("li", { dataset: { recording: r.id, status: r.status } },
      ready && href
        ? el("a", { class: "recording-download", href, download: "" }, `Download ${name}`)
        : el("span", {}, name),
      el("span", { class: "meta" }, ` ${r.status}${duration}${size}`));
  });
  $("recordings").replaceChildren(...(items.length ? items : [el("li", { class: "empty" }, "No recordings yet.")]));
  return list;
}

// -- wiring ------------------------------------------------------------------------------

$("leave").addEventListener("click", async () => {
  clearTimeout(notStartedTimer);
  stopCamera();
  if (room.client) await room.client.leave();
  location.assign("/");
});
$("hand").addEventListener("click", () => {
  const raised = $("hand").getAttribute("aria-pressed") !== "true";
  setHandButton(raised);
  room.client?.raiseHand(raised).catch(() => setHandButton(!raised));
});
$("camera").addEventListener("click", () => {
  room.cameraRefused = false;
  if (room.camera) stopCamera(); else startCamera();
});
$("mic").addEventListener("click", () => {
  const audio = room.camera?.getAudioTracks()[0];
  if (audio) audio.enabled = !audio.enabled;
  syncMicButton();
});
$("chat-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const input = $("chat-text");
  const text = input.value.trim();
  if (!text || !room.client) return;
  $("chat-send").disabled = true;
  try {
    await room.client.chat(text);
    input.value = "";
  } catch (err) {
    note(`Message not sent: ${err.message}`);
  } finally {
    $("chat-send").disabled = false;
    input.focus();
  }
});
$("start-class").addEventListener("click", startClass);
$("end-class").addEventListener("click", endClass);
$("record-start").addEventListener("click", () => recordingAction("start"));
$("record-stop").addEventListener("click", () => recordingAction("stop"));
// Going away (another page, reload, tab closed): free the seat now rather than after the
// resume grace; a reload joins again with a new connection anyway.
window.addEventListener("pagehide", () => { room.client?.leaveNow(); });

if (!sessionRef) {
  setState("not-found");
} else {
  room.config = await webConfig();
  enter();
}
