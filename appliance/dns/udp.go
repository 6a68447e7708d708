package dns

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"runtime"
	"sync"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// The UDP side does not use miekg/dns's server loop (one read syscall and
// one goroutine per packet): each of GOMAXPROCS workers reads up to
// udpBatch queries with one recvmmsg, answers them in place with miekg/dns's
// messages, and sends the replies with one sendmmsg. Queries go through the
// same checks as in miekg/dns's server (DefaultMsgAcceptFunc), and replies
// leave from the address the query came to (IP_PKTINFO / IPV6_PKTINFO, as
// miekg/dns does), so a wildcard listen works on a host with many addresses.
const (
	udpBatch   = 32
	udpReadBuf = dns.DefaultMsgSize // a query larger than this is cut and then refused by the parser
)

// oobSize fits the destination-address control message of either family.
var oobSize = max(len(ipv4.NewControlMessage(ipv4.FlagDst|ipv4.FlagInterface)),
	len(ipv6.NewControlMessage(ipv6.FlagDst|ipv6.FlagInterface)))

// serveUDP answers on uc until ctx is cancelled.
func (s *Server) serveUDP(ctx context.Context, uc *net.UDPConn) error {
	// Ask for each query's destination address (either family may fail:
	// an IPv4 socket has no IPv6 options).
	err6 := ipv6.NewPacketConn(uc).SetControlMessage(ipv6.FlagDst|ipv6.FlagInterface, true)
	err4 := ipv4.NewPacketConn(uc).SetControlMessage(ipv4.FlagDst|ipv4.FlagInterface, true)
	if err4 != nil && err6 != nil {
		return err4
	}
	stop := context.AfterFunc(ctx, func() { uc.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	p := ipv4.NewPacketConn(uc) // batch I/O; works for either family
	workers := runtime.GOMAXPROCS(0)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- s.udpWorker(ctx, p)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) udpWorker(ctx context.Context, p *ipv4.PacketConn) error {
	in := make([]ipv4.Message, udpBatch)
	outBufs := make([][]byte, udpBatch)
	for i := range in {
		in[i].Buffers = [][]byte{make([]byte, udpReadBuf)}
		in[i].OOB = make([]byte, oobSize)
		outBufs[i] = make([]byte, udpSize)
	}
	out := make([]ipv4.Message, 0, udpBatch)
	for {
		n, err := p.ReadBatch(in, 0)
		if err != nil {
			var ne net.Error
			switch {
			case ctx.Err() != nil:
				return nil
			case errors.Is(err, net.ErrClosed):
				return err
			case errors.As(err, &ne) && ne.Timeout():
			default:
				// A transient error (ENOMEM, an ICMP error surfacing):
				// keep serving.
				s.readErr.Do(func() { s.log.Warn("dns: udp read (logged once a minute)", "err", err) })
				time.Sleep(10 * time.Millisecond)
			}
			continue
		}
		now := s.now()
		out = out[:0]
		for i := range in[:n] {
			m := &in[i]
			ua, _ := m.Addr.(*net.UDPAddr)
			if ua == nil {
				continue
			}
			reply := s.handleUDP(m.Buffers[0][:m.N], ua, outBufs[len(out)][:0], now)
			if reply == nil {
				continue
			}
			out = append(out, ipv4.Message{Buffers: [][]byte{reply}, OOB: replySource(m.OOB[:m.NN]), Addr: ua})
		}
		for len(out) > 0 {
			k, err := p.WriteBatch(out, 0)
			if err != nil {
				s.log.Debug("dns: udp write", "err", err)
				k = 1 // skip the message the kernel refused
			}
			out = out[k:]
		}
	}
}

// handleUDP answers one UDP packet from a into buf (reallocated when too
// small); nil: say nothing.
func (s *Server) handleUDP(pkt []byte, a *net.UDPAddr, buf []byte, now time.Time) []byte {
	if len(pkt) < 12 {
		return nil // not even a header: any reply could be used to amplify
	}
	remote := a.AddrPort().Addr().Unmap()
	h := dns.Header{Id: binary.BigEndian.Uint16(pkt), Bits: binary.BigEndian.Uint16(pkt[2:]),
		Qdcount: binary.BigEndian.Uint16(pkt[4:]), Ancount: binary.BigEndian.Uint16(pkt[6:]),
		Nscount: binary.BigEndian.Uint16(pkt[8:]), Arcount: binary.BigEndian.Uint16(pkt[10:])}
	action := dns.DefaultMsgAcceptFunc(h)
	if action == dns.MsgIgnore {
		return nil // a response, not a query
	}
	verdict := s.rrl.Load().check(remote, now)
	if verdict == drop {
		s.nRRL.Add(1)
		s.rrlCount.WithLabelValues("dropped").Inc()
		return nil
	}
	z := s.zone.Load()
	key, qlen, cacheable := cacheKeyOf(pkt, h)
	cacheable = cacheable && action == dns.MsgAccept && verdict == send
	if cacheable {
		if out, rcode, ok := z.cache.get(key, pkt, qlen, buf); ok {
			s.countType(key.qtype, rcode)
			return out
		}
	}
	r := new(dns.Msg)
	if action == dns.MsgAccept {
		if err := r.Unpack(pkt); err != nil {
			action = dns.MsgReject
		}
	}
	var m *dns.Msg
	switch {
	case action != dns.MsgAccept:
		// As miekg/dns's server: the header only, FORMERR or NOTIMP.
		m = &dns.Msg{MsgHdr: dns.MsgHdr{Id: h.Id, Response: true, Opcode: int(h.Bits>>11) & 0xf, Rcode: dns.RcodeFormatError}}
		if action == dns.MsgRejectNotImplemented {
			m.Rcode = dns.RcodeNotImplemented
		}
		r = &dns.Msg{MsgHdr: m.MsgHdr}
		r.Response = false
	case verdict == slip:
		s.nRRL.Add(1)
		s.rrlCount.WithLabelValues("slipped").Inc()
		m = new(dns.Msg)
		m.SetReply(r)
		m.Truncated = true
	default:
		m = s.respond(z, r, false, remote, nil)
	}
	s.count(r, m.Rcode)
	out, err := m.PackBuffer(buf)
	if err != nil {
		s.log.Debug("dns: pack", "err", err)
		return nil
	}
	if cacheable && m.Opcode == dns.OpcodeQuery && len(r.Question) == 1 {
		z.cache.put(key, out, m.Rcode, qlen)
	}
	return out
}

// replySource turns a query's control message into one that sends the
// reply from the address the query was sent to (nil when unknown).
func replySource(oob []byte) []byte {
	if len(oob) == 0 {
		return nil
	}
	cm6 := new(ipv6.ControlMessage)
	if cm6.Parse(oob) == nil && cm6.Dst != nil {
		if cm6.Dst.To4() == nil {
			return (&ipv6.ControlMessage{Src: cm6.Dst}).Marshal()
		}
		return (&ipv4.ControlMessage{Src: cm6.Dst}).Marshal()
	}
	cm4 := new(ipv4.ControlMessage)
	if cm4.Parse(oob) == nil && cm4.Dst != nil {
		return (&ipv4.ControlMessage{Src: cm4.Dst}).Marshal()
	}
	return nil
}
