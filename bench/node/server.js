// The Node socket.io baseline of liveclass-bench: rooms joined from the handshake query,
// chat broadcast to the whole room with io.to(room).emit. It speaks the bench's adapter
// protocol (see bench/README.md): events "welcome", "chat" and "leave", whose payloads have
// the same shape as liveclass's messages.
//
// usage: node server.js PORT
"use strict";
const { createServer } = require("http");
const { Server } = require("socket.io");

const port = Number(process.argv[2] || 8100);
const httpServer = createServer();
const io = new Server(httpServer, {
  transports: ["websocket"],
  perMessageDeflate: false,
  httpCompression: false,
  serveClient: false,
});
const seqs = new Map();

io.on("connection", (socket) => {
  const query = socket.handshake.query;
  const room = String(query.room || "room");
  const user = String(query.user || socket.id);
  socket.join(room);
  socket.emit("welcome", {
    type: "welcome",
    participant: { id: user },
    seq: seqs.get(room) || 0,
    resumed: false,
  });
  socket.on("chat", (message) => {
    const seq = (seqs.get(room) || 0) + 1;
    seqs.set(room, seq);
    const text = message && typeof message.text === "string" ? message.text : "";
    io.to(room).emit("chat", { type: "chat", seq, from: { id: user }, text });
  });
  socket.on("leave", () => socket.disconnect(true));
});

httpServer.listen({ port, host: "127.0.0.1", backlog: 2048 }, () => {
  console.log(`READY ${port}`);
});
process.on("SIGTERM", () => {
  io.close();
  process.exit(0);
});
