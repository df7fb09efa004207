package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
)

var mark = []byte("~M")

// one WebSocket client; its connection is read by a goroutine of its own, written by the
// scheduler (chat) and, for socket.io, by the reader too (pongs): writes take writeMu
type client struct {
	run        *run
	index      int
	url        string
	conn       *websocket.Conn
	writeMu    sync.Mutex
	welcomed   atomic.Bool
	closing    atomic.Bool
	started    float64 // ms: the dial began
	welcomedAt float64
	onWelcome  func()
	// per window: latencies (ms), merged after the run
	latMu     sync.Mutex
	latencies [][]float64
}

func (c *client) socketIO() bool { return c.run.cfg.Dialect == "socketio" }

// connect dials and then reads until the connection ends; onWelcome is called once
func (c *client) connect(onWelcome func()) {
	c.onWelcome = onWelcome
	dialer := websocket.Dialer{
		HandshakeTimeout:  time.Duration(c.run.cfg.JoinTimeout * float64(time.Second)),
		EnableCompression: false,
	}
	if c.run.cfg.Dialect == "liveclass" {
		dialer.Subprotocols = []string{"liveclass.v1.json"}
	}
	conn, resp, err := dialer.Dial(c.url, nil)
	if err != nil {
		if resp != nil {
			c.run.count(c.run.errors, fmt.Sprintf("join:http-%d", resp.StatusCode))
		} else {
			c.run.count(c.run.errors, "join:"+errorName(err))
		}
		return
	}
	conn.SetReadLimit(16 << 20)
	c.conn = conn
	c.read()
}

// errorName is the errno's name where there is one (ECONNREFUSED...), as Node reports it
func errorName(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errnoNames[errno]
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return "timeout"
	}
	return err.Error()
}

var errnoNames = map[syscall.Errno]string{
	syscall.ECONNREFUSED: "ECONNREFUSED", syscall.ECONNRESET: "ECONNRESET",
	syscall.ETIMEDOUT: "ETIMEDOUT", syscall.EPIPE: "EPIPE", syscall.EADDRNOTAVAIL: "EADDRNOTAVAIL",
	syscall.EMFILE: "EMFILE",
}

func (c *client) read() {
	for {
		_, data, err := c.conn.ReadMessage()
		now := c.run.now() // right after the read returns, before any decoding
		if err != nil {
			if !c.closing.Load() && !c.run.finishing.Load() {
				code := "1006"
				var closeErr *websocket.CloseError
				if errors.As(err, &closeErr) {
					code = fmt.Sprint(closeErr.Code)
				}
				c.run.count(c.run.closes, code)
			}
			return
		}
		if c.socketIO() {
			c.onEngineIO(data, now)
		} else {
			c.onFrame(data, now)
		}
	}
}

// onFrame handles one frame of the liveclass or plain dialect (a message or an array of them)
func (c *client) onFrame(data []byte, now float64) {
	if c.welcomed.Load() {
		c.scanChat(data, now) // the hot path: no decoding unless the frame holds an error
		if bytes.Contains(data, []byte(`"error"`)) {
			c.decode(data, now)
		}
		return
	}
	c.decode(data, now)
	if c.welcomed.Load() { // a frame holding the welcome may hold chat too (liveclass batches)
		c.scanChat(data, now)
	}
}

type message struct {
	Type string `json:"type"`
	Code any    `json:"code"`
}

func (c *client) decode(data []byte, now float64) {
	var messages []message
	trimmed := bytes.TrimSpace(data)
	var err error
	if len(trimmed) > 0 && trimmed[0] == '[' {
		err = json.Unmarshal(trimmed, &messages)
	} else {
		var m message
		err = json.Unmarshal(trimmed, &m)
		messages = []message{m}
	}
	if err != nil {
		c.run.count(c.run.errors, "frame:unreadable")
		return
	}
	for _, m := range messages {
		switch m.Type {
		case "welcome":
			c.welcome(now)
		case "error":
			c.run.count(c.run.errors, fmt.Sprintf("error:%v", m.Code))
		}
	}
}

// onEngineIO handles one Engine.IO v4 packet (the WebSocket transport: one packet a frame)
func (c *client) onEngineIO(data []byte, now float64) {
	if len(data) == 0 {
		return
	}
	switch data[0] {
	case '0': // open: ask for the default namespace
		c.write("40")
	case '2': // ping
		c.write("3")
	case '1': // close
		return
	case '4': // a socket.io packet
		c.onSocketIO(data[1:], now)
	}
}

