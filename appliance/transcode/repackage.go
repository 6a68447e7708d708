package transcode

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"thecure/appliance/ffmpeg"
	"thecure/appliance/library"
)

// queueRepackaging is the upgrade of titles packaged by an older release
// (library.PackagingVersion): at start, every ready title with an older
// packaging gets a re-packaging job in the durable queue, all in one
// transaction, before any worker runs. It is idempotent: a title whose job
// is already pending or running (a stop in the middle of the upgrade), or
// whose re-packaging failed (/api/jobs says why), is not queued again, and
// a re-packaged title records the new version. A title whose source is
// gone is left as it is (it keeps playing its old packaging) and reported.
// The titles stay ready meanwhile; each one's new HLS replaces the old in
// one step when it is made.
func (q *Queue) queueRepackaging() error {
	items, err := q.cat.List()
	if err != nil {
		return fmt.Errorf("transcode: titles to re-package: %w", err)
	}
	var stale []Job
	for _, it := range items {
		if it.State != library.StateReady || it.Packaging >= library.PackagingVersion {
			continue
		}
		kind, ok := q.kindOf(it.Source)
		if !ok {
			q.log.Warn("a title packaged by an older release is not re-packaged: its folder is no longer a movies, series or music folder; it keeps its old packaging (its media starts at 2 s)",
				"source", it.Source, "id", it.ID)
			continue
		}
		if fi, err := os.Stat(q.abs(it.Source)); err != nil || !fi.Mode().IsRegular() {
			q.log.Warn("a title packaged by an older release is not re-packaged: its source is gone; it keeps its old packaging (its media starts at 2 s) until its source is back in media_dir",
				"source", it.Source, "id", it.ID)
			continue
		}
		stale = append(stale, Job{ID: it.ID, Source: it.Source, Folder: kind, State: Pending, Repackage: true})
	}
	if len(stale) == 0 {
		return nil
	}
	var queued int
	err = q.st.Update(func(tx *bolt.Tx) error {
		queued = 0
		b, err := tx.CreateBucketIfNotExists(bucketJobs)
		if err != nil {
			return err
		}
		for _, j := range stale {
			cur, ok, err := getJob(tx, j.ID)
			if err != nil {
				return err
			}
			if ok && (cur.State == Pending || cur.State == Running || (cur.State == Failed && cur.Repackage)) {
				continue
			}
			if j.Seq, err = b.NextSequence(); err != nil {
				return err
			}
			j.Enqueued = time.Now().UTC()
			if err := putJob(tx, j); err != nil {
				return err
			}
			queued++
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("transcode: queue titles to re-package: %w", err)
	}
	// Durable first: the jobs are stored; the workers start after this.
	if queued > 0 {
		q.log.Info("titles packaged by an older release are re-packaged; they play from their old packaging until then", "jobs", queued)
		q.signal()
	}
	return nil
}

// repackagePlan is how re-packaging job j makes its title again: as the
// source is copied when it can be (p, a remux of the source), otherwise by
// copying the renditions already packaged (encoded by the older release)
// into the new packaging: the video is not encoded again (nor the audio of
// fMP4 segments).
func (q *Queue) repackagePlan(j Job, p plan) (plan, error) {
	if p.method == MethodRemux {
		return p, nil
	}
	it, ok, err := q.cat.Get(j.ID)
	if err != nil {
		return p, err
	}
	if !ok || len(it.Variants) == 0 || !q.cat.HasHLS(j.ID) {
		return p, nil // nothing packaged to copy: made from the source
	}
	from := q.cat.Dir(j.ID)
	var playlists, names []string
	video := it.Variants[0].Name != "audio" // Package's name for an audio-only title
	for _, v := range it.Variants {
		if v.Name == "" || strings.ContainsAny(v.Name, `/\`) || v.Name == "." || v.Name == ".." {
			return p, fmt.Errorf("re-package: the title's variant name %q is not a folder name", v.Name)
		}
		playlists = append(playlists, filepath.Join(from, v.Name, library.MasterPlaylist))
		names = append(names, v.Name)
		if !video {
			break // audio only: one variant
		}
	}
	// fMP4 segments (an EXT-X-MAP) carry the AAC config: copied; MPEG-TS
	// ones do not: the audio alone is encoded again
	audioKbps := q.opts.Transcode.AudioKbps
	if b, err := os.ReadFile(playlists[0]); err == nil && strings.Contains(string(b), "#EXT-X-MAP") {
		audioKbps = 0
	}
	method := it.Method
	if method == "" {
		method = MethodEncode
	}
	return plan{args: ffmpeg.RepackArgs(playlists, video, audioKbps, q.readRate), names: names, method: method, from: from}, nil
}

// keepPoster copies the poster of the published HLS dir from into stage,
// and reports whether there was one.
func keepPoster(from, stage string) bool {
	b, err := os.ReadFile(filepath.Join(from, "poster.jpg"))
	if err != nil {
		return false
	}
	return os.WriteFile(filepath.Join(stage, "poster.jpg"), b, 0o644) == nil
}

// repackageFailed records a failed re-packaging: the job says why, the
// title keeps playing its old packaging, the source stays where it is (it
// played before: it is no culprit to quarantine). Not retried by itself; a
// new upload of the source makes the title again.
func (q *Queue) repackageFailed(j Job, cause error) {
	src := q.abs(j.Source)
	reason := strings.NewReplacer(ffmpeg.Input(src), j.Source, src, j.Source).Replace(cause.Error())
	reason = strings.Join(strings.Fields(strings.ReplaceAll(reason, "\n", " | ")), " ")
	reason = "re-packaging failed: " + reason + "; the title keeps its old packaging (its media starts at 2 s)"
	err := q.st.Update(func(tx *bolt.Tx) error {
		cur, ok, err := getJob(tx, j.ID)
		if err != nil || !ok || cur.Seq != j.Seq {
			return err
		}
		cur.State, cur.Error, cur.Finished = Failed, reason, time.Now().UTC()
		cur.Speed, cur.ETA = 0, 0
		return putJob(tx, cur)
	})
	if err != nil {
		q.log.Error("cannot record a failed job", "source", j.Source, "err", err)
	}
	q.jobsTotal.WithLabelValues(Failed, "").Inc()
	q.log.Warn("failed", "source", j.Source, "id", j.ID, "reason", reason)
	if q.opts.Alerter != nil {
		q.opts.Alerter.Alert(context.Background(), AlertFailed, j.Source, reason)
	}
}

// repackageGone drops a re-packaging job whose source went away before it
// ran: the title is left as it is (the scan decides about missing files)
// and the next start reports it.
func (q *Queue) repackageGone(j Job) {
	err := q.st.Update(func(tx *bolt.Tx) error {
		cur, ok, err := getJob(tx, j.ID)
		if err != nil || !ok || cur.Seq != j.Seq {
			return err
		}
		return tx.Bucket(bucketJobs).Delete([]byte(j.ID))
	})
	if err != nil {
		q.log.Error("cannot drop a re-packaging job", "source", j.Source, "err", err)
	}
	q.log.Warn("a title packaged by an older release is not re-packaged: its source is gone; it keeps its old packaging (its media starts at 2 s)",
		"source", j.Source, "id", j.ID)
}
