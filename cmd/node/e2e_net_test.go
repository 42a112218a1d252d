//go:build unix

package main_test

import (
	"net"
	"sync"
	"testing"
)

// e2eNet stands between the nodes' raft ports the way a network does, so a
// test can cut real processes apart without root or firewall rules. Node i
// listens on binds[i] (its raft_bind) and advertises proxy i's address (its
// raft_addr), so every connection to node i passes through proxy i. A node
// dials from the host it listens on, one loopback host per node, so the
// source of a connection names the node that opened it.
//
// A cut is a blackhole, the harder kind of partition: nothing is refused or
// reset, bytes just stop arriving, and raft must notice by its own timeouts.
// Cuts are one-way (bytes from a to b), so a test can also make a node that
// is heard but hears nothing. A connection that dropped bytes carries nothing
// more; healing closes it (its stream has gaps, as a TCP timeout would end
// it in the end) and lets new ones through.
type e2eNet struct {
	hosts   []string // node i dials from hosts[i]
	binds   []string // node i listens on binds[i]
	proxies []net.Listener

	mu    sync.Mutex      // guards the fields below
	cut   map[[2]int]bool // {a, b}: bytes from node a to node b are dropped
	conns map[*proxyConn]bool
	done  bool // set by close: no connection is taken after it
	wg    sync.WaitGroup
}

// proxyConn is one connection through proxy `to`, opened by node `from` (-1:
// not a node). broken is set once it dropped bytes; it never carries bytes
// again and closes when the cut heals.
type proxyConn struct {
	from, to int
	in       net.Conn
	broken   bool // guarded by e2eNet.mu

	mu     sync.Mutex // guards the fields below
	out    net.Conn   // nil until dialled
	closed bool
}

// connect records out, or closes it if pc closed meanwhile.
func (pc *proxyConn) connect(out net.Conn) bool {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if pc.closed {
		out.Close()
		return false
	}
	pc.out = out
	return true
}

func (pc *proxyConn) close() {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if pc.closed {
		return
	}
	pc.closed = true
	pc.in.Close()
	if pc.out != nil {
		pc.out.Close()
	}
}

// newNet starts one proxy per node on 127.0.0.1 and returns the net; binds
// are the nodes' listening addresses. It skips the test where the nodes
// cannot have hosts of their own (freeAddrs fell back to 127.0.0.1).
func newNet(t testing.TB, binds []string) *e2eNet {
	t.Helper()
	n := &e2eNet{binds: binds, cut: map[[2]int]bool{}, conns: map[*proxyConn]bool{}}
	seen := map[string]bool{}
	for _, b := range binds {
		host, _, err := net.SplitHostPort(b)
		if err != nil {
			t.Fatal(err)
		}
		if seen[host] {
			t.Skip("e2e: partitions need one loopback host per node")
		}
		seen[host] = true
		n.hosts = append(n.hosts, host)
	}
	for i := range binds {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		n.proxies = append(n.proxies, ln)
		n.wg.Go(func() { n.accept(i, ln) })
	}
	t.Cleanup(n.close)
	return n
}

// addr is the address node i advertises: its proxy's.
func (n *e2eNet) addr(i int) string { return n.proxies[i].Addr().String() }

func (n *e2eNet) close() {
	for _, ln := range n.proxies {
		ln.Close()
	}
	n.mu.Lock()
	n.done = true
	for pc := range n.conns {
		pc.close()
	}
	n.mu.Unlock()
	n.wg.Wait()
}

// node returns the index of the node that dials from addr's host, or -1.
func (n *e2eNet) node(addr net.Addr) int {
	if a, ok := addr.(*net.TCPAddr); ok {
		for i, h := range n.hosts {
			if a.IP.String() == h {
				return i
			}
		}
	}
	return -1
}

// dropped reports whether bytes from node a to node b are dropped.
func (n *e2eNet) dropped(a, b int) bool { return n.cut[[2]int{a, b}] }

// isolate cuts node i off from every other node, both ways.
func (n *e2eNet) isolate(i int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for j := range n.binds {
		if j != i {
			n.cut[[2]int{i, j}], n.cut[[2]int{j, i}] = true, true
		}
	}
}

// deafen drops everything other nodes send to node i, requests and answers
// alike; what i sends still arrives. It is the asymmetric partition that
// lets a node disrupt the others with elections they cannot answer.
func (n *e2eNet) deafen(i int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for j := range n.binds {
		if j != i {
			n.cut[[2]int{j, i}] = true
		}
	}
}

// heal joins every node again and closes the connections that lost bytes.
func (n *e2eNet) heal() {
	n.mu.Lock()
	defer n.mu.Unlock()
	clear(n.cut)
	for pc := range n.conns {
		if pc.broken {
			pc.close()
			delete(n.conns, pc)
		}
	}
}

func (n *e2eNet) accept(to int, ln net.Listener) {
	for {
		in, err := ln.Accept()
		if err != nil {
			return // closed by close
		}
		pc := &proxyConn{from: n.node(in.RemoteAddr()), to: to, in: in}
		n.mu.Lock()
		if n.done {
			n.mu.Unlock()
			in.Close()
			return
		}
		n.conns[pc] = true
		n.mu.Unlock()
		out, err := net.Dial("tcp", n.binds[to])
		if err != nil {
			pc.close()
			n.forget(pc)
			continue
		}
		if !pc.connect(out) {
			continue
		}
		n.wg.Go(func() { n.pipe(pc, in, out, pc.from, pc.to) })
		n.wg.Go(func() { n.pipe(pc, out, in, pc.to, pc.from) })
	}
}

// pipe copies src to dst, the bytes node a sends node b, and drops them
// while that direction is cut; once it dropped any, the connection carries
// nothing more either way until heal closes it. It ends, closing both
// sides, when either side fails.
func (n *e2eNet) pipe(pc *proxyConn, src, dst net.Conn, a, b int) {
	defer n.forget(pc)
	defer pc.close()
	buf := make([]byte, 32<<10)
	for {
		k, err := src.Read(buf)
		if k > 0 {
			n.mu.Lock()
			if n.dropped(a, b) {
				pc.broken = true
			}
			drop := pc.broken
			n.mu.Unlock()
			if !drop {
				if _, werr := dst.Write(buf[:k]); werr != nil {
					return
				}
			}
		}
		if err != nil {
			return // EOF, a reset from a killed node, or closed by heal
		}
	}
}

func (n *e2eNet) forget(pc *proxyConn) {
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.conns, pc)
}
