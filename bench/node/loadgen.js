// An independent load generator for liveclass-bench's `crosscheck`: the `class` scenario's chat
// load from Node (the `ws` client for liveclass's JSON subprotocol and the plain dialect,
// socket.io-client for socket.io), sharing no code with the Python load generator.
//
// usage: node loadgen.js CONFIG.json RESULT.json
//
// CONFIG (written by bench/crosscheck.py):
//   dialect      "liveclass" | "plain" | "socketio"
//   urls         one WebSocket URL per client, all in one room (liveclass: with a room token;
//                socketio: http://host:port/?room=R&user=U, socket.io-client adds its path)
//   steps        [{rate, seconds}]: chat messages/s into the room, for so many seconds
//   textBytes    chat text length; senderRate: at most this many messages/s per sender
//   settle       idle seconds between the join storm and the load; drain: at most this long
//                after the last step for messages in flight; joinTimeout: seconds
//
// After a warm-up against an in-process server (warmUp below), every client connects at once
// (the join storm: first attempt to last welcome). Senders are
// clients 0..S-1 with S = ceil(max rate / senderRate); message k of a step goes out at
// start + (k + 0.25) / rate, from sender k mod S, like the Python generator's schedule. A chat
// text is "~M<id>~ xxx…": the id indexes this process's table of send times
// (performance.now(), read just before the send), so a receiver needs no clock in the text and
// every delivery is counted per message (loss, duplicates). A step's figures are those of the
// whole seconds inside it, its first second left out when it lasts more than 2 s (as the Python
// analysis does): deliveries/s by receive time, latency percentiles of those deliveries, this
// process's CPU (process.cpuUsage: every thread of it) and event-loop delay over the same
// seconds. Loss per step is by send time: messages sent in it × joined clients − deliveries.
"use strict";
const fs = require("fs");
const { performance, monitorEventLoopDelay } = require("perf_hooks");
const WebSocket = require("ws");
const { io } = require("socket.io-client");

const config = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const resultPath = process.argv[3];
const MARK = Buffer.from("~M");
const TILDE = 0x7e;
const N = config.urls.length;
const steps = config.steps;
const maxRate = Math.max(0, ...steps.map((s) => s.rate));
const senders = Math.min(N, Math.max(1, Math.ceil(maxRate / config.senderRate)));
const totalMessages = steps.reduce((n, s) => n + Math.ceil(s.rate * s.seconds) + 1, 0);
const sentAt = new Float64Array(totalMessages); // ms, performance.now() at send
const sentStep = new Int16Array(totalMessages).fill(-1);
const received = new Uint32Array(totalMessages);
const errors = {};
const closes = {};
let nextId = 0;
let t0 = Infinity; // performance.now() when the load starts
let finishing = false;

function count(table, key) {
  table[key] = (table[key] || 0) + 1;
}

// --- per-step windows -------------------------------------------------------------------

const windows = steps.map((step, index) => {
  const start = steps.slice(0, index).reduce((t, s) => t + s.seconds, 0);
  const end = start + step.seconds;
  let first = Math.ceil(start) + (end - start > 2 ? 1 : 0);
  let last = Math.floor(end);
  if (last <= first) {
    first = Math.floor(start);
    last = Math.max(first + 1, Math.ceil(end));
  }
  return { start, end, first, last, latencies: [], deliveries: 0, sent: 0 };
});

function windowOf(relSeconds) {
  for (const w of windows) {
    if (relSeconds >= w.first && relSeconds < w.last) return w;
  }
  return null;
}

// --- receiving --------------------------------------------------------------------------

function deliver(id, w, now) {
  if (id >= nextId) return; // not one of ours
  received[id]++;
  if (w !== null) {
    w.deliveries++;
    w.latencies.push(now - sentAt[id]);
  }
}

function onChatFrame(buf, now) {
  // every "~M<id>~" in the frame is one delivered chat message
  let i = buf.indexOf(MARK);
  if (i < 0) return;
  const w = windowOf((now - t0) / 1000);
  while (i >= 0) {
    let j = i + 2;
    let id = 0;
    while (j < buf.length && buf[j] >= 0x30 && buf[j] <= 0x39) {
      id = id * 10 + (buf[j] - 0x30);
      j++;
    }
    if (j > i + 2 && buf[j] === TILDE) deliver(id, w, now);
    i = buf.indexOf(MARK, j);
  }
}

