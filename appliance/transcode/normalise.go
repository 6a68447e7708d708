package transcode

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"thecure/appliance/ffmpeg"
	"thecure/appliance/library"
)

// Normalisation: a playout channel airs titles as they are packaged, with
// no live encoding. A title without a rendition of the channel's profile
// (another size, another audio) gets one made once, ahead of air time, by
// a job of this queue (durable, shown in /api/jobs, run again after a
// restart), written beside its other renditions as NormalisedName(w, h).

// NormalisedName is the directory, in a title's HLS directory, of its
// rendition normalised for channels of that size.
func NormalisedName(width, height int) string { return fmt.Sprintf("ch-%dx%d", width, height) }

// normaliseID is the job id of a normalisation (beside the title's own job).
func normaliseID(id string, width, height int) string {
	return id + "~" + NormalisedName(width, height)
}

// Normalise queues a job that makes title id's rendition for channels of
// width x height (H.264 padded to that size, AAC 48 kHz stereo), unless
// one is queued or running, or made already.
func (q *Queue) Normalise(ctx context.Context, id string, width, height int) error {
	it, ok, err := q.cat.Get(id)
	if err != nil || !ok {
		return err
	}
	jid := normaliseID(id, width, height)
	out := filepath.Join(q.cat.Dir(id), NormalisedName(width, height))
	queued := false
	err = q.st.Update(func(tx *bolt.Tx) error {
		j, found, err := getJob(tx, jid)
		if err != nil {
			return err
		}
		if found && (j.State == Pending || j.State == Running) {
			return nil
		}
		if found && j.State == Failed && j.Enqueued.After(it.Updated) {
			return nil // failed for this version of the title: not again
		}
		if found && j.State == Done {
			if _, err := os.Stat(filepath.Join(out, "index.m3u8")); err == nil {
				return nil
			}
		}
		b, err := tx.CreateBucketIfNotExists(bucketJobs)
		if err != nil {
			return err
		}
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		queued = true
		return putJob(tx, Job{ID: jid, Source: it.Source, Folder: "channel", State: Pending, Seq: seq,
			Enqueued: time.Now().UTC(), Method: MethodNormalise, Title: id, Width: width, Height: height})
	})
	if err != nil {
		return fmt.Errorf("normalise %s: %w", id, err)
	}
	if queued {
		q.log.Info("queued a normalisation for channels", "source", it.Source, "id", id, "size", fmt.Sprintf("%dx%d", width, height))
		q.signal()
	}
	return nil
}

// MethodNormalise is the method of a normalisation job.
const MethodNormalise = "normalise"

