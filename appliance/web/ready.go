package web

import "net/http"

// readyz is the readiness probe, for load balancers: 200 while the box
// should get traffic (every service up, or only degraded: an optional
// service such as the bot cannot reach the outside), 503 while a service it
// needs to serve is down, failed or stopping.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	code := http.StatusOK
	if !s.health.Status().Ready() {
		code = http.StatusServiceUnavailable
	}
	s.report(w, code)
}
