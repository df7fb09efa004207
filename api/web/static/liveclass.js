// @ts-check
// liveclass.js — the browser client of liveclass, dependency-free (an ES module).
//
//   import { LiveclassClient } from "/static/liveclass.js";
//   const client = new LiveclassClient({ url: wsUrl, token: () => fetchRoomToken() });
//   client.on("chat", (m) => console.log(m.from.name, m.text));
//   const welcome = await client.connect();
//   await client.chat("hello");                        // resolves with the ack
//   const media = client.media({ onTrack: ({ participantId, stream }) => show(stream) });
//   await media.publish(await navigator.mediaDevices.getUserMedia({ video: true, audio: true }));
//
// The wire protocol is the server's (README, "The WebSocket protocol"): JSON or MessagePack
// subprotocols, requests answered by `ack`/`error` with the same `rid`, `seq` on messages
// that must not be lost, resume after a dropped connection, and WebRTC negotiation with the
// SFU (`signal` to/from "sfu") over two peer connections: one to publish, one to receive.

// Subprotocol names and close codes come from the server's own definitions (protocol.js is
// generated from them), so the two cannot drift apart.
import { CLOSE_CODES, CLOSE_REASONS, FINAL_CLOSE_CODES, SUBPROTOCOLS } from "/static/protocol.js";

// The messages' types, generated from the server's models (JSDoc typedefs in protocol.js).
/** @typedef {import("/static/protocol.js").ClientMessage} ClientMessage */
/** @typedef {import("/static/protocol.js").ServerMessage} ServerMessage */
/** @typedef {import("/static/protocol.js").Welcome} Welcome */
/** @typedef {import("/static/protocol.js").Ack} Ack */
/** @typedef {import("/static/protocol.js").ParticipantView} ParticipantView */
/** @typedef {import("/static/protocol.js").Signal} SignalMessage */

export { CLOSE_CODES, CLOSE_REASONS, FINAL_CLOSE_CODES, SUBPROTOCOLS };

// ---------------------------------------------------------------------------------------
// MessagePack: the subset the protocol uses (nil, booleans, integers, floats, strings,
// binary, arrays, maps). Integers beyond 2^53 decode to BigInt.

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder("utf-8", { fatal: true });