function onChatText(text, now) {
  // socket.io hands over the decoded payload: its text starts with "~M<id>~"
  if (typeof text !== "string" || !text.startsWith("~M")) return;
  const end = text.indexOf("~", 2);
  const id = end > 2 ? Number(text.slice(2, end)) : NaN;
  if (Number.isInteger(id)) deliver(id, windowOf((now - t0) / 1000), now);
}

function messagesOf(buf) {
  const data = JSON.parse(buf.toString("utf8"));
  return Array.isArray(data) ? data : [data];
}

// --- clients ----------------------------------------------------------------------------

class Client {
  constructor(index, url) {
    this.index = index;
    this.url = url;
    this.welcomed = false;
    this.closing = false;
    this.started = 0;
    this.welcomedAt = 0;
  }

  connect(onWelcome) {
    this.started = performance.now();
    this.onWelcome = onWelcome;
    if (config.dialect === "socketio") return this.connectSocketIO();
    const protocols = config.dialect === "liveclass" ? ["liveclass.v1.json"] : undefined;
    const ws = new WebSocket(this.url, protocols, { perMessageDeflate: false, maxPayload: 16 << 20 });
    this.ws = ws;
    ws.on("message", (data) => this.onFrame(data, performance.now())); // a Buffer
    ws.on("error", (err) => {
      if (!this.welcomed) count(errors, `join:${err.code || err.message}`);
    });
    ws.on("unexpected-response", (_req, res) => {
      count(errors, `join:http-${res.statusCode}`);
      ws.terminate();
    });
    ws.on("close", (code) => {
      if (!this.closing && !finishing) count(closes, String(code));
    });
  }

  connectSocketIO() {
    // the bench's socket.io URL: ws://host:port/socket.io/?EIO=4&transport=websocket&room&user
    const parsed = new URL(this.url);
    const query = Object.fromEntries(parsed.searchParams);
    delete query.EIO; // socket.io-client sets these itself
    delete query.transport;
    const socket = io(parsed.origin.replace(/^ws/, "http"), {
      path: parsed.pathname,
      transports: ["websocket"],
      query,
      forceNew: true, // one Engine.IO connection per client (no multiplexing)
      reconnection: false,
      timeout: config.joinTimeout * 1000,
    });
    this.socket = socket;
    socket.on("welcome", () => this.welcome(performance.now()));
    socket.on("chat", (message) => onChatText(message && message.text, performance.now()));
    socket.on("connect_error", (err) => count(errors, `join:${err.message}`));
    socket.on("disconnect", (reason) => {
      if (!this.closing && !finishing) count(closes, reason);
    });
  }

  onFrame(buf, now) {
    if (this.welcomed) {
      // the hot path: no decoding unless the frame holds an error
      onChatFrame(buf, now);
      if (buf.indexOf('"error"') >= 0) this.decode(buf, now);
      return;
    }
    this.decode(buf, now);
    // a frame holding the welcome may hold chat too (liveclass batches a connection's frames)
    if (this.welcomed) onChatFrame(buf, now);
  }

  decode(buf, now) {
    let messages;
    try {
      messages = messagesOf(buf);
    } catch (err) {
      count(errors, "frame:unreadable");
      return;
    }
    for (const m of messages) {
      if (!m || typeof m !== "object") continue;
      if (m.type === "welcome") this.welcome(now);
      else if (m.type === "error") count(errors, `error:${m.code}`);
    }
  }

  welcome(now) {
    if (this.welcomed) return;
    this.welcomed = true;
    this.welcomedAt = now;
    this.onWelcome(this);
  }

  send(text) {
    if (!this.welcomed) return false;
    if (this.socket) {
      this.socket.emit("chat", { type: "chat", text });
      return true;
    }
    if (this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify({ type: "chat", text }));
    return true;
  }

  close() {
    this.closing = true;
    if (this.socket) this.socket.disconnect();
    else if (this.ws) this.ws.close(1000);
  }
}

// --- the run ----------------------------------------------------------------------------

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function joinStorm(clients) {
  return new Promise((resolve) => {
    let welcomed = 0;
    const done = () => resolve();
    const timer = setTimeout(done, config.joinTimeout * 1000);
    for (const c of clients) {
      c.connect(() => {
        welcomed++;
        if (welcomed === clients.length) {
          clearTimeout(timer);
          done();
        }
      });
    }
  });
}

