package transcode

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"

	"thecure/appliance/config"
	"thecure/appliance/ffmpeg"
	"thecure/appliance/library"
)

// Methods: how a source became HLS.
const (
	MethodRemux  = "remux"  // the source's H.264 copied as it is (audio copied or encoded to AAC)
	MethodEncode = "encode" // the video encoded into the ladder
)

// sourceError is a failure caused by the source itself (corrupt, not
// media, wrong kind): the source goes to quarantine.
type sourceError struct{ err error }

func (e sourceError) Error() string { return e.err.Error() }
func (e sourceError) Unwrap() error { return e.err }

// crashError is ffmpeg killed by a signal (a crash, the OOM killer, an
// operator's kill -9): not the source's fault at first, so the job runs
// again, until ffmpeg has crashed maxCrashes times on it; a source that
// crashes ffmpeg every time is then failed as the source's fault. (Runs
// cut short by the appliance stopping are not crashes of ffmpeg.)
type crashError struct{ err error }

func (e crashError) Error() string { return e.err.Error() }
func (e crashError) Unwrap() error { return e.err }

// maxCrashes is how many times ffmpeg may crash on a job before it fails.
const maxCrashes = 3

// crashed reports whether ffmpeg ended on a signal rather than exiting.
func crashed(fe *ffmpeg.Error) bool {
	var ee *exec.ExitError
	if !errors.As(fe.Err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled()
}

// errGone means the source disappeared before its job ran.
var errGone = errors.New("source is gone")

// truncatedError is a source whose container declares more than can be
// read: an upload cut short (FTP carries no length). The source stays in
// place, so that a resumed upload (REST/APPE) completes it.
type truncatedError struct {
	declared, got float64 // seconds
	size          int64
}

func (e truncatedError) Error() string {
	return fmt.Sprintf("truncated: the file declares %.1f s but only %.1f s of it can be read (%d bytes received): the upload was probably cut short. "+
		"Resume it (curl -C - -T FILE, lftp put -c FILE, or any client's resume: REST/APPE) or upload it again; the title is made when the file is whole",
		e.declared, e.got, e.size)
}

// declaredSeconds is the duration a source's container declares in its
// header, for the formats that carry one (Matroska/WebM, MP4/MOV, FLAC);
// 0 when ffprobe's duration is only an estimate from the data itself.
func declaredSeconds(p *ffmpeg.Probe) float64 {
	for _, f := range strings.Split(p.Format.Name, ",") {
		switch f {
		case "matroska", "mov", "flac":
			return p.Seconds()
		}
	}
	return 0
}

// truncated checks what was packaged against what the container declares.
// The tolerance covers a last partial segment and streams that end a
// little apart.
func truncated(p *ffmpeg.Probe, got time.Duration, size int64) error {
	declared := declaredSeconds(p)
	if declared <= 0 {
		return nil
	}
	tol := max(2.0, declared*0.02)
	if got.Seconds() < declared-tol {
		return truncatedError{declared: declared, got: got.Seconds(), size: size}
	}
	return nil
}

// plan is what to ask ffmpeg for.
type plan struct {
	job    ffmpeg.Job
	args   []string // the command line (ffmpeg.Args of job, unless re-packaging)
	names  []string // variant names, one per video rendition
	method string
	from   string // re-packaging: the published HLS dir read instead of the source
}

// browserH264 reports whether a stream is H.264 that browsers and Apple
// devices play as it is.
func browserH264(v *ffmpeg.Stream) bool {
	profiles := []string{"Constrained Baseline", "Baseline", "Main", "High"}
	return v.CodecName == "h264" && slices.Contains(profiles, v.Profile) &&
		(v.PixFmt == "yuv420p" || v.PixFmt == "yuvj420p") && v.Level <= 52 && v.Height <= 2160
}

func (q *Queue) plan(kind string, p *ffmpeg.Probe) (plan, error) {
	tc := q.opts.Transcode
	a := p.Audio()
	var audio *ffmpeg.Audio
	if a != nil {
		// ADTS AAC (from MPEG-TS or .aac files) has no decoder config until
		// the first packet, too late for a streamed MP4 header: encode it
		adts := strings.Contains(p.Format.Name, "mpegts") || p.Format.Name == "aac"
		audio = &ffmpeg.Audio{Copy: a.CodecName == "aac" && !adts, Kbps: tc.AudioKbps}
	}
	if kind == config.KindMusic {
		if a == nil {
			return plan{}, sourceError{errors.New("no audio stream in a music folder")}
		}
		m := MethodRemux
		if !audio.Copy {
			m = MethodEncode
		}
		return plan{job: ffmpeg.Job{Audio: audio}, method: m}, nil
	}
	v := p.Video()
	if v == nil {
		return plan{}, sourceError{fmt.Errorf("no video stream in a %s folder", kind)}
	}
	if browserH264(v) {
		return plan{
			job:    ffmpeg.Job{Video: &ffmpeg.Video{Copy: true}, Audio: audio},
			names:  []string{fmt.Sprintf("%dp", v.Height)},
			method: MethodRemux,
		}, nil
	}
	rungs := slices.Clone(tc.Renditions)
	slices.SortFunc(rungs, func(a, b config.Rendition) int { return b.Height - a.Height })
	var ladder []ffmpeg.Rung
	for _, r := range rungs {
		if r.Height <= v.Height {
			ladder = append(ladder, ffmpeg.Rung{Height: r.Height, Kbps: r.VideoKbps})
		}
	}
	if len(ladder) == 0 { // smaller than every rung: keep its size
		h := max(v.Height&^1, 2)
		ladder = []ffmpeg.Rung{{Height: h, Kbps: rungs[len(rungs)-1].VideoKbps}}
	}
	var names []string
	for _, r := range ladder {
		names = append(names, fmt.Sprintf("%dp", r.Height))
	}
	if audio != nil {
		audio.Copy = false // re-encoding anyway; keep the output uniform
	}
	return plan{
		job: ffmpeg.Job{Video: &ffmpeg.Video{
			Renditions: ladder, Preset: tc.Preset, KeyframeSeconds: tc.SegmentDuration.Std().Seconds(),
		}, Audio: audio},
		names:  names,
		method: MethodEncode,
	}, nil
}

// result is a converted source, staged and ready to publish.
type result struct {
	probe  *ffmpeg.Probe
	pk     *library.Packaged
	method string
	poster bool
	took   time.Duration
}

// process runs one claimed job to its end and reports whether it stopped on
// a full disk (the worker then waits before the next one).
func (q *Queue) process(ctx context.Context, j Job) (diskFull bool) {
	jctx, cancel := context.WithCancel(ctx)
	defer cancel()
	l := &liveJob{seq: j.Seq, cancel: cancel}
	q.mu.Lock()
	q.live[j.ID] = l
	q.mu.Unlock()
	q.running.Inc()
	defer func() {
		q.running.Dec()
		q.mu.Lock()
		if q.live[j.ID] == l {
			delete(q.live, j.ID)
		}
		q.mu.Unlock()
	}()

	if j.Method == MethodNormalise {
		q.runNormalise(jctx, j, l)
		return false
	}
	res, err := q.convert(jctx, j, l)
	switch {
	case ctx.Err() != nil:
		// shutdown: the job runs again at the next start
		q.removeStage(q.cat.StagingDir(j.ID, j.Seq))
		q.log.Info("stopped; the job will run again at the next start", "source", j.Source)
		return false
	case jctx.Err() != nil:
		// removed or replaced while running: the store already says what next
		q.removeStage(q.cat.StagingDir(j.ID, j.Seq))
		return false
	case errors.Is(err, errGone) && j.Repackage:
		q.repackageGone(j)
		return false
	case err != nil && j.Repackage && !errors.Is(err, syscall.ENOSPC):
		q.removeStage(q.cat.StagingDir(j.ID, j.Seq))
		q.repackageFailed(j, err)
		return false
	case errors.Is(err, errGone):
		// Never deleted by absence: the title waits, missing, for its source.
		q.log.Info("source is gone before its job ran; the title is missing until it is back", "source", j.Source)
		q.gone(j)
		return false
	case errors.Is(err, syscall.ENOSPC):
		q.removeStage(q.cat.StagingDir(j.ID, j.Seq))
		q.setDegraded("disk full: " + err.Error())
		q.requeue(j, "disk full: "+err.Error())
		return true
	case errors.As(err, new(crashError)) && j.Crashes+1 < maxCrashes:
		q.removeStage(q.cat.StagingDir(j.ID, j.Seq))
		q.log.Warn("ffmpeg crashed; the job runs again", "source", j.Source, "id", j.ID, "crashes", j.Crashes+1, "of", maxCrashes, "err", shorten(err.Error()))
		q.requeueCrashed(j, fmt.Sprintf("ffmpeg crashed (%d of %d allowed): %v", j.Crashes+1, maxCrashes, err))
		return false
	case errors.As(err, new(crashError)):
		q.removeStage(q.cat.StagingDir(j.ID, j.Seq))
		q.fail(j, sourceError{fmt.Errorf("ffmpeg crashed on this source %d times: %w", j.Crashes+1, err)})
		return false
	case err != nil:
		q.removeStage(q.cat.StagingDir(j.ID, j.Seq))
		q.fail(j, err)
		return false
	}
	if err := q.commit(j, res); err != nil {
		if errors.Is(err, syscall.ENOSPC) {
			q.setDegraded("disk full: " + err.Error())
			q.requeue(j, "disk full: "+err.Error())
			return true
		}
		if j.Repackage {
			q.repackageFailed(j, err)
			return false
		}
		q.fail(j, err)
	}
	return false
}

func (q *Queue) convert(ctx context.Context, j Job, l *liveJob) (*result, error) {
	src := q.abs(j.Source)
	if _, err := os.Stat(src); errors.Is(err, os.ErrNotExist) {
		return nil, errGone
	}
	probe, err := q.tools.Probe(ctx, src)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, sourceError{err}
	}
	p, err := q.plan(j.Folder, probe)
	if err != nil {
		return nil, err
	}
	p.job.Input, p.job.ReadRate = src, q.readRate
	p.args = ffmpeg.Args(p.job)
	if j.Repackage {
		if p, err = q.repackagePlan(j, p); err != nil {
			return nil, err
		}
	}
	stage := q.cat.StagingDir(j.ID, j.Seq)
	if err := os.RemoveAll(stage); err != nil {
		return nil, fmt.Errorf("staging: %w", err)
	}
	if err := os.MkdirAll(stage, 0o755); err != nil {
		return nil, fmt.Errorf("staging: %w", err)
	}
	if q.stageHook != nil {
		q.stageHook(stage)
	}
	total := probe.Seconds()
	q.log.Info("processing", "source", j.Source, "id", j.ID, "method", p.method,
		"renditions", strings.Join(p.names, ","), "duration", time.Duration(total*float64(time.Second)).Round(time.Second))
	var pk *library.Packaged
	start := time.Now()
	// the poster is taken from the source while the main run goes on
	posterDone := make(chan bool, 1)
	if p.from != "" {
		posterDone <- keepPoster(p.from, stage)
	} else {
		go func() { posterDone <- q.poster(ctx, j, probe, src, stage) }()
	}
	err = q.tools.Run(ctx, ffmpeg.Cmd{
		Args: p.args,
		Stdout: func(r io.Reader) error {
			var err error
			pk, err = library.Package(r, stage, library.PackageOptions{
				SegmentDuration: q.opts.Transcode.SegmentDuration.Std(),
				Format:          q.opts.Transcode.SegmentFormat,
				Names:           p.names,
			})
			return err
		},
		Progress: func(pr ffmpeg.Progress) {
			q.mu.Lock()
			defer q.mu.Unlock()
			if total > 0 {
				l.progress = min(100, 100*pr.OutTime.Seconds()/total)
			}
			if pr.Speed > 0 {
				l.speed = pr.Speed
				l.eta = max(0, (total-pr.OutTime.Seconds())/pr.Speed)
			}
		},
	})
	poster := <-posterDone
	took := time.Since(start)
	var fe *ffmpeg.Error
	var size int64
	if fi, serr := os.Stat(src); serr == nil {
		size = fi.Size()
	}
	switch {
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case errors.As(err, &fe) && crashed(fe):
		return nil, crashError{err}
	case errors.As(err, &fe):
		// A cut-short file may make ffmpeg fail at its end: keep it in
		// place for the resume rather than quarantine it.
		if pk != nil {
			if terr := truncated(probe, pk.Duration, size); terr != nil {
				return nil, terr
			}
		}
		return nil, sourceError{err}
	case err != nil:
		return nil, err
	}
	// Checked before anything is published.
	if err := truncated(probe, pk.Duration, size); err != nil {
		return nil, err
	}
	return &result{probe: probe, pk: pk, method: p.method, took: took, poster: poster}, nil
}

