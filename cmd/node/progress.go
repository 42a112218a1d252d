package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// progress reports how far a long command is: a bar with rate and ETA,
// redrawn in place on a terminal, and a plain line per step otherwise, so a
// log file gets no carriage returns.
type progress struct {
	w     io.Writer
	tty   bool
	total int
	n     int
	start time.Time
}

func newProgress(w io.Writer, total int) *progress {
	return &progress{w: w, tty: isTerminal(w), total: total, start: time.Now()}
}

// isTerminal reports whether w is a character device.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// barWidth is the bar's width in characters.
const barWidth = 30

func (p *progress) add(n int) {
	p.n += n
	elapsed := time.Since(p.start)
	rate := 0.0
	if elapsed > 0 {
		rate = float64(p.n) / elapsed.Seconds()
	}
	eta := "?"
	if rate > 0 {
		eta = (time.Duration(float64(p.total-p.n)/rate) * time.Second).Round(time.Second).String()
	}
	pct := 100 * p.n / max(p.total, 1)
	if p.tty {
		fill := barWidth * p.n / max(p.total, 1)
		fmt.Fprintf(p.w, "\r[%s%s] %3d%% %d/%d  %.0f/s  ETA %s ", strings.Repeat("=", fill), strings.Repeat(" ", barWidth-fill), pct, p.n, p.total, rate, eta)
		return
	}
	fmt.Fprintf(p.w, "progress %d/%d (%d%%) %.0f/s eta %s\n", p.n, p.total, pct, rate, eta)
}

func (p *progress) done() {
	if p.tty {
		fmt.Fprintln(p.w)
	}
}
