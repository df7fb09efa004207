// A third, independent load generator for liveclass-bench's `crosscheck`: the `class`
// scenario's chat load from Go (gorilla/websocket, Debian's golang-github-gorilla-websocket-dev),
// sharing no code with the Python generator (bench/execute.py) nor the Node one
// (bench/node/loadgen.js). It reads the same CONFIG.json and writes the same RESULT.json shape
// as the Node generator; socket.io is spoken by hand (Engine.IO v4 / socket.io v5 framing over
// a plain WebSocket: "0{...}" open, "40" connect, `42["event",...]` events, "2" ping → "3").
//
// usage: loadgen CONFIG.json RESULT.json
//
// CONFIG (written by bench/crosscheck.py):
//
//	dialect      "liveclass" | "plain" | "socketio"
//	urls         one WebSocket URL per client, all in one room
//	steps        [{rate, seconds}]: chat messages/s into the room, for so many seconds
//	textBytes    chat text length; senderRate: at most this many messages/s per sender
//	settle       idle seconds between the join storm and the load; drain: at most this long
//	             after the last step for messages in flight; joinTimeout: seconds
//
// Every client connects at once (the join storm: first attempt to last welcome); each has a
// goroutine of its own reading its connection. Senders are clients 0..S-1 with
// S = ceil(max rate / senderRate); message k of a step goes out at start + (k + 0.25) / rate
// from sender k mod S, from one scheduling goroutine. A chat text is "~M<id>~ xxx…": the id
// indexes this process's table of send times (monotonic clock, read just before the write),
// read back by the receiver right after its read returns. A step's figures are those of the
// whole seconds inside it (its first left out when it lasts more than 2 s): deliveries/s by
// receive time, latency percentiles, this process's CPU (getrusage RUSAGE_SELF: all threads),
// and two measures of its own scheduling delay: how late a goroutine sleeping 5 ms wakes
// (p99, "event_loop_delay_p99_ms", the analogue of Node's event-loop delay) and how late the
// sends leave against their plan ("send_lag_p99_ms"). Loss per step is by send time: messages
// sent in it × joined clients − deliveries. "fanout_spread_ms": per message sent in a step and
// delivered to every joined client, its last delivery's time minus its first (p50, p99).
package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// set at build time (scripts/ensure-go-tools.sh): the Debian package's version
var gorillaVersion = "unknown"

type stepConfig struct {
	Rate    float64 `json:"rate"`
	Seconds float64 `json:"seconds"`
}

type config struct {
	Dialect     string       `json:"dialect"`
	URLs        []string     `json:"urls"`
	Steps       []stepConfig `json:"steps"`
	TextBytes   int          `json:"textBytes"`
	SenderRate  float64      `json:"senderRate"`
	Settle      float64      `json:"settle"`
	Drain       float64      `json:"drain"`
	JoinTimeout float64      `json:"joinTimeout"`
}

func readConfig(path string) (*config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var c config
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	switch c.Dialect {
	case "liveclass", "plain", "socketio":
	default:
		return nil, fmt.Errorf("unknown dialect %q", c.Dialect)
	}
	if len(c.URLs) == 0 || c.SenderRate <= 0 {
		return nil, fmt.Errorf("a config needs urls and a positive senderRate")
	}
	return &c, nil
}

// the process-wide state the clients' goroutines share
type run struct {
	cfg     *config
	epoch   time.Time // every ms figure is time.Since(epoch)
	t0      float64   // ms when the load starts (math.Inf(1) before)
	windows []window
	// per message id: send time in ns since epoch, step (-1: not sent), deliveries
	sentAt   []int64
	sentStep []int32
	received []uint32
	// per message id: its first and last delivery, ns since epoch (the fan-out's spread)
	firstAt, lastAt []int64
	nextID          atomic.Int64
	finishing       atomic.Bool
	mu              sync.Mutex
	errors          map[string]int
	closes          map[string]int
}

func (r *run) now() float64 { return float64(time.Since(r.epoch).Nanoseconds()) / 1e6 }