func (c *client) onSocketIO(packet []byte, now float64) {
	if len(packet) == 0 {
		return
	}
	switch packet[0] {
	case '0': // connected to the namespace; the server's welcome event follows
	case '1':
		if !c.closing.Load() && !c.run.finishing.Load() {
			c.run.count(c.run.closes, "io server disconnect")
		}
	case '4':
		c.run.count(c.run.errors, "join:"+string(packet[1:]))
	case '2': // an event: ["name", payload]
		body := packet[1:]
		if bytes.HasPrefix(body, []byte(`["chat"`)) {
			if c.welcomed.Load() {
				c.scanChat(body, now)
			}
		} else if bytes.HasPrefix(body, []byte(`["welcome"`)) {
			c.welcome(now)
		}
	}
}

// scanChat counts every "~M<id>~" in a frame as one delivered chat message
func (c *client) scanChat(data []byte, now float64) {
	i := bytes.Index(data, mark)
	if i < 0 {
		return
	}
	r := c.run
	next := r.nextID.Load() // before t0 is read: the load's start happens before any id
	w := -1
	if next > 0 {
		w = r.windowOf((now - r.t0) / 1000)
	}
	c.latMu.Lock()
	defer c.latMu.Unlock()
	for i >= 0 {
		j := i + 2
		id := int64(0)
		for j < len(data) && data[j] >= '0' && data[j] <= '9' {
			id = id*10 + int64(data[j]-'0')
			j++
		}
		if j > i+2 && j < len(data) && data[j] == '~' && id < next {
			atomic.AddUint32(&r.received[id], 1)
			r.spread(id, int64(now*1e6))
			if w >= 0 {
				c.latencies[w] = append(c.latencies[w], now-float64(r.sentAt[id])/1e6)
			}
		}
		k := bytes.Index(data[j:], mark)
		if k < 0 {
			break
		}
		i = j + k
	}
}

// spread widens message id's [first, last] delivery to include at (ns)
func (r *run) spread(id int64, at int64) {
	for first := atomic.LoadInt64(&r.firstAt[id]); at < first; first = atomic.LoadInt64(&r.firstAt[id]) {
		if atomic.CompareAndSwapInt64(&r.firstAt[id], first, at) {
			break
		}
	}
	for last := atomic.LoadInt64(&r.lastAt[id]); at > last; last = atomic.LoadInt64(&r.lastAt[id]) {
		if atomic.CompareAndSwapInt64(&r.lastAt[id], last, at) {
			break
		}
	}
}

func (c *client) welcome(now float64) {
	if c.welcomed.Load() {
		return
	}
	c.welcomedAt = now
	c.welcomed.Store(true)
	c.onWelcome()
}

func (c *client) write(text string) bool {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	return c.conn.WriteMessage(websocket.TextMessage, []byte(text)) == nil
}

// send one chat message; false when this client has not joined or the write failed
func (c *client) send(text string) bool {
	if !c.welcomed.Load() {
		return false
	}
	payload, _ := json.Marshal(map[string]string{"type": "chat", "text": text})
	if c.socketIO() {
		return c.write(`42["chat",` + string(payload) + `]`)
	}
	return c.write(string(payload))
}

func (c *client) close() {
	c.closing.Store(true)
	if c.conn == nil {
		return
	}
	if c.socketIO() {
		c.write("41")
	}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	deadline := time.Now().Add(time.Second)
	msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
	_ = c.conn.WriteControl(websocket.CloseMessage, msg, deadline)
}

// joinStorm connects every client at once; returns how many were welcomed within the timeout
func joinStorm(r *run, clients []*client) int {
	all := make(chan struct{})
	var welcomed atomic.Int64
	n := int64(len(clients))
	for _, c := range clients {
		c.latencies = make([][]float64, len(r.windows))
		c.started = r.now()
		go c.connect(func() {
			if welcomed.Add(1) == n {
				close(all)
			}
		})
	}
	select {
	case <-all:
	case <-time.After(time.Duration(r.cfg.JoinTimeout * float64(time.Second))):
	}
	count := 0
	for _, c := range clients {
		if c.welcomed.Load() {
			count++
		}
	}
	return count
}