class Writer {
  constructor() {
    this.buf = new Uint8Array(256);
    this.view = new DataView(this.buf.buffer);
    this.pos = 0;
  }
  ensure(n) {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  u8(v) { this.ensure(1); this.view.setUint8(this.pos, v); this.pos += 1; }
  u16(v) { this.ensure(2); this.view.setUint16(this.pos, v); this.pos += 2; }
  u32(v) { this.ensure(4); this.view.setUint32(this.pos, v); this.pos += 4; }
  bytes(b) { this.ensure(b.length); this.buf.set(b, this.pos); this.pos += b.length; }
  result() { return this.buf.slice(0, this.pos); }
}

function encodeValue(w, value) {
  if (value === null || value === undefined) {
    w.u8(0xc0);
  } else if (value === false) {
    w.u8(0xc2);
  } else if (value === true) {
    w.u8(0xc3);
  } else if (typeof value === "number") {
    encodeNumber(w, value);
  } else if (typeof value === "bigint") {
    if (value >= 0n) { w.u8(0xcf); w.ensure(8); w.view.setBigUint64(w.pos, value); }
    else { w.u8(0xd3); w.ensure(8); w.view.setBigInt64(w.pos, value); }
    w.pos += 8;
  } else if (typeof value === "string") {
    const b = textEncoder.encode(value);
    if (b.length < 32) w.u8(0xa0 | b.length);
    else if (b.length < 0x100) { w.u8(0xd9); w.u8(b.length); }
    else if (b.length < 0x10000) { w.u8(0xda); w.u16(b.length); }
    else { w.u8(0xdb); w.u32(b.length); }
    w.bytes(b);
  } else if (value instanceof Uint8Array || value instanceof ArrayBuffer) {
    const b = value instanceof Uint8Array ? value : new Uint8Array(value);
    if (b.length < 0x100) { w.u8(0xc4); w.u8(b.length); }
    else if (b.length < 0x10000) { w.u8(0xc5); w.u16(b.length); }
    else { w.u8(0xc6); w.u32(b.length); }
    w.bytes(b);
  } else if (Array.isArray(value)) {
    if (value.length < 16) w.u8(0x90 | value.length);
    else if (value.length < 0x10000) { w.u8(0xdc); w.u16(value.length); }
    else { w.u8(0xdd); w.u32(value.length); }
    for (const item of value) encodeValue(w, item);
  } else if (typeof value === "object") {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    if (entries.length < 16) w.u8(0x80 | entries.length);
    else if (entries.length < 0x10000) { w.u8(0xde); w.u16(entries.length); }
    else { w.u8(0xdf); w.u32(entries.length); }
    for (const [k, v] of entries) { encodeValue(w, k); encodeValue(w, v); }
  } else {
    throw new TypeError(`cannot encode ${typeof value} as MessagePack`);
  }
}

function encodeNumber(w, n) {
  if (!Number.isInteger(n) || !Number.isSafeInteger(n)) {
    w.u8(0xcb); w.ensure(8); w.view.setFloat64(w.pos, n); w.pos += 8;
  } else if (n >= 0) {
    if (n < 0x80) w.u8(n);
    else if (n < 0x100) { w.u8(0xcc); w.u8(n); }
    else if (n < 0x10000) { w.u8(0xcd); w.u16(n); }
    else if (n < 0x100000000) { w.u8(0xce); w.u32(n); }
    else { w.u8(0xcf); w.ensure(8); w.view.setBigUint64(w.pos, BigInt(n)); w.pos += 8; }
  } else if (n >= -32) {
    w.u8(0xe0 | (n + 32));
  } else if (n >= -0x80) {
    w.u8(0xd0); w.ensure(1); w.view.setInt8(w.pos, n); w.pos += 1;
  } else if (n >= -0x8000) {
    w.u8(0xd1); w.ensure(2); w.view.setInt16(w.pos, n); w.pos += 2;
  } else if (n >= -0x80000000) {
    w.u8(0xd2); w.ensure(4); w.view.setInt32(w.pos, n); w.pos += 4;
  } else {
    w.u8(0xd3); w.ensure(8); w.view.setBigInt64(w.pos, BigInt(n)); w.pos += 8;
  }
}

/** MessagePack bytes (Uint8Array) for a JSON-like value. */
export function msgpackEncode(value) {
  const w = new Writer();
  encodeValue(w, value);
  return w.result();
}

class Reader {
  constructor(bytes) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = 0;
  }
  need(n) {
    if (this.pos + n > this.bytes.length) throw new RangeError("truncated MessagePack data");
  }
  u8() { this.need(1); return this.view.getUint8(this.pos++); }
  u16() { this.need(2); const v = this.view.getUint16(this.pos); this.pos += 2; return v; }
  u32() { this.need(4); const v = this.view.getUint32(this.pos); this.pos += 4; return v; }
  i8() { this.need(1); return this.view.getInt8(this.pos++); }
  i16() { this.need(2); const v = this.view.getInt16(this.pos); this.pos += 2; return v; }
  i32() { this.need(4); const v = this.view.getInt32(this.pos); this.pos += 4; return v; }
  u64() { this.need(8); const v = this.view.getBigUint64(this.pos); this.pos += 8; return small(v); }
  i64() { this.need(8); const v = this.view.getBigInt64(this.pos); this.pos += 8; return small(v); }
  f32() { this.need(4); const v = this.view.getFloat32(this.pos); this.pos += 4; return v; }
  f64() { this.need(8); const v = this.view.getFloat64(this.pos); this.pos += 8; return v; }
  raw(n) { this.need(n); const b = this.bytes.subarray(this.pos, this.pos + n); this.pos += n; return b; }
  str(n) { return textDecoder.decode(this.raw(n)); }
}

function small(big) {
  return big <= BigInt(Number.MAX_SAFE_INTEGER) && big >= BigInt(Number.MIN_SAFE_INTEGER)
    ? Number(big) : big;
}

function decodeValue(r) {
  const t = r.u8();
  if (t < 0x80) return t;
  if (t >= 0xe0) return t - 0x100;
  if ((t & 0xf0) === 0x80) return decodeMap(r, t & 0x0f);
  if ((t & 0xf0) === 0x90) return decodeArray(r, t & 0x0f);
  if ((t & 0xe0) === 0xa0) return r.str(t & 0x1f);
  switch (t) {
    case 0xc0: return null;
    case 0xc2: return false;
    case 0xc3: return true;
    case 0xc4: return r.raw(r.u8()).slice();
    case 0xc5: return r.raw(r.u16()).slice();
    case 0xc6: return r.raw(r.u32()).slice();
    case 0xca: return r.f32();
    case 0xcb: return r.f64();
    case 0xcc: return r.u8();
    case 0xcd: return r.u16();
    case 0xce: return r.u32();
    case 0xcf: return r.u64();
    case 0xd0: return r.i8();
    case 0xd1: return r.i16();
    case 0xd2: return r.i32();
    case 0xd3: return r.i64();
    case 0xd9: return r.str(r.u8());
    case 0xda: return r.str(r.u16());
    case 0xdb: return r.str(r.u32());
    case 0xdc: return decodeArray(r, r.u16());
    case 0xdd: return decodeArray(r, r.u32());
    case 0xde: return decodeMap(r, r.u16());
    case 0xdf: return decodeMap(r, r.u32());
    default: throw new TypeError(`unsupported MessagePack type 0x${t.toString(16)}`);
  }
}

function decodeArray(r, n) {
  const out = new Array(n);
  for (let i = 0; i < n; i++) out[i] = decodeValue(r);
  return out;
}

