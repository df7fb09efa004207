// @ts-check
// The classroom: one room, for students and its teacher (host). States, shown in #state and
// as main[data-state]: loading, not-started, live, room-full, removed, ended, replaced,
// not-found, error. "reconnecting" is a banner over the live room.
import { CLOSE_CODES, LiveclassClient } from "/static/liveclass.js";
import { ApiError, api, el, formatTime, httpUrl, requireAuth, webConfig } from "/static/common.js";
import { setupPolls } from "/static/polls.js";
import { setupReactions } from "/static/reactions.js";
import { deleteButton, setupChatModeration } from "/static/chat_moderation.js";
import { setupWaitingRoom } from "/static/waiting_room.js";
import { setupQuestions } from "/static/questions.js";
import { setupRoster } from "/static/roster.js";
import { setupBreakouts } from "/static/breakouts.js";

const auth = requireAuth();
const params = new URLSearchParams(location.search);
const sessionRef = params.get("session");
const codec = params.get("codec") === "json" ? "json" : "msgpack";
/** @param {string} id @returns {HTMLElement} */
const $ = (id) => document.getElementById(id);
const main = $("main");

/** @typedef {import("/static/liveclass.js").SfuMedia} SfuMedia */
/** @typedef {import("/static/protocol.js").ChatDelivery} ChatDelivery */
/** @typedef {import("/static/protocol.js").Count} Count */
/** @typedef {import("/static/protocol.js").Grants} Grants */
/** @typedef {import("/static/protocol.js").HandRaised} HandRaised */
/** @typedef {import("/static/protocol.js").HandsLowered} HandsLowered */
/** @typedef {import("/static/protocol.js").MicLockChanged} MicLockChanged */
/** @typedef {import("/static/protocol.js").MuteRequest} MuteRequest */
/** @typedef {import("/static/protocol.js").MutedAll} MutedAll */
/** @typedef {import("/static/protocol.js").Presence} Presence */
/** @typedef {import("/static/protocol.js").Recording} Recording */
/** @typedef {import("/static/protocol.js").Speakers} Speakers */
/** @typedef {import("/static/protocol.js").Welcome} Welcome */
/** @typedef {import("/static/protocol.js").ParticipantView} ParticipantView */
/** @typedef {import("/static/waiting_room.js").WaitingState} WaitingState */

/**
 * The classroom page's state (one object, also ``window.liveclassRoom`` for the console and
 * the browser tests; roster.js keeps ``chosen`` and ``rosterFilter`` in it).
 * @typedef {Object} RoomState
 * @property {*} session the session (REST), once loaded
 * @property {LiveclassClient|null} client
 * @property {SfuMedia|null} media
 * @property {ParticipantView|null} me
 * @property {Object<string, boolean>} grants
 * @property {number|null} capacity
 * @property {number} count
 * @property {Map<string, ParticipantView>} roster participant id -> participant
 * @property {Set<string>} hands participant ids with a raised hand, in the order they were raised
 * @property {Map<number, ChatDelivery>} chat seq -> chat message
 * @property {Map<string, {tile: HTMLElement, video: HTMLVideoElement}>} tiles tile key
 *   (participant id, or "<id>:screen") -> its tile
 * @property {MediaStream|null} camera our MediaStream while publishing
 * @property {MediaStream|null} screen our shared screen's MediaStream while sharing
 * @property {string[]} speakers participant ids speaking now, loudest first (from the SFU)
 * @property {Set<string>} micMuted participant ids whose published microphone is muted
 * @property {Set<string>} allowed user ids the host let publish (this page's view)
 * @property {number|null} seats seats taken (the host and observers take none)
 * @property {boolean} kicked
 * @property {boolean} ended
 * @property {boolean} recording
 * @property {*} config the web config (common.js ``webConfig``)
 * @property {boolean} micLocked the teacher locked students' microphones muted
 * @property {WaitingState} [waiting] the waiting room's state (waiting_room.js)
 * @property {*} [breakouts] the breakout rooms' state (breakouts.js)
 * @property {boolean} [moving] leaving for another room (a breakout room, or back): no "left" page
 * @property {boolean} [cameraRefused] the browser refused the camera (not asked again by itself)
 * @property {number} [chimes] hand-raise chimes played (the tests count them)
 * @property {string|null} [chosen] the participant whose actions the roster shows
 * @property {string} [rosterFilter] the roster's search
 */

