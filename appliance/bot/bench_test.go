package bot

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/NicoNex/echotron/v3"
	bolt "go.etcd.io/bbolt"

	"thecure/appliance/health"
)

// BenchmarkUpdates measures updates per second through the bot's whole path
// against the fake Bot API over loopback HTTP: long poll, offset stored in
// bbolt, per-chat workers, access check, rate limit, tree, answerCallbackQuery
// + editMessageText, conversation log. 200 users walk the tree at once.
func BenchmarkUpdates(b *testing.B) {
	fake := newFakeAPI(b)
	fake.quiet = true
	st := openStore(b, b.TempDir())
	defer st.Close()
	cfg := testConfig(fake.URL())
	cfg.RateLimit = 1 << 30
	const users = 200
	cfg.AllowedUsers = nil
	for u := range users {
		cfg.AllowedUsers = append(cfg.AllowedUsers, int64(10_000+u))
	}
	bot, err := New(Options{Config: cfg, Store: st, Log: testLog(b), Health: health.NewRegistry(), Unthrottled: true})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- bot.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	path := []string{"n:conn", "n:conn_none", "n:root", "n:video", "n:video_buffer", "n:root", "n:ftp", "n:ftp_missing"}
	ups := make([]echotron.Update, 0, b.N)
	for i := range b.N {
		u := int64(10_000 + i%users)
		ups = append(ups, press(u, int(u), path[(i/users)%len(path)]))
	}
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < len(ups); i += 100 {
		fake.push(ups[i:min(i+100, len(ups))]...)
	}
	for {
		fake.mu.Lock()
		n := fake.counts["editMessageText"]
		fake.mu.Unlock()
		if n >= b.N {
			break
		}
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "updates/s")
}

// BenchmarkLog10kConversations measures what 10,000 logged conversations
// cost: each is /start, the menu sent, a button pressed and the answer
// edited in (4 log entries), written through the bot's batching log writer
// into bbolt. Reported per 10,000 conversations: bytes allocated (B/op),
// bytes of store pages the log fills (store-B) and heap still held
// afterwards (heap-B).
func BenchmarkLog10kConversations(b *testing.B) {
	fake := newFakeAPI(b)
	st := openStore(b, b.TempDir())
	defer st.Close()
	bot, err := New(Options{Config: testConfig(fake.URL()), Store: st, Log: testLog(b), Unthrottled: true})
	if err != nil {
		b.Fatal(err)
	}
	root, answer := bot.tree["root"], bot.tree["conn_none"]
	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	b.ResetTimer()
	for range b.N {
		bot.logc = make(chan LogEntry, 4096)
		done := make(chan struct{})
		go func() { defer close(done); bot.logWriter() }()
		for c := range 10_000 {
			user := int64(1_000_000 + c)
			bot.logLine(user, user, "in", "/start")
			bot.logLine(user, user, "out", root.Text)
			bot.logLine(user, user, "in", "[button] n:conn_none")
			bot.logLine(user, user, "out", answer.Text)
		}
		close(bot.logc)
		<-done
	}
	b.StopTimer()
	runtime.GC()
	runtime.ReadMemStats(&ms1)
	var inuse int
	if err := st.View(func(tx *bolt.Tx) error {
		s := tx.Bucket(bucketLog).Stats()
		inuse = s.BranchInuse + s.LeafInuse
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(inuse)/float64(b.N), "store-B")
	b.ReportMetric(float64(int64(ms1.HeapInuse)-int64(ms0.HeapInuse))/float64(b.N), "heap-B")
}
