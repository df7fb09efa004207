package main

import (
	"fmt"
	"math"
	"os"
	"sort"
	"sync/atomic"
	"syscall"
	"time"
)

// a load step's span (s after t0) and the whole seconds [first, last) measured in it
type window struct {
	start, end  float64
	first, last int
}

// makeWindows: a step's whole seconds, its first left out when it lasts more than 2 s
func makeWindows(steps []stepConfig) []window {
	out := make([]window, len(steps))
	start := 0.0
	for i, s := range steps {
		end := start + s.Seconds
		first := int(math.Ceil(start))
		if end-start > 2 {
			first++
		}
		last := int(math.Floor(end))
		if last <= first {
			first = int(math.Floor(start))
			last = max(first+1, int(math.Ceil(end)))
		}
		out[i] = window{start, end, first, last}
		start = end
	}
	return out
}

// cpuSeconds is this process's user + system CPU so far, every thread of it
func cpuSeconds() float64 {
	var u syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &u); err != nil {
		return math.NaN()
	}
	return float64(u.Utime.Nano()+u.Stime.Nano()) / 1e9
}

type cpuSample struct{ wall, cpu float64 } // ms, s

// samples: CPU at every whole second after t0, and per second the p99 of how late a goroutine
// that sleeps 5 ms at a time wakes (this process's scheduling delay)
type samples struct {
	cpu     []*cpuSample
	delay   [][]float64
	done    chan struct{}
	stopped atomic.Bool
}

func startSampler(r *run, seconds int) *samples {
	s := &samples{
		cpu: make([]*cpuSample, seconds+1), delay: make([][]float64, seconds+1),
		done: make(chan struct{}),
	}
	go func() { // the second marks
		for k := 0; k <= seconds && !s.stopped.Load(); k++ {
			sleepUntil(r, r.t0+float64(k)*1000)
			s.cpu[k] = &cpuSample{r.now(), cpuSeconds()}
		}
		close(s.done)
	}()
	go func() { // the delay probe
		for !s.stopped.Load() {
			before := r.now()
			time.Sleep(5 * time.Millisecond)
			after := r.now()
			if k := int(math.Floor((after - r.t0) / 1000)); k >= 0 && k <= seconds {
				s.delay[k] = append(s.delay[k], after-before-5)
			}
		}
	}()
	return s
}

// stop the probe; the figures are read after this (the second marks are done or abandoned)
func (s *samples) stop() {
	s.stopped.Store(true)
	time.Sleep(20 * time.Millisecond) // the probe's last sleep ends
}

func percentile(sorted []float64, p float64) any {
	if len(sorted) == 0 {
		return nil
	}
	rank := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	rank = min(len(sorted)-1, max(0, rank))
	return round(sorted[rank], 3)
}

func round(x float64, digits int) any {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return nil
	}
	f := math.Pow(10, float64(digits))
	return math.Round(x*f) / f
}

func sorted(xs []float64) []float64 {
	out := append([]float64(nil), xs...)
	sort.Float64s(out)
	return out
}

func stepResults(r *run, clients []*client, joined int, s *samples, lag [][]float64) []map[string]any {
	out := make([]map[string]any, len(r.windows))
	next := r.nextID.Load()
	for index, w := range r.windows {
		var lat []float64
		for _, c := range clients {
			c.latMu.Lock()
			lat = append(lat, c.latencies[index]...)
			c.latMu.Unlock()
		}
		lat = sorted(lat)
		seconds := w.last - w.first
		expected, got, duplicates, sent := 0, 0, 0, 0
		var spread []float64
		for id := int64(0); id < next; id++ {
			if int(atomic.LoadInt32(&r.sentStep[id])) != index {
				continue
			}
			n := int(atomic.LoadUint32(&r.received[id]))
			if n >= joined && joined > 0 {
				first, last := atomic.LoadInt64(&r.firstAt[id]), atomic.LoadInt64(&r.lastAt[id])
				spread = append(spread, float64(last-first)/1e6)
			}
			sent++
			expected += joined
			got += min(n, joined)
			duplicates += max(0, n-joined)
		}
		var cpuPct any
		if w.first < len(s.cpu) && w.last < len(s.cpu) && s.cpu[w.first] != nil && s.cpu[w.last] != nil {
			a, b := s.cpu[w.first], s.cpu[w.last]
			cpuPct = round(100*(b.cpu-a.cpu)*1000/(b.wall-a.wall), 1)
		}
		var delay []float64
		for k := w.first; k < w.last && k < len(s.delay); k++ {
			delay = append(delay, s.delay[k]...)
		}
		var maxLat any
		if len(lat) > 0 {
			maxLat = round(lat[len(lat)-1], 3)
		}
		step := r.cfg.Steps[index]
		out[index] = map[string]any{
			"index":                    index,
			"rate":                     step.Rate,
			"seconds":                  step.Seconds,
			"measured_seconds":         seconds,
			"offered_deliveries_per_s": step.Rate * float64(len(clients)),
			"sent":                     sent,
			"deliveries":               len(lat),
			"deliveries_per_s":         round(float64(len(lat))/float64(seconds), 1),
			"latency_ms": map[string]any{
				"count": len(lat),
				"p50":   percentile(lat, 50),
				"p95":   percentile(lat, 95),
				"p99":   percentile(lat, 99),
				"max":   maxLat,
			},
			"expected":                expected,
			"lost":                    expected - got,
			"duplicates":              duplicates,
			"client_cpu_pct":          cpuPct,
			"event_loop_delay_p99_ms": percentile(sorted(delay), 99),
			"send_lag_p99_ms":         percentile(sorted(lag[index]), 99),
			"fanout_spread_ms": map[string]any{
				"p50": percentile(sorted(spread), 50), "p99": percentile(sorted(spread), 99),
			},
		}
	}
	return out
}

// writeMessages appends one line per message sent to path (LOADGEN_MESSAGES): step, id, and
// the first and last receipt after the send in ms (-1: none), and how many received it; where
// a step's tail comes from (a few slow messages, or every message's last recipients).
func writeMessages(path string, r *run) {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, "LOADGEN_MESSAGES:", err)
		return
	}
	defer f.Close()
	for id := int64(0); id < r.nextID.Load(); id++ {
		step := atomic.LoadInt32(&r.sentStep[id])
		if step < 0 {
			continue
		}
		n := atomic.LoadUint32(&r.received[id])
		first, last := -1.0, -1.0
		if n > 0 {
			first = float64(atomic.LoadInt64(&r.firstAt[id])-r.sentAt[id]) / 1e6
			last = float64(atomic.LoadInt64(&r.lastAt[id])-r.sentAt[id]) / 1e6
		}
		fmt.Fprintf(f, "%d %d %.3f %.3f %d\n", step, id, first, last, n)
	}
}