function decodeMap(r, n) {
  const out = {};
  for (let i = 0; i < n; i++) {
    const key = String(decodeValue(r));
    const value = decodeValue(r);
    if (key === "__proto__") {
      // An own property, as JSON.parse makes it: assigning would replace the prototype.
      Object.defineProperty(out, key, { value, writable: true, enumerable: true, configurable: true });
    } else {
      out[key] = value;
    }
  }
  return out;
}

/** The value in MessagePack bytes (Uint8Array or ArrayBuffer); throws on malformed data. */
export function msgpackDecode(bytes) {
  const data = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  const r = new Reader(data);
  const value = decodeValue(r);
  if (r.pos !== data.length) throw new RangeError("trailing bytes after MessagePack value");
  return value;
}

// ---------------------------------------------------------------------------------------
// Small helpers.

/** A tiny typed event emitter: `on(type, fn)` returns a function that unsubscribes. */
/** @typedef {(event: any, type?: string) => void} Handler */

class Emitter {
  constructor() {
    /** @type {Map<string, Set<Handler>>} */
    this.handlers = new Map();
  }
  /**
   * Calls `fn` with every event of `type` ("*": every event); returns the function that
   * stops it.
   * @param {string} type
   * @param {Handler} fn
   * @returns {() => boolean}
   */
  on(type, fn) {
    if (!this.handlers.has(type)) this.handlers.set(type, new Set());
    this.handlers.get(type).add(fn);
    return () => this.handlers.get(type)?.delete(fn);
  }
  /**
   * Like {@link Emitter.on}, for the next event of `type` only.
   * @param {string} type
   * @param {Handler} fn
   */
  once(type, fn) {
    const off = this.on(type, (e) => { off(); fn(e); });
    return off;
  }
  /** @param {string} type @param {*} event */
  emit(type, event) {
    for (const fn of [...(this.handlers.get(type) || []), ...(this.handlers.get("*") || [])]) {
      try { fn(event, type); } catch (err) { console.error(`liveclass: ${type} handler`, err); }
    }
  }
}

/** An error the server answered a request with (`code`, `message`, `details`). */
export class LiveclassError extends Error {
  /** @param {string} code @param {string} [message] @param {*} [details] */
  constructor(code, message, details) {
    super(message || code);
    this.name = "LiveclassError";
    this.code = code;
    this.details = details;
  }
}

/** Backoff before reconnect attempt `attempt` (0-based): exponential, capped, half jitter. */
/**
 * @param {number} attempt
 * @param {{base?: number, max?: number, random?: () => number}} [options]
 * @returns {number} milliseconds
 */
export function backoffDelay(attempt, { base = 500, max = 15000, random = Math.random } = {}) {
  const ceiling = Math.min(max, base * 2 ** attempt);
  return ceiling / 2 + random() * (ceiling / 2);
}

// ---------------------------------------------------------------------------------------
// The room connection.

/**
 * @typedef {Object} ClientOptions
 * @property {string} url the WebSocket URL
 * @property {string | (() => string | Promise<string>)} token the room token, or a function
 *   giving it (called again before each reconnect)
 * @property {"json"|"msgpack"} [codec]
 * @property {number} [requestTimeout] ms
 * @property {{base?: number, max?: number, attempts?: number}} [reconnect] backoff in ms
 */

/**
 * @typedef {Object} TrackEvent
 * @property {string} participantId
 * @property {"camera"|"screen"} source
 * @property {MediaStream} stream
 * @property {MediaStreamTrack} track
 */

/**
 * @typedef {Object} MediaOptions
 * @property {(event: TrackEvent) => void} [onTrack]
 * @property {(event: TrackEvent) => void} [onRemoveTrack]
 * @property {RTCConfiguration} [rtcConfig]
 * @property {number} [answerTimeout] ms
 */

/** Received streams that have their `removetrack` listener (a stream may get new tracks). */
const watched = new WeakSet();

/**
 * One participant's connection to a room.
 *
 * Options:
 * - `url`: the WebSocket URL (`wsUrl` of POST /api/v1/sessions/{ref}/token).
 * - `token`: the room token, or a function returning it (or a promise of it); a function is
 *   called again before each reconnect, so an expired token is replaced.
 * - `codec`: "json" (default) or "msgpack".
 * - `requestTimeout`: ms before a request without an answer rejects (default 15000).
 * - `reconnect`: { base, max, attempts } backoff in ms (defaults 500, 15000, Infinity).
 *
 * Events (`client.on(type, fn)`), each with the server message as it came:
 * `welcome`, `presence`, `count`, `chat`, `hand`, `signal`, `mute-request`, `grants`,
 * `kicked`, `recording`, `room-ended`, `error` (unsolicited errors), `message` (every message),
 * and from the client itself: `state` {state: "connecting" | "open" | "reconnecting" |
 * "closed"}, `closed` {code, reason, final: true} when the connection ended for good, and
 * `reload` {after, through} when a resume missed more than the server replays: read the chat
 * history after `after` (GET /api/v1/sessions/{ref}/messages?after=...); the client goes on
 * from `through` (it never resumes into the same gap again).
 */
