package audit

import (
	"testing"
	"time"

	"thecure/appliance/store"
)

func TestRecordRecentAndBound(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(dir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	l := New(st)
	if es, err := l.Recent(10); err != nil || len(es) != 0 {
		t.Fatalf("empty log: %v %v", es, err)
	}
	for _, a := range []string{"user.add", "user.quota", "title.retry"} {
		if err := l.Record(Entry{Who: "admin", Action: a, Target: "ana"}); err != nil {
			t.Fatal(err)
		}
	}
	es, err := l.Recent(2)
	if err != nil || len(es) != 2 || es[0].Action != "title.retry" || es[1].Action != "user.quota" || es[0].When.IsZero() {
		t.Fatalf("Recent(2) = %+v, %v", es, err)
	}
	// It survives a reopen (durable) and stays bounded.
	st.Close()
	if st, err = store.Open(dir, time.Second); err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	l = New(st)
	l.max = 50
	for range 60 {
		if err := l.Record(Entry{Who: "admin", Action: "user.delete", Target: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	es, err = l.Recent(1000)
	if err != nil || len(es) != 50 || es[49].Action != "user.delete" {
		t.Fatalf("%d entries after 63 records, want the latest 50 (%v)", len(es), err)
	}
}