func (r *run) count(table map[string]int, key string) {
	r.mu.Lock()
	table[key]++
	r.mu.Unlock()
}

// windowOf is the index of the window whose whole seconds hold relSeconds, or -1
func (r *run) windowOf(relSeconds float64) int {
	for i := range r.windows {
		if relSeconds >= float64(r.windows[i].first) && relSeconds < float64(r.windows[i].last) {
			return i
		}
	}
	return -1
}

func chatText(id int64, size int) string {
	head := fmt.Sprintf("~M%d~ ", id)
	if size > len(head) {
		return head + strings.Repeat("x", size-len(head))
	}
	return head
}

type planned struct {
	at     float64 // ms after t0
	step   int
	sender int
}

// schedule is every message's send time, step and sender, in order
func schedule(steps []stepConfig, windows []window, senders int) []planned {
	var out []planned
	for i, s := range steps {
		if s.Rate <= 0 {
			continue
		}
		gap := 1000 / s.Rate
		for k := 0; ; k++ {
			t := windows[i].start*1000 + (float64(k)+0.25)*gap
			if t >= windows[i].end*1000 {
				break
			}
			out = append(out, planned{t, i, k % senders})
		}
	}
	return out
}

func sendersFor(cfg *config) int {
	maxRate := 0.0
	for _, s := range cfg.Steps {
		maxRate = math.Max(maxRate, s.Rate)
	}
	n := int(math.Ceil(maxRate / cfg.SenderRate))
	return max(1, min(len(cfg.URLs), n))
}

func max(a, b int) int {
	if a > b {
		return a
	}
	return b
}

func min(a, b int) int {
	if a < b {
		return a
	}
	return b
}

func sleepUntil(r *run, ms float64) {
	if d := ms - r.now(); d > 0 {
		time.Sleep(time.Duration(d * 1e6))
	}
}

// runLoad sends the plan; returns the sends skipped (a sender not joined or its write failed)
// and each window's send lag (ms late against the plan)
func runLoad(r *run, clients []*client, plan []planned) (int, [][]float64) {
	lag := make([][]float64, len(r.windows))
	skipped := 0
	for _, p := range plan {
		sleepUntil(r, r.t0+p.at)
		id := r.nextID.Load()
		sent := r.now()
		r.sentAt[id] = int64(sent * 1e6)
		atomic.StoreInt32(&r.sentStep[id], int32(p.step))
		r.nextID.Store(id + 1) // published before the write: a reply may beat the write's return
		if !clients[p.sender].send(chatText(id, r.cfg.TextBytes)) {
			atomic.StoreInt32(&r.sentStep[id], -1)
			skipped++
			continue
		}
		if w := r.windowOf((sent - r.t0) / 1000); w >= 0 {
			lag[w] = append(lag[w], sent-r.t0-p.at)
		}
	}
	return skipped, lag
}

func (r *run) complete(joined int) bool {
	n := r.nextID.Load()
	for id := int64(0); id < n; id++ {
		if atomic.LoadInt32(&r.sentStep[id]) >= 0 && atomic.LoadUint32(&r.received[id]) < uint32(joined) {
			return false
		}
	}
	return true
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: loadgen CONFIG.json RESULT.json")
		os.Exit(2)
	}
	cfg, err := readConfig(os.Args[1])
	if err != nil {
		fmt.Fprintf(os.Stderr, "loadgen: %v\n", err)
		os.Exit(2)
	}
	result := measure(cfg)
	raw, _ := json.MarshalIndent(result, "", " ")
	if err := os.WriteFile(os.Args[2], raw, 0o600); err != nil {
		fmt.Fprintf(os.Stderr, "loadgen: %v\n", err)
		os.Exit(1)
	}
	time.Sleep(300 * time.Millisecond) // let the close frames go out
}