export class LiveclassClient extends Emitter {
  /** @param {ClientOptions} options */
  constructor({ url, token, codec = "json", requestTimeout = 15000, reconnect = {} } = /** @type {ClientOptions} */ ({})) {
    super();
    if (!url) throw new TypeError("LiveclassClient needs the WebSocket url");
    if (!token) throw new TypeError("LiveclassClient needs a room token (or a function)");
    if (!(codec in SUBPROTOCOLS)) throw new TypeError(`unknown codec ${codec}`);
    this.url = url;
    this.tokenSource = token;
    this.codec = codec;
    this.requestTimeout = requestTimeout;
    this.backoff = { base: 500, max: 15000, attempts: Infinity, ...reconnect };
    /** @type {"idle"|"connecting"|"open"|"reconnecting"|"closed"} */
    this.state = "idle";
    /** @type {WebSocket | null} */
    this.ws = null;
    /** @type {Welcome | null} the last welcome (its `grants` kept up to date) */
    this.welcome = null;
    /** @type {ParticipantView | null} */
    this.participant = null;
    /** @type {string | null} */
    this.resumeToken = null;
    this.lastSeq = 0;
    /** @type {Map<string, {resolve: (ack: Ack) => void, reject: (err: Error) => void, timer: ReturnType<typeof setTimeout>}>} */
    this.pending = new Map();
    this.nextRid = 1;
    this.closing = false;
    this.attempt = 0;
    this.seenSeq = new Set();
  }

  /**
   * Opens the connection; resolves with the `welcome`, rejects if it closes before one.
   * @returns {Promise<Welcome>}
   */
  connect() {
    this.closing = false;
    return new Promise((resolve, reject) => {
      const offWelcome = this.once("welcome", (m) => { offClosed(); resolve(m); });
      const offClosed = this.once("closed", (e) => {
        offWelcome();
        reject(new LiveclassError(e.reason, `connection closed (${e.code})`, e));
      });
      this._open();
    });
  }