// The page's state, also as window.liveclassRoom for debugging in the console.
/** @type {RoomState} */
const room = {
  session: null,
  client: null,
  media: null,
  me: null,
  grants: {},
  capacity: null,
  count: 0,
  roster: new Map(), // participant id -> participant
  hands: new Set(), // participant ids with a raised hand, in the order they were raised
  chat: new Map(), // seq -> chat message
  tiles: new Map(), // tile key (participant id, or "<id>:screen") -> {tile, video}
  camera: null, // our MediaStream while publishing
  screen: null, // our shared screen's MediaStream while sharing
  speakers: [], // participant ids speaking now, loudest first (from the SFU)
  micMuted: new Set(), // participant ids whose published microphone is muted
  allowed: new Set(), // user ids the host let publish (this page's view)
  seats: null, // seats taken (the host and observers take none)
  kicked: false,
  ended: false,
  recording: false,
  config: null,
  micLocked: false, // the teacher locked students' microphones muted
};
/** @type {Window & {liveclassRoom?: RoomState}} */ (window).liveclassRoom = room;

// -- states -----------------------------------------------------------------------------

const STATES = {
  "not-started": ["The class has not started yet", "This page joins by itself as soon as the teacher starts it."],
  "room-full": ["The room is full", "Every seat is taken. Try again in a moment."],
  removed: ["You were removed by the host", "The teacher removed you from this class. You cannot rejoin it."],
  ended: ["The class has ended", "Thank you for joining."],
  replaced: ["You joined from another tab", "This class is open in another tab or window."],
  "not-found": ["No such class", "It does not exist, or it is not in your school."],
  forbidden: ["You cannot join this class", "Enroll in it first."],
  waiting: ["You are in the waiting room", "The teacher will let you in."],
  refused: ["The teacher did not let you in", "You may ask to join again."],
  error: ["Something went wrong", ""],
};

/**
 * Show the page's state ``name`` (one of STATES, "loading" or "live"); ``detail`` replaces
 * its text.
 * @param {string} name @param {string} [detail]
 */
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
    if (name === "refused") actions.push(el("button", { type: "button", onclick: () => enter() }, "Ask again"));
    if (name === "room-full") actions.push(el("button", { type: "button", onclick: () => enter() }, "Try again"));
    if (name !== "loading") actions.push(el("a", { class: "button secondary", href: "/" }, "All classes"));
    if (name === "ended" && isHost()) actions.unshift(el("a", { class: "button", id: "analytics-after", href: `/analytics.html?session=${encodeURIComponent(sessionRef)}` }, "Class analytics"));
    if (name === "not-started" && isHost()) actions.unshift(el("button", { type: "button", id: "start-class-big", onclick: startClass }, "Start class"));
    $("state-actions").replaceChildren(...actions);
  }
  setBanner("");
  updateTeacherPanel();
}

/** @param {string} text the banner over the live room ("" hides it) */
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
      throw Object.assign(err, { final: true, code: CLOSE_CODES.FORBIDDEN, reason: err.code === "banned" ? "banned" : "forbidden" });
    }
    if (err instanceof ApiError && err.status === 404) {
      throw Object.assign(err, { final: true, code: CLOSE_CODES.NOT_FOUND, reason: "not_found" });
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
    const when = startsAt(session.scheduledStart);
    setState("not-started", session.isInstructor
      ? `Start the class when you are ready: students join as soon as you do. Scheduled ${when}.`
      : `It is scheduled ${when}. This page joins by itself as soon as the teacher starts it.`);
    if (session.isInstructor) showRecordings();
    waitForStart();
    return;
  }
  connect();
}

