package ftps

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	connections prometheus.Counter
	refused     *prometheus.CounterVec
	logins      *prometheus.CounterVec
	bans        prometheus.Counter
	bytesIn     prometheus.Counter
	bytesOut    prometheus.Counter
	uploads     *prometheus.CounterVec
	handshakes  *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer, s *Server) *metrics {
	m := &metrics{
		connections: prometheus.NewCounter(prometheus.CounterOpts{Name: "thecure_ftp_connections_total", Help: "FTP control connections accepted."}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "thecure_ftp_connections_refused_total",
			Help: "FTP connections refused or dropped, by reason (banned, max_clients, max_per_ip, max_startups, evicted, login_timeout)."}, []string{"reason"}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "thecure_ftp_logins_total", Help: "FTP logins by result (ok, failed)."}, []string{"result"}),
		bans:   prometheus.NewCounter(prometheus.CounterOpts{Name: "thecure_ftp_bans_total", Help: "Addresses banned after failed logins."}),
		bytesIn: prometheus.NewCounter(prometheus.CounterOpts{Name: "thecure_ftp_received_bytes_total",
			Help: "Bytes received in FTP uploads (completed or not)."}),
		bytesOut: prometheus.NewCounter(prometheus.CounterOpts{Name: "thecure_ftp_sent_bytes_total", Help: "Bytes sent in FTP downloads."}),
		uploads: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "thecure_ftp_uploads_total",
			Help: "FTP uploads by result (completed: published; aborted: interrupted or failed, not published)."}, []string{"result"}),
		handshakes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "thecure_ftp_tls_handshakes_total",
			Help: "TLS handshakes on FTP control and data connections, by whether the session was resumed."}, []string{"resumed"}),
	}
	for _, r := range []string{"banned", "max_clients", "max_per_ip", "max_startups", "evicted", "login_timeout"} {
		m.refused.WithLabelValues(r)
	}
	for _, r := range []string{"ok", "failed"} {
		m.logins.WithLabelValues(r)
	}
	for _, r := range []string{"completed", "aborted"} {
		m.uploads.WithLabelValues(r)
	}
	if reg != nil {
		reg.MustRegister(m.connections, m.refused, m.logins, m.bans, m.bytesIn, m.bytesOut, m.uploads, m.handshakes,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "thecure_ftp_sessions", Help: "FTP control connections open now."},
				func() float64 { s.mu.Lock(); defer s.mu.Unlock(); return float64(len(s.sessions)) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "thecure_ftp_transfers", Help: "FTP data transfers running now."},
				func() float64 { return float64(s.transfers.Load()) }))
	}
	return m
}

func (m *metrics) handshake(resumed bool) {
	if resumed {
		m.handshakes.WithLabelValues("true").Inc()
	} else {
		m.handshakes.WithLabelValues("false").Inc()
	}
}
