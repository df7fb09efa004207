package main

import (
	"math"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestWindowsLeaveOutALongStepsFirstSecond(t *testing.T) {
	got := makeWindows([]stepConfig{{Rate: 20, Seconds: 6}, {Rate: 4, Seconds: 2}, {Rate: 1, Seconds: 0.5}})
	want := []window{{0, 6, 1, 6}, {6, 8, 6, 8}, {8, 8.5, 8, 9}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("windows %v, want %v", got, want)
	}
}

func TestScheduleSpreadsMessagesOverSendersAtQuarterOffsets(t *testing.T) {
	steps := []stepConfig{{Rate: 4, Seconds: 1}, {Rate: 2, Seconds: 1}}
	plan := schedule(steps, makeWindows(steps), 3)
	want := []planned{
		{62.5, 0, 0}, {312.5, 0, 1}, {562.5, 0, 2}, {812.5, 0, 0},
		{1125, 1, 0}, {1625, 1, 1},
	}
	if !reflect.DeepEqual(plan, want) {
		t.Fatalf("plan %v, want %v", plan, want)
	}
	cfg := &config{URLs: make([]string, 10), Steps: steps, SenderRate: 1.5}
	if n := sendersFor(cfg); n != 3 {
		t.Fatalf("senders %d, want ceil(4 / 1.5) = 3", n)
	}
}

func TestPercentileIsTheNearestRank(t *testing.T) {
	xs := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	if p := percentile(xs, 50); p != 5.0 {
		t.Fatalf("p50 %v", p)
	}
	if p := percentile(xs, 99); p != 10.0 {
		t.Fatalf("p99 %v", p)
	}
	if p := percentile(nil, 50); p != nil {
		t.Fatalf("p50 of nothing %v", p)
	}
	if r := round(math.NaN(), 1); r != nil {
		t.Fatalf("round(NaN) %v", r)
	}
}

func TestScanChatCountsEveryMarkedMessageOfOursOnce(t *testing.T) {
	steps := []stepConfig{{Rate: 1, Seconds: 1}}
	r := &run{
		cfg: &config{Dialect: "liveclass"}, windows: makeWindows(steps), t0: 0,
		sentAt: make([]int64, 4), sentStep: []int32{0, 0, 0, -1}, received: make([]uint32, 4),
		firstAt: []int64{math.MaxInt64, math.MaxInt64, math.MaxInt64, math.MaxInt64}, lastAt: make([]int64, 4),
	}
	r.nextID.Store(3)
	r.sentAt[1] = 100e6 // ms 100
	c := &client{run: r, latencies: make([][]float64, 1)}
	frame := []byte(`[{"type":"chat","text":"~M1~ xx"},{"type":"chat","text":"~M2~"},` +
		`{"type":"chat","text":"~M7~ not sent"},{"type":"chat","text":"~M12"}]`)
	c.scanChat(frame, 150)
	if got := r.received[:4]; !reflect.DeepEqual(got, []uint32{0, 1, 1, 0}) {
		t.Fatalf("received %v", got)
	}
	if got := c.latencies[0]; len(got) != 2 || got[0] != 50 {
		t.Fatalf("latencies %v", got)
	}
	c.scanChat([]byte(`{"type":"chat","text":"~M1~"}`), 154)
	if first, last := r.firstAt[1], r.lastAt[1]; first != 150e6 || last != 154e6 {
		t.Fatalf("message 1 delivered first at %d, last at %d ns", first, last)
	}
}

func TestReadConfigRefusesAnUnknownDialect(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.json")
	good := `{"dialect":"socketio","urls":["ws://x/socket.io/?EIO=4"],"steps":[{"rate":2,"seconds":3}],` +
		`"textBytes":64,"senderRate":2,"settle":1,"drain":3,"joinTimeout":60}`
	if err := os.WriteFile(path, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := readConfig(path)
	if err != nil || cfg.Steps[0] != (stepConfig{2, 3}) || cfg.TextBytes != 64 || cfg.JoinTimeout != 60 {
		t.Fatalf("config %+v, %v", cfg, err)
	}
	if err := os.WriteFile(path, []byte(`{"dialect":"mqtt","urls":["x"],"senderRate":1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := readConfig(path); err == nil {
		t.Fatal("an unknown dialect was read")
	}
}