function schedule() {
  // [time (ms after t0), step index, sender] of every message, in order
  const out = [];
  steps.forEach((step, index) => {
    if (step.rate <= 0) return;
    const gap = 1000 / step.rate;
    const w = windows[index];
    for (let k = 0; ; k++) {
      const t = w.start * 1000 + (k + 0.25) * gap;
      if (t >= w.end * 1000) break;
      out.push([t, index, k % senders]);
    }
  });
  return out;
}

function runLoad(clients, plan) {
  const text = (id) => {
    const head = `~M${id}~ `;
    return head + "x".repeat(Math.max(0, config.textBytes - head.length));
  };
  let next = 0;
  let skipped = 0;
  return new Promise((resolve) => {
    const pump = () => {
      const rel = performance.now() - t0;
      while (next < plan.length && plan[next][0] <= rel) {
        const [, step, sender] = plan[next++];
        const id = nextId;
        sentAt[id] = performance.now();
        if (clients[sender].send(text(id))) {
          nextId++;
          sentStep[id] = step;
          windows[step].sent++;
        } else {
          skipped++;
        }
      }
      if (next >= plan.length) resolve(skipped);
      else setTimeout(pump, Math.max(0, plan[next][0] - (performance.now() - t0)));
    };
    setTimeout(pump, Math.max(0, -(performance.now() - t0)));
  });
}

// CPU and event-loop delay at every whole second after t0 (the window boundaries)
function sampler(seconds) {
  const cpu = []; // [second] -> {wall ms, cpu µs}
  const eld = monitorEventLoopDelay({ resolution: 5 });
  const loopP99 = [];
  eld.enable();
  let k = 0;
  let timer = null;
  let finished;
  const done = new Promise((resolve) => (finished = resolve));
  const tick = () => {
    const usage = process.cpuUsage();
    cpu[k] = { wall: performance.now(), cpu: usage.user + usage.system };
    if (k > 0) loopP99[k - 1] = eld.percentile(99) / 1e6;
    eld.reset();
    k++;
    if (k <= seconds) timer = setTimeout(tick, Math.max(0, t0 + k * 1000 - performance.now()));
    else finished();
  };
  timer = setTimeout(tick, Math.max(0, t0 - performance.now()));
  return {
    cpu,
    loopP99,
    done, // resolves after the last second's sample
    stop() {
      clearTimeout(timer);
      eld.disable();
    },
  };
}

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return round(sorted[rank], 3);
}

