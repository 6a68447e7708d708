package rtmp_test

import (
	"strings"
	"testing"
	"time"

	"thecure/appliance/apptest"
	"thecure/appliance/config"
)

// TestReloadStreamKeys: a reload changes the stream keys for the next
// publishers while a live one goes on; a bad allow-list is refused and
// changes nothing.
func TestReloadStreamKeys(t *testing.T) {
	e := start(t, func(c *config.Config) {
		c.RTMP.RequireKey = true
		c.RTMP.Streams = map[string]config.RTMPStream{"studio": {Key: "s3cret"}}
	})
	first := publish(t, e.url("studio?key=s3cret"), 20)
	apptest.WaitFor(t, 30*time.Second, "studio live", func() bool { return e.hub.Live("studio") })

	bad := config.Default()
	bad.RTMP.AllowPublish = []string{"not an address"}
	if err := e.srv.Reload(bad); err == nil {
		t.Error("Reload accepted a bad allow_publish")
	}
	cfg := config.Default()
	cfg.RTMP.RequireKey = true
	cfg.RTMP.Streams = map[string]config.RTMPStream{"studio": {Key: "s3cret"}, "news": {Key: "n3ws"}}
	if err := e.srv.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	if err := publish(t, e.url("news?key=wrong"), 5).wait(t, 30*time.Second); err == nil {
		t.Error("a wrong key for news was accepted after the reload")
	}
	publish(t, e.url("news?key=n3ws"), 10)
	apptest.WaitFor(t, 30*time.Second, "news live with the key the reload declared", func() bool { return e.hub.Live("news") })
	select {
	case err := <-first.done:
		first.done <- err
		t.Fatalf("the publisher live before the reload stopped: %v", err)
	default:
	}
	if !strings.Contains(e.logs.String(), "new allow-lists and stream keys in force") {
		t.Errorf("no log line for the reload:\n%s", e.logs)
	}
}