// poster writes poster.jpg into the stage: a frame a tenth into a video, or
// a track's cover art. A failure only loses the poster.
func (q *Queue) poster(ctx context.Context, j Job, probe *ffmpeg.Probe, src, stage string) bool {
	var offset float64
	switch {
	case probe.Video() != nil && j.Folder != config.KindMusic:
		offset = min(probe.Seconds()/10, 60)
	case probe.CoverArt() != nil:
		offset = 0
	default:
		return false
	}
	err := q.tools.Run(ctx, ffmpeg.Cmd{Args: ffmpeg.PosterArgs(src, filepath.Join(stage, "poster.jpg"), offset, 360)})
	if err != nil {
		q.log.Warn("no poster", "source", j.Source, "err", err)
		return false
	}
	return true
}

// commit publishes the staged HLS, marks the title ready, then the job
// done, unless the job was removed or queued again meanwhile. A stop
// between the two leaves the job running: it runs again at the next start.
func (q *Queue) commit(j Job, res *result) error {
	stage := q.cat.StagingDir(j.ID, j.Seq)
	current := func(tx *bolt.Tx) (Job, bool, error) {
		cur, ok, err := getJob(tx, j.ID)
		return cur, err == nil && ok && cur.Seq == j.Seq, err
	}
	var fresh bool
	err := q.st.View(func(tx *bolt.Tx) (err error) { _, fresh, err = current(tx); return err })
	if err == nil && fresh {
		err = q.cat.Publish(j.ID, stage)
	}
	if err == nil && fresh {
		meta := library.ParseName(j.Folder, strings.SplitN(j.Source, "/", 2)[1])
		if meta.Kind == library.KindTrack {
			tagMeta(&meta, res.probe)
		}
		err = q.cat.Ready(j.ID, library.Published{
			Source: j.Source, Meta: meta, Method: res.method,
			Duration: res.pk.Duration, Variants: res.pk.Variants, Poster: res.poster,
		})
	}
	if err == nil && fresh {
		err = q.st.Update(func(tx *bolt.Tx) error {
			cur, ok, err := current(tx)
			if err != nil || !ok {
				return err // replaced meanwhile: the new job runs next
			}
			cur.State, cur.Method, cur.Finished, cur.Progress = Done, res.method, time.Now().UTC(), 100
			cur.Speed = 0
			if res.took > 0 {
				cur.Speed = res.pk.Duration.Seconds() / res.took.Seconds()
			}
			cur.ETA = 0
			return putJob(tx, cur)
		})
	}
	if !fresh || err != nil {
		q.removeStage(stage)
	}
	if err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	if !fresh {
		return nil
	}
	q.titleChanged(j.ID)
	speed := 0.0
	if res.took > 0 {
		speed = res.pk.Duration.Seconds() / res.took.Seconds()
	}
	q.jobsTotal.WithLabelValues(Done, res.method).Inc()
	q.mediaSeconds.Add(res.pk.Duration.Seconds())
	q.log.Info("ready", "source", j.Source, "id", j.ID, "method", res.method,
		"variants", len(res.pk.Variants), "duration", res.pk.Duration.Round(time.Millisecond),
		"took", res.took.Round(time.Millisecond), "speed", strconv.FormatFloat(speed, 'f', 1, 64)+"x")
	return nil
}