func measure(cfg *config) map[string]any {
	n := len(cfg.URLs)
	total := 0
	for _, s := range cfg.Steps {
		total += int(math.Ceil(s.Rate*s.Seconds)) + 1
	}
	r := &run{
		cfg: cfg, epoch: time.Now(), t0: math.Inf(1), windows: makeWindows(cfg.Steps),
		sentAt: make([]int64, total), sentStep: make([]int32, total),
		received: make([]uint32, total), firstAt: make([]int64, total), lastAt: make([]int64, total),
		errors: map[string]int{}, closes: map[string]int{},
	}
	for i := range r.sentStep {
		r.sentStep[i] = -1
		r.firstAt[i] = math.MaxInt64
	}
	senders := sendersFor(cfg)
	started := r.now()

	clients := make([]*client, n)
	for i, url := range cfg.URLs {
		clients[i] = &client{run: r, index: i, url: url}
	}
	cpuJoin := cpuSeconds()
	joined := joinStorm(r, clients)
	joinCPU := cpuSeconds() - cpuJoin
	firstAttempt, lastWelcome := math.Inf(1), math.Inf(-1)
	var joinLat []float64
	for _, c := range clients {
		firstAttempt = math.Min(firstAttempt, c.started)
		if c.welcomed.Load() {
			lastWelcome = math.Max(lastWelcome, c.welcomedAt)
			joinLat = append(joinLat, c.welcomedAt-c.started)
		}
	}
	var joinAll any
	if joined > 0 {
		joinAll = round((lastWelcome-firstAttempt)/1000, 3)
	}
	fmt.Fprintf(os.Stderr, "loadgen: %d/%d joined in %v s\n", joined, n, joinAll)

	time.Sleep(time.Duration(cfg.Settle * float64(time.Second)))
	loadSeconds := 0.0
	for _, s := range cfg.Steps {
		loadSeconds += s.Seconds
	}
	r.t0 = r.now() + 300
	samples := startSampler(r, int(math.Ceil(loadSeconds)))
	skipped, lag := runLoad(r, clients, schedule(cfg.Steps, r.windows, senders))
	drainUntil := r.t0 + (loadSeconds+cfg.Drain)*1000
	select {
	case <-samples.done:
	case <-time.After(time.Duration((drainUntil - r.now()) * 1e6)):
	}
	for r.now() < drainUntil && !r.complete(joined) {
		time.Sleep(20 * time.Millisecond)
	}
	samples.stop()
	r.finishing.Store(true)
	steps := stepResults(r, clients, joined, samples, lag)
	if path := os.Getenv("LOADGEN_MESSAGES"); path != "" {
		writeMessages(path, r)
	}
	for _, c := range clients {
		c.close()
	}

	sent, deliveries, lost, duplicates := 0, 0, 0, 0
	for id := int64(0); id < r.nextID.Load(); id++ {
		if atomic.LoadInt32(&r.sentStep[id]) >= 0 {
			sent++
		}
		deliveries += int(atomic.LoadUint32(&r.received[id]))
	}
	for _, s := range steps {
		lost += s["lost"].(int)
		duplicates += s["duplicates"].(int)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return map[string]any{
		"generator":         "go",
		"go":                runtime.Version(),
		"gorilla/websocket": gorillaVersion,
		"gomaxprocs":        runtime.GOMAXPROCS(0),
		"dialect":           cfg.Dialect,
		"clients":           n,
		"senders":           senders,
		"warm_up_clients":   0, // compiled ahead of time: no first-use compilation to pay
		"join": map[string]any{
			"planned":      n,
			"ok":           joined,
			"failed":       n - joined,
			"total_s":      joinAll,
			"latency_ms":   map[string]any{"p50": percentile(joinLat, 50), "p99": percentile(joinLat, 99)},
			"client_cpu_s": round(joinCPU, 3),
		},
		"steps":         steps,
		"sent":          sent,
		"skipped_sends": skipped,
		"deliveries":    deliveries,
		"lost":          lost,
		"duplicates":    duplicates,
		"errors":        r.errors,
		"closes":        r.closes,
		"duration_s":    round((r.now()-started)/1000, 2),
	}
}