/** "at 14:30 (in 12 minutes)", for the waiting page. @param {string|null} iso @returns {string} */
function startsAt(iso) {
  if (!iso) return "later";
  const start = new Date(iso);
  const minutes = Math.round((start.getTime() - Date.now()) / 60_000);
  const at = start.toLocaleString([], { weekday: "short", hour: "2-digit", minute: "2-digit" });
  if (minutes > 0 && minutes < 120) return `for ${at} (in ${minutes} minute${minutes === 1 ? "" : "s"})`;
  return `for ${at}`;
}

/** Every 3 s, look whether the class started; the page is left alone until it did (focus
 *  stays where it is, screen readers are not told the same thing again). */
function waitForStart() {
  clearTimeout(notStartedTimer);
  notStartedTimer = setTimeout(async () => {
    try {
      const session = await api(`/sessions/${encodeURIComponent(sessionRef)}`);
      if (session.status !== "scheduled") return enter();
    } catch (err) {
      // Try again at the next tick.
    }
    waitForStart();
  }, 3000);
}

// -- the connection ----------------------------------------------------------------------

async function connect() {
  const wsUrl = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;
  const client = room.client = new LiveclassClient({ url: wsUrl, token: roomToken, codec });
  room.media = client.media({
    onTrack: ({ participantId, source, stream }) => showTrack(participantId, stream, false, source),
    onRemoveTrack: ({ participantId, source, stream }) => {
      if (stream.getTracks().length === 0) removeTile(tileKey(participantId, source));
    },
  });
  client.on("welcome", onWelcome);
  setupPolls(client, { sessionRef });
  setupReactions(client);
  setupChatModeration(client, { sessionRef, chat: room.chat });
  room.waiting = setupWaitingRoom(client, { showState: setState, note });
  setupQuestions(client, { note: (text) => (isHost() ? note(text) : notify(text)) });
  room.breakouts = setupBreakouts(client, { room, isHost, note, notify, leaveFor });
  client.on("presence", /** @param {Presence} m */ (m) => {
    for (const p of /** @type {ParticipantView[]} */ (m.left || [])) {
      room.roster.delete(p.id);
      room.hands.delete(p.id);
      removeTile(p.id);
      removeTile(tileKey(p.id, "screen"));
    }
    for (const p of /** @type {ParticipantView[]} */ (m.joined || [])) room.roster.set(p.id, p);
    setCount(m.count, m.seats);
    renderRoster();
  });
  client.on("count", /** @param {Count} m */ (m) => setCount(m.count, m.seats));
  client.on("chat", addChat);
  // A resume after a long gap: the missed messages are in the history, not replayed.
  client.on("reload", ({ after }) => loadHistory(after));
  client.on("hand", /** @param {HandRaised} m */ (m) => {
    const fresh = m.raised && !room.hands.has(m.from.id);
    if (m.raised) room.hands.add(m.from.id); else room.hands.delete(m.from.id);
    if (m.from.id === room.me?.id) setHandButton(m.raised);
    if (m.by && m.from.id === room.me?.id && !m.raised) notify(`${m.by.name} lowered your hand.`);
    if (fresh && isHost() && m.from.id !== room.me?.id) {
      chime();
      notify(`${m.from.name} raised their hand (${room.hands.size} up).`);
    }
    renderRoster();
  });
  client.on("hands-lowered", /** @param {HandsLowered} m */ (m) => {
    const mine = room.me && room.hands.has(room.me.id);
    room.hands.clear();
    setHandButton(false);
    if (mine) notify(`${m.by?.name || "The host"} lowered all hands.`);
    renderRoster();
  });
  client.on("grants", /** @param {Grants} m */ (m) => { room.grants = m.grants; applyGrants(); });
  client.on("speakers", /** @param {Speakers} m */ (m) => {
    room.speakers = m.speakers || [];
    const muted = new Set(m.muted || []);
    const changed = muted.size !== room.micMuted.size || [...muted].some((pid) => !room.micMuted.has(pid));
    room.micMuted = muted;
    syncVoices();
    if (changed) renderRoster();  // the roster's muted count and marks
  });
  client.on("mute-request", /** @param {MuteRequest} m */ (m) => {
    if (!room.camera) return;
    const who = m.from?.name || "The host";
    if (m.kind === "audio") {
      for (const track of room.camera.getAudioTracks()) track.enabled = false;
      tellMic();
      syncMicButton();
      notify(`${who} muted your microphone. Press "Unmute microphone" to speak again.`);
    } else {
      // Camera (and microphone) off for everyone, and the buttons say so.
      stopCamera();
      notify(`${who} turned off your ${m.kind === "all" ? "camera and microphone" : "camera"}. Press "Turn camera on" to show it again.`);
    }
  });
  client.on("mute-all", /** @param {MutedAll} m */ (m) => {
    room.micLocked = m.lock || room.micLocked;
    if (isHost()) { updateTeacherPanel(); return; }
    const muted = muteMyMic();
    const who = m.by?.name || "The teacher";
    if (m.lock) notify(`${who} muted everyone's microphone and locked it.`);
    else if (muted) notify(`${who} muted everyone's microphone. Press "Unmute microphone" to speak again.`);
    syncMicButton();
  });
  client.on("mic-lock", /** @param {MicLockChanged} m */ (m) => {
    room.micLocked = m.locked;
    updateTeacherPanel();
    syncMicButton();
    if (!isHost()) notify(m.locked ? "The teacher locked the microphones." : "The teacher unlocked the microphones: you may unmute.");
  });
  client.on("kicked", () => { room.kicked = true; });
  client.on("room-ended", () => { room.ended = true; setStatus("ended"); });
  client.on("recording", /** @param {Recording} m */ (m) => {
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

/** @param {Welcome} m */
function onWelcome(m) {
  api(`/sessions/${encodeURIComponent(sessionRef)}/mic-lock`).then((d) => {
    room.micLocked = d.locked;
    if (d.locked && !isHost()) muteMyMic();  // a camera turned on before this answer came
    syncMicButton();
    updateTeacherPanel();
  }).catch(() => { /* unknown: the next mute-all or mic-lock says */ });
  room.me = m.participant;
  room.grants = m.grants || {};
  room.capacity = /** @type {number} */ (m.room.capacity);
  if (!m.resumed) {
    // A new participant (say, after a server restart): what we showed of the old one's
    // connections is gone; the SFU offers the room's media again.
    clearTiles();
    const roster = /** @type {ParticipantView[]} */ (m.roster || []);
    room.roster = new Map(roster.map((p) => [p.id, p]));
    room.roster.set(m.participant.id, m.participant);
    room.hands.clear();
  }
  setStatus(/** @type {string} */ (m.room.status));
  setCount(m.count, m.seats);
  renderRoster();
  setState("live");
  loadHistory();
  applyGrants();
  showRecordings();
  showRemoved();
}

/** @param {string} status the session's status (scheduled, live, ended) */
function setStatus(status) {
  if (room.session) room.session.status = status;
  $("status").textContent = status;
  $("status").className = `badge ${status}`;
}

/** The connection ended for good: say why. @param {{code: number, reason: string}} closed */
async function onClosed({ code, reason }) {
  stopCamera();
  stopScreen();
  clearTiles();
  if (room.moving) return; // to a breakout room or back: the next page takes over
  if (room.waiting?.refused) return setState("refused");
  if (room.kicked || reason === "banned" || code === CLOSE_CODES.FORBIDDEN) {
    return setState(room.kicked || reason === "banned" ? "removed" : "forbidden");
  }
  if (room.ended) {
    setState("ended");
    return showRecordings();
  }
  if (code === CLOSE_CODES.ROOM_FULL) return setState("room-full");
  if (code === CLOSE_CODES.REPLACED) return setState("replaced");
  if (code === CLOSE_CODES.NOT_FOUND) return setState("not-found");
  if (code === CLOSE_CODES.NORMAL && reason === "left") return; // leave() navigates away
  // Not live (CLOSE_CODES.NOT_LIVE), and anything else: look at the session again.
  enter();
}

/** Leave this room for another of the class (a breakout room, or back to the main room). */
function leaveFor(url) {
  room.moving = true;
  stopCamera();
  stopScreen();
  room.client?.leaveNow();
  location.assign(url);
}

// -- media -------------------------------------------------------------------------------

async function applyGrants() {
  $("hand").hidden = room.me?.role !== "guest";  // the teacher and observers raise no hands
  const canPublish = Boolean(room.grants.publish);
  $("camera").hidden = !canPublish;
  $("screen").hidden = !canPublish || !navigator.mediaDevices?.getDisplayMedia;
  if (!canPublish && room.camera) stopCamera();
  if (!canPublish && room.screen) stopScreen();
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
  if (room.micLocked && !isHost()) for (const track of room.camera.getAudioTracks()) track.enabled = false;
  showTrack(room.me.id, room.camera, true);
  syncCameraButton();
  try {
    await room.media.publish(room.camera);
    tellMic();
  } catch (err) {
    $("media-error").textContent = `Could not send your video: ${err.message}`;
    $("media-error").hidden = false;
  }
}

/** Tells the room whether our microphone is muted (a fresh publication starts unmuted). */
function tellMic() {
  const audio = room.camera?.getAudioTracks()[0];
  if (audio) room.media?.setMicMuted(!audio.enabled);
}

/** Marks the speaking participants' tiles, and the tiles of those whose microphone is muted. */
function syncVoices() {
  for (const [key, { tile }] of room.tiles) {
    if (key.endsWith(":screen")) continue;
    tile.classList.toggle("speaking", room.speakers.includes(key));
    const muted = room.micMuted.has(key);
    let mark = tile.querySelector(".mic-muted");
    if (muted && !mark) {
      mark = el("span", { class: "mic-muted", role: "img", "aria-label": "microphone muted", title: "Microphone muted" }, "Muted");
      tile.append(mark);
    } else if (!muted && mark) {
      mark.remove();
    }
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

async function startScreen() {
  $("media-error").hidden = true;
  let stream;
  try {
    stream = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: { ideal: 15 } }, audio: true });
  } catch (err) {
    if (err.name !== "NotAllowedError") {  // not a cancelled picker: say why
      $("media-error").textContent = `Screen sharing unavailable: ${err.message}`;
      $("media-error").hidden = false;
    }
    return;
  }
  room.screen = stream;
  // The browser's own "Stop sharing" bar ends the video track: stop for everyone.
  stream.getVideoTracks()[0]?.addEventListener("ended", stopScreen);
  showTrack(room.me.id, stream, true, "screen");
  syncScreenButton();
  try {
    await room.media.publish(stream, { source: "screen" });
  } catch (err) {
    $("media-error").textContent = `Could not share your screen: ${err.message}`;
    $("media-error").hidden = false;
  }
}

function stopScreen() {
  if (!room.screen) return;
  room.media?.unpublish("screen");
  for (const track of room.screen.getTracks()) track.stop();
  room.screen = null;
  if (room.me) removeTile(tileKey(room.me.id, "screen"));
  syncScreenButton();
}

function syncScreenButton() {
  $("screen").textContent = room.screen ? "Stop sharing" : "Share screen";
  $("screen").setAttribute("aria-pressed", String(Boolean(room.screen)));
}

function syncCameraButton() {
  $("camera").textContent = room.camera ? "Turn camera off" : "Turn camera on";
  $("mic").hidden = !room.camera;
  syncMicButton();
}

function syncMicButton() {
  const audio = room.camera?.getAudioTracks()[0];
  const muted = !audio || !audio.enabled;
  const locked = muted && room.micLocked && !isHost();
  $("mic").textContent = locked ? "Microphone locked by the teacher" : muted ? "Unmute microphone" : "Mute microphone";
  $("mic").setAttribute("aria-pressed", String(muted));
  /** @type {HTMLButtonElement} */ ($("mic")).disabled = locked;
}

/** Mute our published microphone (if any); true when it was on. */
function muteMyMic() {
  const audio = room.camera?.getAudioTracks()[0];
  if (!audio || !audio.enabled) return false;
  audio.enabled = false;
  tellMic();
  syncMicButton();
  return true;
}

/** @param {string} pid @returns {string} */
function participantName(pid) {
  const p = room.roster.get(pid);
  if (pid === room.me?.id) return `${room.me.name} (you)`;
  return p ? p.name : "Participant";
}

/**
 * The tile of `pid`'s camera, or of the screen they share.
 * @param {string} pid @param {"camera"|"screen"} [source] @returns {string}
 */
function tileKey(pid, source = "camera") {
  return source === "screen" ? `${pid}:screen` : pid;
}

/**
 * Show ``stream`` in ``pid``'s tile (made on first sight).
 * @param {string} pid @param {MediaStream} stream @param {boolean} [local] our own
 * @param {"camera"|"screen"} [source]
 */
function showTrack(pid, stream, local = false, source = "camera") {
  const key = tileKey(pid, source);
  let entry = room.tiles.get(key);
  if (!entry) {
    const screen = source === "screen";
    const video = el("video", { autoplay: true, playsinline: true, dataset: { participant: pid, source } });
    const p = room.roster.get(pid);
    const host = !screen && (p?.role === "host" || (local && isHost()));
    const label = screen ? `${participantName(pid)}: screen` : participantName(pid);
    const tile = el("figure", { class: screen ? "tile screen" : host ? "tile host" : "tile", dataset: { participant: pid, source } },
      video, el("figcaption", { class: "label" }, label));
    $("stage").append(tile);
    if (host) $("stage").prepend(tile);
    entry = { tile, video };
    room.tiles.set(key, entry);
    syncStageLayout();
    syncVoices();
    if (isHost()) renderRoster();  // who sends decides the roster's buttons
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

/** @param {string} key a tile key (tileKey) */
function removeTile(key) {
  const entry = room.tiles.get(key);
  if (!entry) return;
  entry.video.srcObject = null;
  entry.tile.remove();
  room.tiles.delete(key);
  $("no-video").hidden = room.tiles.size > 0;
  syncStageLayout();
  if (isHost()) renderRoster();
}

function syncStageLayout() {
  $("stage").classList.toggle("has-screen", [...room.tiles.keys()].some((k) => k.endsWith(":screen")));
}

function clearTiles() {
  for (const pid of [...room.tiles.keys()]) removeTile(pid);
}

// -- roster, count, hands ----------------------------------------------------------------

/** @param {number} count @param {number} seats */
function setCount(count, seats) {
  if (typeof count === "number") room.count = count;
  if (typeof seats === "number") room.seats = seats;
  renderCount();
}

/** The header counts seats against capacity (the teacher takes none, so a full class reads
 *  40 / 40, not 41 / 40); the roster says how many people are in the room. */
function renderCount() {
  const seats = room.seats ?? room.count;
  $("count").textContent = `${seats} / ${room.capacity ?? "–"}`;
  $("count").setAttribute("aria-label", `${seats} of ${room.capacity ?? "?"} seats taken`);
  $("count-side").textContent = `(${room.count})`;
  $("count-side").setAttribute("aria-label", `${room.count} people in the room`);
}

/** The chime's audio context (made at the first chime). @type {AudioContext|undefined} */
let chimeContext;

/** A short, soft two-note chime (no sound file): a raised hand for the teacher. */
function chime() {
  try {
    const audio = chimeContext ??= new AudioContext();
    for (const [at, hz] of [[0, 880], [0.12, 1320]]) {
      const tone = audio.createOscillator(), level = audio.createGain();
      tone.frequency.value = hz;
      level.gain.setValueAtTime(0.08, audio.currentTime + at);
      level.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + at + 0.25);
      tone.connect(level).connect(audio.destination);
      tone.start(audio.currentTime + at);
      tone.stop(audio.currentTime + at + 0.25);
    }
    room.chimes = (room.chimes || 0) + 1;
  } catch (err) {
    // No audio output: the notice is enough.
  }
}

/** The roster (roster.js): counts by state, search, hands first, actions for the chosen row. */
let renderRosterNow = null;
function renderRoster() {
  renderRosterNow ??= setupRoster({ room, isHost, act, removeParticipant, participantName });
  renderRosterNow();
}

/** Remove (and ban) ``p`` once the teacher confirms. @param {ParticipantView} p */
async function removeParticipant(p) {
  const sure = await confirmDialog(
    `Remove ${p.name} from this class?`,
    "They leave at once and cannot rejoin this class.",
    "Remove",
  );
  if (!sure) return;
  await act(() => room.client.kick(p.id, "removed by the host"));
  $("teacher-note").replaceChildren(`${p.name} was removed. `,
    el("button", { type: "button", class: "small secondary", "aria-label": `Undo: let ${p.name} back in`, onclick: () => letBackIn(p.userId, p.name) }, "Undo"));
  showRemoved();
}

/**
 * Undo a removal: they may join again (with a new room token).
 * @param {string} userId @param {string} name
 */
async function letBackIn(userId, name) {
  await act(() => api(`/sessions/${encodeURIComponent(sessionRef)}/bans/${encodeURIComponent(userId)}`, { method: "DELETE" }),
    `${name} may join again.`);
  showRemoved();
}

/** The teacher's list of people removed from this class, each with "Let back in". */
async function showRemoved() {
  if (!isHost()) return;
  let bans = [];
  try {
    bans = (await api(`/sessions/${encodeURIComponent(sessionRef)}/bans`)).bans;
  } catch (err) {
    return;
  }
  $("removed-title").hidden = bans.length === 0;
  $("removed").replaceChildren(...bans.map((b) => el("li", {},
    el("span", { class: "name" }, b.userName), " ",
    el("button", { type: "button", class: "small secondary", "aria-label": `Let ${b.userName} back in`, onclick: () => letBackIn(b.userId, b.userName) }, "Let back in"))));
}

/** A modal question; resolves true when the first button is chosen. Escape or "Cancel":
 *  false. Focus starts on Cancel, so Enter never removes anyone by accident.
 * @param {string} title @param {string} text @param {string} yes the first button's text
 * @returns {Promise<boolean>} */
function confirmDialog(title, text, yes) {
  return new Promise((resolve) => {
    const dialog = el("dialog", { class: "confirm", "aria-labelledby": "confirm-title" },
      el("h2", { id: "confirm-title" }, title), el("p", {}, text),
      el("div", { class: "actions" },
        el("button", { type: "button", class: "danger", onclick: () => dialog.close("yes") }, yes),
        el("button", { type: "button", class: "secondary", autofocus: true, onclick: () => dialog.close("no") }, "Cancel")));
    dialog.addEventListener("close", () => { dialog.remove(); resolve(dialog.returnValue === "yes"); });
    document.body.append(dialog);
    dialog.showModal();
  });
}

/** @param {boolean} raised */
function setHandButton(raised) {
  $("hand").setAttribute("aria-pressed", String(raised));
  $("hand").textContent = raised ? "Lower hand" : "Raise hand";
}

// -- chat ------------------------------------------------------------------------------

/** The chat history (after seq ``from``, or the latest). @param {number} [from] */
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

/** Show a chat message in its place (by seq). @param {ChatDelivery} m */
function addChat(m) {
  if (room.chat.has(m.seq)) return;
  room.chat.set(m.seq, m);
  const log = $("chat");
  const stick = log.scrollTop + log.clientHeight >= log.scrollHeight - 30;
  // Names and text in their own direction (right-to-left text stays apart from the time).
  const item = el("li", { dataset: { seq: m.seq } },
    el("strong", {}, el("bdi", {}, m.from?.name || "?"), ": "), el("bdi", { class: "text" }, m.text),
    el("time", { datetime: m.ts }, new Date(m.ts).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })),
    isHost() && m.id && room.client ? [" ", deleteButton(room.client, m)] : null);
  const later = [...log.children].find((li) => Number(/** @type {HTMLElement} */ (li).dataset.seq) > m.seq);
  log.insertBefore(item, later || null);
  while (log.children.length > 500) log.firstElementChild.remove();
  if (stick) log.scrollTop = log.scrollHeight;
}

// -- teacher -----------------------------------------------------------------------------

/** @param {string} text the teacher panel's note */
function note(text) { $("teacher-note").textContent = text; }

let noticeTimer = null;
/** A notice for whoever uses this page (not only the teacher): shown by the video.
 * @param {string} text */
function notify(text) {
  clearTimeout(noticeTimer);
  $("notice").textContent = text;
  $("notice").hidden = false;
  noticeTimer = setTimeout(() => { $("notice").hidden = true; }, 20_000);
}

/**
 * Run a teacher's action; the note says it was done (``done``) or why it failed.
 * @param {() => Promise<unknown>} fn @param {string} [done]
 */
async function act(fn, done) {
  try {
    await fn();
    if (done) note(done);
  } catch (err) {
    note(`Failed: ${err.message}`);
  }
}

function updateTeacherPanel() {
  $("recording-badge").hidden = !room.recording || main.dataset.state !== "live";
  const host = isHost();
  const status = room.session?.status;
  const live = main.dataset.state === "live";
  $("teacher").hidden = !host || !live;
  $("start-class").hidden = status !== "scheduled";
  $("end-class").hidden = !live;
  const recording = Boolean(room.config?.features?.recording) && live;
  $("record-start").hidden = !recording || room.recording;
  $("record-stop").hidden = !recording || !room.recording;
  /** @type {HTMLAnchorElement} */ ($("analytics-link")).href = `/analytics.html?session=${encodeURIComponent(sessionRef)}`;
  $("mute-all").hidden = !live;
  $("mic-lock").hidden = !live;
  $("mic-lock").textContent = room.micLocked ? "Unlock microphones" : "Mute all and lock";
  $("mic-lock").setAttribute("aria-pressed", String(room.micLocked));
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
  const sure = await confirmDialog("End the class for everyone?", "Everyone leaves the room, and it cannot be started again.", "End class");
  if (!sure) return;
  await act(async () => {
    room.ended = true;
    try {
      await room.client.end();
    } catch (err) {
      await api(`/sessions/${encodeURIComponent(sessionRef)}/end`, { method: "POST" });
    }
  });
}

/** @param {"start"|"stop"} action */
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
  room.recording = list.some((r) => r.status === "recording");
  updateTeacherPanel();
  panel.hidden = list.length === 0 && !isHost();
  const items = list.map((r) => {
    const name = r.filename || `Recording of ${formatTime(r.createdAt)}`;
    const size = r.size ? ` · ${(r.size / 1048576).toFixed(1)} MB` : "";
    const duration = r.duration ? ` · ${Math.round(r.duration)} s` : "";
    const ready = r.status === "ready";
    const href = httpUrl(r.accessLink?.url || r.url);
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
  stopScreen();
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
$("screen").addEventListener("click", () => {
  if (room.screen) stopScreen(); else startScreen();
});
$("mic").addEventListener("click", () => {
  const audio = room.camera?.getAudioTracks()[0];
  if (audio && !audio.enabled && room.micLocked && !isHost()) return;
  if (audio) audio.enabled = !audio.enabled;
  tellMic();
  syncMicButton();
});
$("chat-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const input = /** @type {HTMLInputElement} */ ($("chat-text"));
  const text = input.value.trim();
  if (!text || !room.client) return;
  // Cleared now, so the next message can be typed while this one is on its way.
  input.value = "";
  $("chat-error").hidden = true;
  try {
    await room.client.chat(text);
  } catch (err) {
    // Delivered but not confirmed saved: the room has it, so it is not given back to resend.
    const delivered = Boolean(err.details?.delivered);
    if (!delivered && !input.value) input.value = text;  // give it back, unless they typed on
    $("chat-error").textContent = delivered ? `Sent, not confirmed: ${err.message}` : `Message not sent: ${err.message}`;
    $("chat-error").hidden = false;
  } finally {
    input.focus();
  }
});
$("start-class").addEventListener("click", startClass);
$("end-class").addEventListener("click", endClass);
$("mute-all").addEventListener("click", () => act(() => room.client.request({ type: "mute-all" }), "Asked everyone to mute."));
$("mic-lock").addEventListener("click", () => act(
  () => room.client.request(room.micLocked ? { type: "mic-lock", locked: false } : { type: "mute-all", lock: true }),
  room.micLocked ? "Microphones unlocked." : "Everyone muted; microphones locked."));
$("lower-all").addEventListener("click", () => act(() => room.client.request({ type: "hand-lower" }), "Lowered every hand."));
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