// removeStage deletes a run's staging dir; what cannot be deleted is
// logged (CleanStaging removes it at the next start).
func (q *Queue) removeStage(dir string) {
	if err := os.RemoveAll(dir); err != nil {
		q.log.Warn("cannot remove a staging dir", "dir", dir, "err", err)
	}
}

// tagMeta fills a track's title, artist and album from its tags.
func tagMeta(it *library.Meta, p *ffmpeg.Probe) {
	if t := p.Tag("title"); t != "" {
		it.Title = t
	}
	if a := p.Tag("artist"); a != "" {
		it.Artist = a
	} else if a := p.Tag("album_artist"); a != "" {
		it.Artist = a
	}
	if a := p.Tag("album"); a != "" {
		it.Album = a
	}
	// "3" or "3/12"
	if n, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(p.Tag("track"), "/", 2)[0])); err == nil && n > 0 {
		it.Track = n
	}
	// "1997" or "1997-05-21"
	if d := p.Tag("date"); len(d) >= 4 {
		if y, err := strconv.Atoi(d[:4]); err == nil && y > 1000 {
			it.Year = y
		}
	}
}

// requeue puts a job back to pending (keeping its place) with a note.
func (q *Queue) requeue(j Job, note string) {
	err := q.st.Update(func(tx *bolt.Tx) error {
		cur, ok, err := getJob(tx, j.ID)
		if err != nil || !ok || cur.Seq != j.Seq {
			return err
		}
		cur.State, cur.Error = Pending, note
		return putJob(tx, cur)
	})
	if err == nil && !j.Repackage {
		err = q.cat.SetState(j.ID, library.StateQueued)
	}
	if err != nil {
		q.log.Error("cannot requeue", "source", j.Source, "err", err)
	}
}