// normalise runs a normalisation job: the title's source (or, when it is
// gone, its largest rendition) encoded to one rendition, staged, then
// renamed into the title's directory.
func (q *Queue) normalise(ctx context.Context, j Job, l *liveJob) error {
	it, ok, err := q.cat.Get(j.Title)
	if err != nil {
		return err
	}
	if !ok {
		return errTitleGone
	}
	if it.State != library.StateReady {
		return errors.New("the title is not ready")
	}
	input := q.abs(it.Source)
	if _, err := os.Stat(input); err != nil {
		best := -1
		for i, v := range it.Variants {
			if best < 0 || v.Height > it.Variants[best].Height {
				best = i
			}
		}
		if best < 0 {
			return errors.New("neither the source nor a rendition is there")
		}
		input = filepath.Join(q.cat.Dir(it.ID), it.Variants[best].Name, library.MasterPlaylist)
	}
	stage := q.cat.StagingDir(j.ID, j.Seq)
	if err := os.RemoveAll(stage); err != nil {
		return err
	}
	if err := os.MkdirAll(stage, 0o755); err != nil {
		return err
	}
	defer q.removeStage(stage)
	name := NormalisedName(j.Width, j.Height)
	w, h := j.Width, j.Height
	ks := q.opts.Transcode.SegmentDuration.Std().Seconds()
	// a title without sound gets silence: a channel's stream has audio
	audio := []string{"-map", "0:a:0"}
	probe, err := q.tools.Probe(ctx, input)
	if err != nil {
		return err
	}
	if probe.Audio() == nil {
		audio = []string{"-f", "lavfi", "-i", "anullsrc=r=48000:cl=stereo", "-map", "1:a", "-shortest"}
	}
	args := []string{"-hide_banner", "-nostdin", "-nostats", "-loglevel", "error", "-progress", "pipe:3",
		"-i", ffmpeg.Input(input)}
	args = append(args, audio...)
	args = append(args, "-map", "0:v:0",
		"-vf", fmt.Sprintf("scale=%d:%d:force_original_aspect_ratio=decrease,pad=%d:%d:(ow-iw)/2:(oh-ih)/2,setsar=1,format=yuv420p", w, h, w, h),
		"-c:v", "libx264", "-preset", q.opts.Transcode.Preset, "-profile:v", "high",
		"-sc_threshold", "0", "-force_key_frames", fmt.Sprintf("expr:gte(t,n_forced*%g)", ks),
		"-c:a", "aac", "-b:a", fmt.Sprintf("%dk", q.opts.Transcode.AudioKbps), "-ar", "48000", "-ac", "2",
		"-sn", "-dn", "-map_metadata", "-1", "-max_muxing_queue_size", "4096",
		"-f", "mp4", "-movflags", "+empty_moov+default_base_moof", "-frag_duration", "1000000", "pipe:1")
	total := it.Duration
	err = q.tools.Run(ctx, ffmpeg.Cmd{
		Args: args,
		Stdout: func(r io.Reader) error {
			_, err := library.Package(r, stage, library.PackageOptions{
				SegmentDuration: q.opts.Transcode.SegmentDuration.Std(),
				Format:          q.opts.Transcode.SegmentFormat,
				Names:           []string{name},
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
	if err != nil {
		return err
	}
	dst := filepath.Join(q.cat.Dir(it.ID), name)
	if err := os.RemoveAll(dst); err != nil {
		return err
	}
	return os.Rename(filepath.Join(stage, name), dst)
}

// errTitleGone: the title of a normalisation was removed meanwhile.
var errTitleGone = errors.New("the title is gone")

// NormalisedName is the package's NormalisedName, for channels.
func (q *Queue) NormalisedName(width, height int) string { return NormalisedName(width, height) }

// runNormalise is process for a normalisation job.
func (q *Queue) runNormalise(ctx context.Context, j Job, l *liveJob) {
	jerr := q.normalise(ctx, j, l)
	if ctx.Err() != nil {
		return // shutdown: it runs again at the next start
	}
	if errors.Is(jerr, errTitleGone) {
		// nothing to make, nobody to tell: the job goes with its title
		if err := q.st.Update(func(tx *bolt.Tx) error {
			if b := tx.Bucket(bucketJobs); b != nil {
				return b.Delete([]byte(j.ID))
			}
			return nil
		}); err != nil {
			q.log.Error("cannot forget a normalisation", "id", j.ID, "err", err)
		}
		return
	}
	now := time.Now().UTC()
	uerr := q.st.Update(func(tx *bolt.Tx) error {
		cur, found, err := getJob(tx, j.ID)
		if err != nil || !found || cur.Seq != j.Seq {
			return err
		}
		cur.State, cur.Finished, cur.Progress, cur.Error = Done, now, 100, ""
		if jerr != nil {
			cur.State, cur.Error, cur.Progress = Failed, shorten(jerr.Error()), 0
		}
		return putJob(tx, cur)
	})
	if uerr != nil {
		q.log.Error("cannot record a normalisation's end", "id", j.ID, "err", uerr)
	}
	if jerr != nil {
		q.log.Error("normalisation failed; the title stays off the channels of that size", "source", j.Source, "err", jerr)
		if q.opts.Alerter != nil {
			q.opts.Alerter.Alert(context.WithoutCancel(ctx), AlertFailed, j.Source+" ("+strings.TrimPrefix(NormalisedName(j.Width, j.Height), "ch-")+")", jerr.Error())
		}
		return
	}
	q.log.Info("normalised for channels", "source", j.Source, "size", fmt.Sprintf("%dx%d", j.Width, j.Height))
}
