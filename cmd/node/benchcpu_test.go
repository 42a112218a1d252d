package main

import (
	"bufio"
	"math"
	"strings"
	"testing"
)

func TestParseCPUSeconds(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		want       float64 // NaN: none
	}{
		{"present", "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total 12.34\n", 12.34},
		{"with a timestamp", "process_cpu_seconds_total 7 1700000000000\n", 7},
		{"among others", "go_goroutines 12\nprocess_cpu_seconds_total 0.5\nprocess_max_fds 1024\n", 0.5},
		{"a longer name only", "process_cpu_seconds_total_extra 3\n", math.NaN()},
		{"absent", "go_goroutines 12\n", math.NaN()},
		{"empty", "", math.NaN()},
		{"no value", "process_cpu_seconds_total \n", math.NaN()},
		{"not a number", "process_cpu_seconds_total twelve\n", math.NaN()},
		{"negative", "process_cpu_seconds_total -1\n", math.NaN()},
		{"NaN", "process_cpu_seconds_total NaN\n", math.NaN()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := parseCPUSeconds(bufio.NewScanner(strings.NewReader(tc.text)))
			if math.IsNaN(tc.want) != math.IsNaN(got) || (!math.IsNaN(got) && got != tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func FuzzParseCPUSeconds(f *testing.F) {
	f.Add("process_cpu_seconds_total 12.34\n")
	f.Add("process_cpu_seconds_total 1e999\n")
	f.Add("process_cpu_seconds_total +Inf\n")
	f.Fuzz(func(t *testing.T, text string) {
		got := parseCPUSeconds(bufio.NewScanner(strings.NewReader(text)))
		if !math.IsNaN(got) && (got < 0 || math.IsInf(got, 0)) {
			t.Fatalf("%q: %v, want a finite count of seconds or NaN", text, got)
		}
	})
}

func TestCPUPerInstruction(t *testing.T) {
	nan := math.NaN()
	addrs := []string{"http://127.0.0.1:8081", "http://127.0.0.1:8082", "https://127.0.0.1:8083"}
	for _, tc := range []struct {
		name          string
		leader        string
		before, after cpuSample
		instructions  int64
		want          string
	}{
		{
			name:   "every node known",
			leader: "http://127.0.0.1:8082",
			before: cpuSample{nodes: []float64{1, 2, 3}, generator: 0.5},
			after:  cpuSample{nodes: []float64{1.25, 3, 3.25}, generator: 0.75},
			// 0.25 s, 1 s, 0.25 s and 0.25 s over 10,000 instructions
			instructions: 10_000,
			want:         "cpu_us_per_instr: 127.0.0.1:8081=25.0 127.0.0.1:8082=100.0(leader) 127.0.0.1:8083=25.0 generator=25.0 total=175.0",
		},
		{
			name:         "a node unread, the generator unknown",
			before:       cpuSample{nodes: []float64{1, nan, 3}, generator: nan},
			after:        cpuSample{nodes: []float64{2, 5, 4}, generator: nan},
			instructions: 100_000,
			want:         "cpu_us_per_instr: 127.0.0.1:8081=10.0 127.0.0.1:8082=unknown 127.0.0.1:8083=10.0 generator=unknown total=20.0",
		},
		{
			name:         "a counter that went back (a restarted node)",
			before:       cpuSample{nodes: []float64{5, 1, 1}, generator: 1},
			after:        cpuSample{nodes: []float64{1, 2, 2}, generator: 2},
			instructions: 1_000_000,
			want:         "cpu_us_per_instr: 127.0.0.1:8081=unknown 127.0.0.1:8082=1.0 127.0.0.1:8083=1.0 generator=1.0 total=3.0",
		},
		{
			name:         "no instructions",
			before:       cpuSample{nodes: []float64{1, 1, 1}, generator: 1},
			after:        cpuSample{nodes: []float64{2, 2, 2}, generator: 2},
			instructions: 0,
			want:         "cpu_us_per_instr: 127.0.0.1:8081=unknown 127.0.0.1:8082=unknown 127.0.0.1:8083=unknown generator=unknown",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := newCPUPerInstruction(addrs, tc.leader, tc.before, tc.after, tc.instructions).String()
			if got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}
