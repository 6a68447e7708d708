// Package browsertest drives Debian's Chromium (headless, through chromedp)
// for the tests of the web pages: one fresh browser profile per test, no
// network but loopback, screenshots into a folder the test prints.
// Only tests import it.
package browsertest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// ChromiumPath is Debian's Chromium (package chromium).
const ChromiumPath = "/usr/bin/chromium"

// New starts a headless Chromium with a fresh profile and returns a context
// for chromedp actions, with a deadline of timeout; the browser is closed
// when the test ends. Browser console messages go to the test log.
func New(t testing.TB, timeout time.Duration) context.Context {
	t.Helper()
	if _, err := os.Stat(ChromiumPath); err != nil {
		t.Fatalf("chromium is missing (install it with .ci/test-deps): %v", err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(ChromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
	}
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancel := chromedp.NewContext(actx, chromedp.WithErrorf(t.Logf))
	// The first Run starts the browser, which lives as long as that call's
	// context: start it on the context without the deadline.
	if err := chromedp.Do(bctx); err != nil {
		cancel()
		acancel()
		t.Fatalf("start chromium: %v", err)
	}
	ctx, tcancel := context.WithTimeout(bctx, timeout)
	var (
		mu   sync.Mutex
		msgs []string
		done = make(chan struct{})
	)
	go func() {
		defer close(done)
		for m, err := range chromedp.Console(ctx) {
			if err != nil {
				return
			}
			mu.Lock()
			msgs = append(msgs, fmt.Sprintf("%+v", m))
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		tcancel()
		<-done
		for _, m := range msgs {
			t.Logf("browser console: %s", m)
		}
		cancel()
		acancel()
	})
	return ctx
}

var (
	shotsOnce sync.Once
	shotsDir  string
)

// Screenshot saves a full-page PNG named name.png into a temporary folder
// shared by the test binary's tests (kept after the run; its path is logged).
func Screenshot(t testing.TB, ctx context.Context, name string) string {
	t.Helper()
	shotsOnce.Do(func() {
		d, err := os.MkdirTemp("", "thecure-screenshots-")
		if err != nil {
			t.Fatal(err)
		}
		shotsDir = d
	})
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(shotsDir, strings.ReplaceAll(name, "/", "_")+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
	return path
}

// WaitFor polls the JavaScript expression cond (a boolean) until it is true
// or ctx ends; it returns the last value of the expression report (any JSON
// value), for the failure message.
func WaitFor(ctx context.Context, cond, report string, every time.Duration) (bool, any) {
	var last any
	for {
		if ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](cond)); err == nil && ok {
			return true, nil
		}
		last, _ = chromedp.Run(ctx, chromedp.Evaluate[any](report))
		select {
		case <-ctx.Done():
			return false, last
		case <-time.After(every):
		}
	}
}

// HTTPErrors records every response with a status of 400 or more that the
// page's browser tab receives from now on; the returned function lists them
// ("404 http://...").
func HTTPErrors(t testing.TB, ctx context.Context) func() []string {
	t.Helper()
	var (
		mu   sync.Mutex
		bad  []string
		seen = map[string]bool{}
	)
	err := chromedp.Listen(ctx, func(ev any) {
		if r, ok := ev.(*network.EventResponseReceived); ok && r.Response != nil && r.Response.Status >= 400 {
			mu.Lock()
			defer mu.Unlock()
			k := fmt.Sprintf("%d %s", r.Response.Status, r.Response.URL)
			if !seen[k] {
				seen[k] = true
				bad = append(bad, k)
			}
		}
	})
	if err != nil {
		t.Fatalf("network events: %v", err)
	}
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(bad)
	}
}