  _setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.emit("state", { state });
  }

  async _token() {
    const source = this.tokenSource;
    return typeof source === "function" ? await source() : source;
  }

  async _open() {
    this._setState(this.attempt === 0 && !this.welcome ? "connecting" : "reconnecting");
    let token;
    try {
      token = await this._token();
    } catch (err) {
      // A token we cannot get (signed out, removed, class ended): the end, unless transient.
      if (err && err.final) return this._finish(err.code || CLOSE_CODES.UNAUTHORIZED, err.reason || "unauthorized");
      return this._retry({ code: 1006, reason: "token_unavailable" });
    }
    if (this.closing) return;
    const url = new URL(this.url, location.href);
    url.searchParams.set("token", token);
    if (this.resumeToken) {
      url.searchParams.set("resume", this.resumeToken);
      url.searchParams.set("lastSeq", String(this.lastSeq));
    }
    const ws = new WebSocket(url.toString(), [SUBPROTOCOLS[this.codec]]);
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    ws.onmessage = (event) => { if (this.ws === ws) this._receive(event.data); };
    ws.onclose = (event) => { if (this.ws === ws) this._closed(event); };
  }

  _receive(data) {
    let decoded;
    try {
      decoded = typeof data === "string" ? JSON.parse(data) : msgpackDecode(data);
    } catch (err) {
      console.error("liveclass: undecodable frame", err);
      return;
    }
    for (const message of Array.isArray(decoded) ? decoded : [decoded]) {
      if (message && typeof message === "object") this._dispatch(message);
    }
  }

  _dispatch(message) {
    const { type } = message;
    if (typeof message.seq === "number" && type !== "ack" && type !== "welcome") {
      // A resume replays messages after lastSeq; some may have arrived already.
      if (this.seenSeq.has(message.seq)) return;
      this.seenSeq.add(message.seq);
      if (message.seq > this.lastSeq) this.lastSeq = message.seq;
    }
    if (type === "welcome") {
      this.welcome = message;
      this.participant = message.participant;
      this.resumeToken = message.resume || null;
      if (!message.resumed) {
        this.seenSeq.clear();
        this.lastSeq = message.seq || 0;
      } else if (message.reload) {
        // The gap was not replayed (too long): it is in the history, not coming here.
        this.lastSeq = Math.max(this.lastSeq, message.reload.through || message.seq || 0);
      }
      this.attempt = 0;
      this._setState("open");
      if (message.resumed && message.reload) this.emit("reload", { ...message.reload });
    } else if (type === "ack" || (type === "error" && message.rid)) {
      const waiter = this.pending.get(message.rid);
      if (waiter) {
        this.pending.delete(message.rid);
        clearTimeout(waiter.timer);
        if (type === "ack") waiter.resolve(message);
        else waiter.reject(new LiveclassError(message.code, message.message, message.details));
        return;
      }
    } else if (type === "grants" && this.welcome) {
      this.welcome.grants = message.grants;
    }
    this.emit("message", message);
    this.emit(type, message);
  }

  _closed(event) {
    this.ws = null;
    const code = event.code;
    const reason = CLOSE_REASONS[code] || event.reason || "connection_lost";
    // Requests in flight are unanswered now; their callers decide whether to retry.
    for (const [rid, waiter] of this.pending) {
      clearTimeout(waiter.timer);
      waiter.reject(new LiveclassError("disconnected", "the connection closed", { code }));
      this.pending.delete(rid);
    }
    if (this.closing || FINAL_CLOSE_CODES.has(code)) return this._finish(code, reason);
    if (code === CLOSE_CODES.UNAUTHORIZED && !(typeof this.tokenSource === "function")) {
      return this._finish(code, reason);
    }
    this._retry({ code, reason });
  }

  async _retry({ code, reason }) {
    if (this.attempt >= this.backoff.attempts) return this._finish(code, reason);
    this._setState("reconnecting");
    this.emit("reconnecting", { code, reason, attempt: this.attempt });
    // The network coming back ends the wait early (browsers say so with `online`).
    await new Promise((resolve) => {
      const timer = setTimeout(done, backoffDelay(this.attempt, this.backoff));
      function done() {
        clearTimeout(timer);
        globalThis.removeEventListener?.("online", done);
        resolve();
      }
      globalThis.addEventListener?.("online", done);
    });
    this.attempt += 1;
    if (!this.closing) this._open();
  }

  _finish(code, reason) {
    this.closing = true;
    this._setState("closed");
    this.emit("closed", { code, reason, final: true });
  }

  /**
   * Sends a message as it is (no answer awaited).
   * @param {ClientMessage} message
   */
  send(message) {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) {
      throw new LiveclassError("disconnected", "not connected");
    }
    ws.send(this.codec === "json" ? JSON.stringify(message) : msgpackEncode(message));
  }

  /** Sends a request with a fresh `rid`; resolves with its `ack`, rejects with the `error`
   *  (a LiveclassError), or with code "timeout" after `timeout` ms.
   * @param {ClientMessage} message
   * @param {{timeout?: number}} [options]
   * @returns {Promise<Ack>}
   */
  request(message, { timeout = this.requestTimeout } = {}) {
    const rid = `r${this.nextRid++}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(rid);
        reject(new LiveclassError("timeout", `no answer to ${message.type} in ${timeout} ms`));
      }, timeout);
      this.pending.set(rid, { resolve, reject, timer });
      try {
        this.send({ ...message, rid });
      } catch (err) {
        clearTimeout(timer);
        this.pending.delete(rid);
        reject(err);
      }
    });
  }

  /** @param {string} text */
  chat(text) { return this.request({ type: "chat", text }); }
  /** @param {boolean} [raised] */
  raiseHand(raised = true) { return this.request({ type: "hand", raised }); }
  /** @param {string} target @param {"audio"|"video"|"all"} [kind] */
  mute(target, kind = "audio") { return this.request({ type: "mute", target, kind }); }
  /** @param {string} target @param {string} [reason] */
  kick(target, reason) { return this.request({ type: "kick", target, reason }); }
  /** @param {string} target @param {boolean} [publish] */
  allow(target, publish = true) { return this.request({ type: "allow", target, publish }); }
  end() { return this.request({ type: "end" }); }
  ping() { return this.request({ type: "ping", ts: performance.now() }); }

  /** Leaves the room: the seat is free at once and the client does not reconnect. */
  async leave() {
    this.closing = true;
    try {
      if (this.ws && this.ws.readyState === WebSocket.OPEN) {
        await this.request({ type: "leave" }, { timeout: 3000 });
      }
    } catch (err) {
      // Leaving anyway: the close below frees the seat after the resume grace.
    }
    this.close();
  }

  /** Leaves without waiting for the answer (for `pagehide`: the page is going away). */
  leaveNow() {
    try { this.send({ type: "leave" }); } catch (err) { /* not connected: nothing to leave */ }
    this.close();
  }

  /** Closes the connection without leaving (the seat is kept for the resume grace). */
  close() {
    this.closing = true;
    const ws = this.ws;
    this.ws = null;
    if (ws) ws.close(CLOSE_CODES.NORMAL);
    if (this.state !== "closed") this._finish(CLOSE_CODES.NORMAL, "left");
  }

  /**
   * The media of this room through the SFU (see {@link SfuMedia}).
   * @param {MediaOptions} [options]
   */
  media(options = {}) {
    return new SfuMedia(this, options);
  }
}

// ---------------------------------------------------------------------------------------
// Media through the SFU: two peer connections.

async function gathered(pc, timeout = 5000) {
  // The SFU takes complete descriptions; trickled candidates are sent as well, so a slow
  // gatherer only costs time, never the connection.
  if (pc.iceGatheringState === "complete") return;
  await new Promise((resolve) => {
    const timer = setTimeout(done, timeout);
    function done() {
      clearTimeout(timer);
      pc.removeEventListener("icegatheringstatechange", check);
      resolve();
    }
    function check() { if (pc.iceGatheringState === "complete") done(); }
    pc.addEventListener("icegatheringstatechange", check);
  });
}

/**
 * Publishing and receiving media through the SFU, over the client's signalling.
 *
 * A participant publishes up to two *sources*, each on its own peer connection: `"camera"`
 * (camera and microphone) and `"screen"` (a shared screen or window, with its sound if any).
 * Each can stop and start any number of times.
 *
 * Options: `onTrack({participantId, source, stream, track})` for every received track (the
 * stream's id is the publishing participant's id for a camera, `<id>:screen` for a screen),
 * `onRemoveTrack({participantId, source, stream, track})`, `rtcConfig` (RTCPeerConnection
 * configuration; its `iceServers` default to the welcome's: STUN and TURN with short-lived
 * credentials, renewed with every welcome), `answerTimeout` (ms, default 30000).
 *
 * Events: `state` {publisher, screen, subscriber} connection states, `restart` {reason}.
 */
export class SfuMedia extends Emitter {
  /** @param {LiveclassClient} client @param {MediaOptions} [options] */
  constructor(client, { onTrack, onRemoveTrack, rtcConfig = {}, answerTimeout = 30000 } = {}) {
    super();
    this.client = client;
    const ownIceServers = Boolean(rtcConfig.iceServers);
    this.rtcConfig = ownIceServers || !client.welcome?.iceServers
      ? rtcConfig
      // The welcome's are RTCIceServer objects (urls, username, credential).
      : { ...rtcConfig, iceServers: /** @type {RTCIceServer[]} */ (/** @type {unknown} */ (client.welcome.iceServers)) };
    this.answerTimeout = answerTimeout;
    /** source -> {pc, stream, waiter}: what we publish. */
    this.pubs = new Map();
    this.sub = null;
    this.subConnection = null;  // the SFU connection `sub` negotiates with (offers' connectionId)
    this.publishSerial = 0;
    this.subQueue = Promise.resolve();
    this.restarting = false;
    /** A start-over asked for while one runs: run once more after it ({reason, tellSfu}). */
    this.restartAgain = null;
    /** source -> stream: what a start-over could not publish again (the socket was down);
     *  the next start-over (the next welcome's) publishes it. */
    this.unsent = new Map();
    if (onTrack) this.on("track", onTrack);
    if (onRemoveTrack) this.on("removetrack", onRemoveTrack);
    this.offs = [
      client.on("signal", (m) => { if (m.from === "sfu") this._signal(m); }),
      client.on("welcome", (m) => {
        // Fresh TURN credentials with every welcome, for the connections made from now on
        // (unless the caller chose its ICE servers).
        if (m.iceServers && !ownIceServers) this.rtcConfig = { ...this.rtcConfig, iceServers: m.iceServers };
        if (!m.resumed) this._startOver("rejoined", false);
      }),
      client.on("closed", () => this.close()),
    ];
  }

  /** The camera's publishing connection (null when the camera is off). */
  get pub() { return this.pubs.get("camera")?.pc ?? null; }

  get publishing() { return this.pubs.has("camera"); }

  /** Whether `source` ("camera" or "screen") is being published. */
  isPublishing(source) { return this.pubs.has(source); }

  _signal(m) {
    if (m.kind === "answer") {
      const publication = this.pubs.get(m.source || "camera");
      const waiter = publication?.waiter;
      // An answer naming another offer answers a connection we have closed since.
      if (!waiter || (m.offerId && m.offerId !== waiter.offerId)) return;
      publication.waiter = null;
      waiter.resolve(m.sdp);
    } else if (m.kind === "offer") {
      // Offers are answered one at a time, in order.
      this.subQueue = this.subQueue.then(() => this._answer(m)).catch((err) => {
        console.error("liveclass: answering the SFU's offer failed", err);
      });
    } else if (m.kind === "ice" && m.candidate) {
      const pc = m.target === "publisher" ? this.pubs.get(m.source || "camera")?.pc : this.sub;
      if (pc) pc.addIceCandidate(m.candidate).catch(() => {});
    } else if (m.kind === "restart") {
      this._startOver(m.reason || "sfu_restart", false);
    }
  }

  _current(pc) {
    return pc === this.sub || [...this.pubs.values()].some((p) => p.pc === pc);
  }

  _newPc(role, source) {
    const pc = new RTCPeerConnection(this.rtcConfig);
    pc.addEventListener("icecandidate", (e) => {
      if (!e.candidate || !e.candidate.candidate || !this._current(pc)) return;
      // toJSON() has the candidate string (checked above).
      const candidate = /** @type {import("/static/protocol.js").IceCandidate} */ (e.candidate.toJSON());
      /** @type {SignalMessage} */
      const message = { type: "signal", to: "sfu", kind: "ice", target: role, candidate };
      if (source) message.source = source;
      try {
        this.client.send(message);
      } catch (err) {
        // Disconnected: the complete description already carries the candidates.
      }
    });
    pc.addEventListener("connectionstatechange", () => {
      this.emit("state", {
        publisher: this.pubs.get("camera")?.pc.connectionState,
        screen: this.pubs.get("screen")?.pc.connectionState,
        subscriber: this.sub?.connectionState,
      });
      if (pc.connectionState === "failed" && this._current(pc)) {
        // Our side broke (a network change): ask the SFU to start over with us.
        this._startOver("ice_failed", true);
      }
    });
    return pc;
  }

  async _answer({ sdp, offerId, connectionId }) {
    if (this.sub && connectionId && this.subConnection && connectionId !== this.subConnection) {
      // The SFU replaced its side of the connection (an offer of the old one may even arrive
      // after a restart): a new server connection is answered on a new peer connection.
      this.sub.close();
      this.sub = null;
    }
    if (!this.sub) {
      const pc = this.sub = this._newPc("subscriber");
      pc.addEventListener("track", (event) => {
        const stream = event.streams[0] || new MediaStream([event.track]);
        const screen = stream.id.endsWith(":screen");
        const participantId = screen ? stream.id.slice(0, -":screen".length) : stream.id;
        const source = screen ? "screen" : "camera";
        this.emit("track", { participantId, source, stream, track: event.track });
        if (!watched.has(stream)) {
          watched.add(stream);  // a stream reused for a new track: one listener
          stream.addEventListener("removetrack", (e) => {
            this.emit("removetrack", { participantId, source, stream, track: e.track });
          });
        }
      });
    }
    const pc = this.sub;
    this.subConnection = connectionId || null;
    await pc.setRemoteDescription({ type: "offer", sdp });
    await pc.setLocalDescription(await pc.createAnswer());
    await gathered(pc);
    if (pc !== this.sub) return;
    // The offer's id lets the SFU ignore this answer if the offer was replaced meanwhile.
    /** @type {SignalMessage} */
    const answer = { type: "signal", to: "sfu", kind: "answer", sdp: pc.localDescription.sdp };
    if (offerId) answer.offerId = offerId;
    this.client.send(answer);
  }

  /** Publishes `stream` as `source` ("camera": camera and microphone, the default; "screen":
   *  a shared screen) on a new connection, replacing what was published as that source;
   *  resolves once the SFU answered. Needs the publish grant (the host has it; students once
   *  the host allows them).
   *
   *  A camera is sent in two layers (`layers`, default true for a camera): a copy of the
   *  video track scaled down to about 180 lines at up to 150 kbps, and the track itself; the
   *  offer names them (`layers`: mid -> "low"/"high") and the SFU gives each viewer the
   *  one its link carries. A browser that refuses the low layer's encoding parameters
   *  publishes the one layer alone.
   * @param {MediaStream} stream
   * @param {{source?: "camera"|"screen", layers?: boolean}} [options]
   */
  async publish(stream, { source = "camera", layers = source === "camera" } = {}) {
    this.unsent.delete(source);
    this._close(source);
    const pc = this._newPc("publisher", source);
    const publication = { pc, stream, waiter: null, copies: [] };
    this.pubs.set(source, publication);
    const named = [];
    for (const track of stream.getTracks()) {
      if (layers && track.kind === "video") {
        const low = this._addLowLayer(pc, track, stream, publication);
        if (low) named.push([low, "low"]);
      }
      const transceiver = pc.addTransceiver(track, { direction: "sendonly", streams: [stream] });
      if (named.length && track.kind === "video") named.push([transceiver, "high"]);
    }
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc);
    if (this.pubs.get(source) !== publication) return;
    // The SFU echoes the offer's id in its answer: after a quick off-and-on, the answer to
    // the previous connection's offer may still arrive, and must not be applied to this one.
    const offerId = `pub-${++this.publishSerial}`;
    const answer = new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new LiveclassError("timeout", "the SFU did not answer the offer"));
      }, this.answerTimeout);
      publication.waiter = {
        offerId,
        resolve: (sdp) => { clearTimeout(timer); resolve(sdp); },
      };
    });
    // Awaited only once the offer is sent: an offer that could not be sent must not leave
    // an unheard rejection behind.
    answer.catch(() => {});
    // An error (no publish grant) comes as the request's error.
    /** @type {SignalMessage} */
    const offer = { type: "signal", to: "sfu", kind: "offer", source, offerId, sdp: pc.localDescription.sdp };
    if (named.length === 2) offer.layers = Object.fromEntries(named.map(([t, name]) => [t.mid, name]));
    await this.client.request(offer).catch((err) => {
      if (err.code !== "timeout") {
        if (this.pubs.get(source) === publication) this._close(source);
        publication.waiter = null;
        throw err;
      }
    });
    const sdp = await answer;
    if (this.pubs.get(source) !== publication || sdp === null) return;
    await pc.setRemoteDescription({ type: "answer", sdp });
  }

  /** Stops publishing `source` (default "camera"; the tracks are not stopped: they are the
   *  caller's): closes its connection and tells the SFU, so its tracks end for everyone at
   *  once. A later `publish` offers on a new connection, which the SFU takes as a new
   *  publication. */
  /** @param {"camera"|"screen"} [source] */
  unpublish(source = "camera") {
    this.unsent.delete(source);
    if (!this._close(source)) return;
    try {
      this.client.send({ type: "signal", to: "sfu", kind: "unpublish", source });
    } catch (err) {
      // Disconnected: the SFU ends the publication when we leave, or replaces it when we
      // publish again.
    }
  }

  /** Tells the room that the microphone we publish is muted (or not): everyone's page can
   *  show it (the `speakers` message's `muted`). Mute the track itself too
   *  (`track.enabled = false`): this only tells. */
  setMicMuted(muted) {
    if (!this.pubs.has("camera")) return;
    try {
      this.client.send({ type: "signal", to: "sfu", kind: "mute", muted: Boolean(muted) });
    } catch (err) {
      // Disconnected: a new publication starts unmuted and the page tells again.
    }
  }

  /** Adds the low layer of a camera's `track`: a copy of it, sent scaled down to about 180
   *  lines at up to 150 kbps. Returns its transceiver, or null (and adds nothing) when the
   *  browser refuses those encoding parameters. */
  _addLowLayer(pc, track, stream, publication) {
    const height = track.getSettings?.().height || 360;
    const encoding = { maxBitrate: 150_000, scaleResolutionDownBy: Math.max(1, height / 180) };
    const copy = track.clone();
    try {
      const transceiver = pc.addTransceiver(copy, {
        direction: "sendonly", streams: [stream], sendEncodings: [encoding],
      });
      publication.copies.push(copy);
      return transceiver;
    } catch (err) {
      copy.stop();
      console.warn("liveclass: publishing the camera in one layer only", err);
      return null;
    }
  }

  /** Closes `source`'s connection; a publish() still waiting for its answer returns without
   *  applying one. Returns whether there was one. */
  _close(source) {
    const publication = this.pubs.get(source);
    if (!publication) return false;
    this.pubs.delete(source);
    publication.pc.close();
    for (const copy of publication.copies) copy.stop();  // the low layer's copy is ours
    if (publication.waiter) publication.waiter.resolve(null);
    return true;
  }

  /** Drops our connections and publishes again what we published. Asked for while one
   *  runs (a welcome while an ICE failure's is still gathering), it runs once more after it;
   *  what cannot be published now (the socket is down) is published by the next one, which
   *  the next welcome brings. */
  async _startOver(reason, tellSfu) {
    if (this.restarting) {
      // What the running one is publishing may be waiting for an answer that will never
      // come (the server that had its offer is gone): stop it, and publish it anew after.
      this.restartAgain = { reason, tellSfu: Boolean(this.restartAgain?.tellSfu) || tellSfu };
      for (const [source, p] of [...this.pubs]) {
        this.unsent.set(source, p.stream);
        this._close(source);
      }
      return;
    }
    this.restarting = true;
    try {
      for (let next = { reason, tellSfu }; next; next = this.restartAgain) {
        this.restartAgain = null;
        await this._startOverOnce(next.reason, next.tellSfu);
      }
    } finally {
      this.restarting = false;
    }
  }

  async _startOverOnce(reason, tellSfu) {
    if (this.sub) { this.sub.close(); this.sub = null; }
    this.subConnection = null;
    const published = new Map(this.unsent);
    for (const [source, p] of this.pubs) published.set(source, p.stream);
    this.unsent.clear();
    for (const source of published.keys()) this._close(source);
    this.emit("restart", { reason });
    if (tellSfu) {
      try { this.client.send({ type: "signal", to: "sfu", kind: "restart" }); } catch (err) { /* reconnecting */ }
    }
    for (const [source, stream] of published) {
      if (this.restartAgain) {  // started over again meanwhile: that one publishes it
        this.unsent.set(source, stream);
        continue;
      }
      try {
        await this.publish(stream, { source });
      } catch (err) {
        if (err?.code === "disconnected" && !this.pubs.has(source)) this.unsent.set(source, stream);
        console.error(`liveclass: republishing the ${source} failed`, err);
      }
    }
  }

  /** Closes every peer connection. */
  close() {
    for (const off of this.offs) off();
    this.offs = [];
    this.unsent.clear();
    if (this.sub) { this.sub.close(); this.sub = null; }
    for (const source of [...this.pubs.keys()]) this._close(source);
  }
}
