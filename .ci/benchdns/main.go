// Command benchdns is the load generator of .ci/bench-dns: it sends DNS
// queries over UDP to one server as fast as the server answers, keeping
// -inflight queries outstanding on each of -sockets sockets (like dnsperf;
// sent and read in batches with sendmmsg/recvmmsg),
// for -for, and prints the queries answered per second and per response
// code, plus the server's CPU seconds over the run when -pids names the
// server's processes (their utime+stime from /proc, children included).
//
// The query mix: www A (answer), nope A (NXDOMAIN), apex MX (answer with
// additional records), www TXT (NODATA), chain A (a CNAME chain), in turn.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/net/ipv4"
)

var (
	name     = flag.String("name", "server", "label for the output")
	server   = flag.String("server", "127.0.0.1:53", "the server's UDP address")
	zone     = flag.String("zone", "innovatetech.test.", "the zone")
	sockets  = flag.Int("sockets", 4, "UDP sockets (one sender and one reader each)")
	inflight = flag.Int("inflight", 32, "queries outstanding per socket")
	dur      = flag.Duration("for", 10*time.Second, "how long to send")
	pids     = flag.String("pids", "", "comma-separated server process ids whose CPU time is measured")
)

func main() {
	flag.Parse()
	qs := queries()
	var answered, lost atomic.Int64
	var rcodes [24]atomic.Int64
	cpu0 := cpuTicks()
	start := time.Now()
	deadline := start.Add(*dur)
	var wg sync.WaitGroup
	for s := range *sockets {
		c, err := net.Dial("udp", *server)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			// One goroutine per socket: send what the window allows with one
			// sendmmsg, read what came with one recvmmsg (a closed loop, as
			// dnsperf; batched so the client is not the bottleneck).
			p := ipv4.NewPacketConn(c.(*net.UDPConn))
			out := make([]ipv4.Message, *inflight)
			for i := range out {
				out[i].Buffers = [][]byte{make([]byte, 0, 512)}
			}
			in := make([]ipv4.Message, *inflight)
			for i := range in {
				in[i].Buffers = [][]byte{make([]byte, 4096)}
			}
			outstanding, seq := 0, s
			for time.Now().Before(deadline) {
				k := *inflight - outstanding
				for i := range out[:k] {
					b := append(out[i].Buffers[0][:0], qs[seq%len(qs)]...)
					b[0], b[1] = byte(seq>>8), byte(seq)
					out[i].Buffers[0] = b
					seq++
				}
				for sent := 0; sent < k; {
					n, err := p.WriteBatch(out[sent:k], 0)
					if err != nil {
						fmt.Fprintln(os.Stderr, "benchdns: send:", err)
						os.Exit(1)
					}
					sent += n
				}
				outstanding += k
				c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
				n, err := p.ReadBatch(in, 0)
				if err != nil { // a timeout: the outstanding queries are lost
					lost.Add(int64(outstanding))
					outstanding = 0
					continue
				}
				for _, m := range in[:n] {
					if m.N >= 4 {
						rcodes[m.Buffers[0][3]&0xf].Add(1)
					}
				}
				answered.Add(int64(n))
				outstanding -= n
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	cpu := float64(cpuTicks()-cpu0) / 100 // USER_HZ
	var rc []string
	for i := range rcodes {
		if n := rcodes[i].Load(); n > 0 {
			rc = append(rc, fmt.Sprintf("%s=%d", dns.RcodeToString[i], n))
		}
	}
	a := float64(answered.Load())
	fmt.Printf("%-8s %9.0f queries/s answered (%d in %.1fs, lost %d; %s)", *name, a/elapsed, answered.Load(), elapsed, lost.Load(), strings.Join(rc, " "))
	if *pids != "" {
		fmt.Printf("; server CPU %.2fs = %.0f%% of a core; %.0f queries per CPU-second", cpu, 100*cpu/elapsed, a/cpu)
	}
	fmt.Println()
}

// queries packs the query mix (ids are set per send).
func queries() [][]byte {
	var out [][]byte
	for _, q := range []struct {
		name  string
		qtype uint16
	}{{"www", dns.TypeA}, {"nope", dns.TypeA}, {"@", dns.TypeMX}, {"www", dns.TypeTXT}, {"chain", dns.TypeA}} {
		n := q.name + "." + *zone
		if q.name == "@" {
			n = *zone
		}
		m := new(dns.Msg)
		m.SetQuestion(n, q.qtype)
		m.RecursionDesired = false
		m.SetEdns0(1232, false)
		b, err := m.Pack()
		if err != nil {
			panic(err)
		}
		out = append(out, b)
	}
	return out
}

// cpuTicks sums utime+stime (clock ticks) of -pids and their threads.
func cpuTicks() int64 {
	var total int64
	if *pids == "" {
		return 0
	}
	for _, p := range strings.Split(*pids, ",") {
		data, err := os.ReadFile("/proc/" + strings.TrimSpace(p) + "/stat")
		if err != nil {
			fmt.Fprintln(os.Stderr, "benchdns:", err)
			continue
		}
		s := string(data)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		// fields after ")": state(0) ... utime(11) stime(12)
		u, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		total += u + st
	}
	return total
}