function round(x, digits) {
  if (x === null || x === undefined || !Number.isFinite(x)) return null;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function stepResults(joined, samples) {
  return windows.map((w, index) => {
    const seconds = w.last - w.first;
    const lat = Float64Array.from(w.latencies).sort();
    let expected = 0;
    let got = 0;
    let duplicates = 0;
    for (let id = 0; id < nextId; id++) {
      if (sentStep[id] !== index) continue;
      expected += joined;
      got += Math.min(received[id], joined);
      duplicates += Math.max(0, received[id] - joined);
    }
    const a = samples.cpu[w.first];
    const b = samples.cpu[w.last];
    const cpuPct = a && b ? (100 * (b.cpu - a.cpu)) / 1000 / (b.wall - a.wall) : null;
    const loop = samples.loopP99.slice(w.first, w.last).filter((x) => x !== undefined);
    return {
      index,
      rate: steps[index].rate,
      seconds: steps[index].seconds,
      measured_seconds: seconds,
      offered_deliveries_per_s: steps[index].rate * N,
      sent: w.sent,
      deliveries: w.deliveries,
      deliveries_per_s: round(w.deliveries / seconds, 1),
      latency_ms: {
        count: lat.length,
        p50: percentile(lat, 50),
        p95: percentile(lat, 95),
        p99: percentile(lat, 99),
        max: lat.length ? round(lat[lat.length - 1], 3) : null,
      },
      expected: expected,
      lost: expected - got,
      duplicates,
      client_cpu_pct: round(cpuPct, 1),
      event_loop_delay_p99_ms: loop.length ? round(Math.max(...loop), 2) : null,
    };
  });
}

// Before the storm, a few clients run their whole path (connect, welcome, chat, close) against
// an in-process server on 127.0.0.1, so the join storm does not also time this process's
// one-time costs (modules loaded and code compiled on first use), which the Python generator's
// processes have paid before their storm. Best effort, at most 5 s.
const WARM_CLIENTS = 5;

async function warmUp() {
  const http = require("http").createServer();
  let server;
  if (config.dialect === "socketio") {
    const { Server } = require("socket.io");
    server = new Server(http, { transports: ["websocket"], serveClient: false });
    server.on("connection", (socket) => {
      socket.emit("welcome", { type: "welcome" });
      socket.on("chat", (message) => socket.emit("chat", message));
    });
  } else {
    server = new WebSocket.Server({ server: http, handleProtocols: (p) => p.values().next().value });
    server.on("connection", (ws) => {
      ws.send(JSON.stringify({ type: "welcome" }));
      ws.on("message", (data) => ws.send(`[${data}]`));
    });
  }
  await new Promise((resolve) => http.listen(0, "127.0.0.1", resolve));
  const port = http.address().port;
  const path = config.dialect === "socketio" ? "/socket.io/?EIO=4&transport=websocket&" : "/?";
  const warm = [];
  for (let i = 0; i < WARM_CLIENTS; i++) {
    warm.push(new Client(-1 - i, `ws://127.0.0.1:${port}${path}room=warm&user=warm${i}`));
  }
  let welcomed = 0;
  await new Promise((resolve) => {
    const timer = setTimeout(resolve, 5000);
    for (const c of warm) {
      c.connect(() => {
        c.send("~M0~ warm-up"); // not one of ours: nextId is 0, nothing is counted
        if (++welcomed === warm.length) {
          clearTimeout(timer);
          setTimeout(resolve, 50);
        }
      });
    }
  });
  for (const c of warm) c.close();
  server.close();
  http.close();
  return welcomed;
}

async function main() {
  const warmed = await warmUp();
  process.stderr.write(`loadgen: ${warmed}/${WARM_CLIENTS} warm-up clients\n`);
  const started = performance.now();
  const clients = config.urls.map((url, i) => new Client(i, url));
  const cpuJoin0 = process.cpuUsage();
  await joinStorm(clients);
  const joinedClients = clients.filter((c) => c.welcomed);
  const joined = joinedClients.length;
  const joinCpu = process.cpuUsage(cpuJoin0);
  const firstAttempt = Math.min(...clients.map((c) => c.started));
  const joinAll = joined ? Math.max(...joinedClients.map((c) => c.welcomedAt)) - firstAttempt : null;
  const joinLat = Float64Array.from(joinedClients.map((c) => c.welcomedAt - c.started)).sort();
  process.stderr.write(`loadgen: ${joined}/${N} joined in ${round(joinAll, 1)} ms\n`);

  await sleep(config.settle * 1000);
  const loadSeconds = steps.reduce((t, s) => t + s.seconds, 0);
  t0 = performance.now() + 300;
  const samples = sampler(Math.ceil(loadSeconds));
  const skipped = await runLoad(clients, schedule()); // a sender that did not join: skipped
  // drain: until every message reached every joined client, or config.drain s after the load
  const drainUntil = t0 + (loadSeconds + config.drain) * 1000;
  const complete = () => {
    for (let id = 0; id < nextId; id++) if (received[id] < joined) return false;
    return true;
  };
  await Promise.race([samples.done, sleep(drainUntil - performance.now())]);
  while (performance.now() < drainUntil && !complete()) await sleep(20);
  samples.stop();
  const stepsOut = stepResults(joined, samples);
  finishing = true;
  for (const c of clients) c.close();

  const result = {
    generator: "node",
    node: process.version,
    ws: require("ws/package.json").version,
    "socket.io-client": require("socket.io-client/package.json").version,
    dialect: config.dialect,
    clients: N,
    senders,
    warm_up_clients: warmed,
    join: {
      planned: N,
      ok: joined,
      failed: N - joined,
      total_s: joinAll === null ? null : round(joinAll / 1000, 3),
      latency_ms: { p50: percentile(joinLat, 50), p99: percentile(joinLat, 99) },
      client_cpu_s: round((joinCpu.user + joinCpu.system) / 1e6, 3),
    },
    steps: stepsOut,
    sent: nextId,
    skipped_sends: skipped,
    deliveries: received.reduce((n, x) => n + x, 0),
    lost: stepsOut.reduce((n, s) => n + s.lost, 0),
    duplicates: stepsOut.reduce((n, s) => n + s.duplicates, 0),
    errors,
    closes,
    duration_s: round((performance.now() - started) / 1000, 2),
  };
  fs.writeFileSync(resultPath, JSON.stringify(result, null, 1));
  await sleep(300); // let the close frames go out
  process.exit(0);
}

main().catch((err) => {
  process.stderr.write(`loadgen: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