// requeueCrashed is requeue for a job whose ffmpeg crashed: the crash is
// counted.
func (q *Queue) requeueCrashed(j Job, note string) {
	err := q.st.Update(func(tx *bolt.Tx) error {
		cur, ok, err := getJob(tx, j.ID)
		if err != nil || !ok || cur.Seq != j.Seq {
			return err
		}
		cur.State, cur.Error, cur.Crashes = Pending, note, cur.Crashes+1
		return putJob(tx, cur)
	})
	if err == nil {
		err = q.cat.SetState(j.ID, library.StateQueued)
	}
	if err != nil {
		q.log.Error("cannot requeue", "source", j.Source, "err", err)
	}
}

// fail marks the job and its title failed with the reason; a source at
// fault is moved to the quarantine folder.
func (q *Queue) fail(j Job, cause error) {
	// say the source's path as users know it, on one line
	src := q.abs(j.Source)
	reason := strings.NewReplacer(ffmpeg.Input(src), j.Source, src, j.Source).Replace(cause.Error())
	reason = strings.Join(strings.Fields(strings.ReplaceAll(reason, "\n", " | ")), " ")
	var se sourceError
	var quarantined string
	if errors.As(cause, &se) {
		if dst, err := q.quarantine(j.Source); err != nil {
			q.log.Error("cannot quarantine", "source", j.Source, "err", err)
			reason += "; the source stays in place (quarantine failed: " + err.Error() + ")"
		} else {
			quarantined = dst
			reason += "; the source was moved to " + dst + " (delete it there to remove this title)"
		}
	}
	var fresh bool
	err := q.st.Update(func(tx *bolt.Tx) error {
		cur, ok, err := getJob(tx, j.ID)
		if err != nil || !ok || cur.Seq != j.Seq {
			return err
		}
		fresh = true
		cur.State, cur.Error, cur.Finished = Failed, reason, time.Now().UTC()
		cur.Speed, cur.ETA = 0, 0
		return putJob(tx, cur)
	})
	if err == nil && fresh {
		err = q.cat.Failed(j.ID, reason, quarantined)
		if err == nil {
			q.titleChanged(j.ID)
		}
	}
	if err != nil {
		q.log.Error("cannot record a failed job", "source", j.Source, "err", err)
	}
	q.jobsTotal.WithLabelValues(Failed, "").Inc()
	q.log.Warn("failed", "source", j.Source, "id", j.ID, "reason", reason)
	if q.opts.Alerter != nil {
		q.opts.Alerter.Alert(context.Background(), AlertFailed, j.Source, reason)
	}
}

// gone records that job j's source disappeared before it ran: the job is
// dropped and its title (when it has one) is missing until the source is back.
func (q *Queue) gone(j Job) {
	var fresh bool
	err := q.st.Update(func(tx *bolt.Tx) error {
		cur, ok, err := getJob(tx, j.ID)
		if err != nil || !ok || cur.Seq != j.Seq {
			return err
		}
		fresh = true
		return tx.Bucket(bucketJobs).Delete([]byte(j.ID))
	})
	if err == nil && fresh {
		err = q.cat.Missing(j.ID, "no source on disk: copy "+j.Source+" back into media_dir; it is processed again by itself (delete the title to drop it)")
	}
	if err != nil {
		q.log.Error("cannot record a missing source", "source", j.Source, "err", err)
	}
}

// quarantine moves a source into the quarantine folder, keeping its path
// (a number is added when the name is taken), and returns the new path
// relative to the media dir.
func (q *Queue) quarantine(rel string) (string, error) {
	base := path.Join(q.opts.Transcode.QuarantineDir, rel)
	dst := base
	for i := 1; ; i++ {
		if _, err := os.Lstat(q.abs(dst)); errors.Is(err, os.ErrNotExist) {
			break
		}
		ext := path.Ext(base)
		dst = fmt.Sprintf("%s.%d%s", strings.TrimSuffix(base, ext), i, ext)
	}
	if err := os.MkdirAll(filepath.Dir(q.abs(dst)), 0o755); err != nil {
		return "", err
	}
	if err := os.Rename(q.abs(rel), q.abs(dst)); err != nil {
		return "", err
	}
	return dst, nil
}
