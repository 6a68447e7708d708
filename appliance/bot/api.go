package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/NicoNex/echotron/v3"
	"github.com/cenkalti/backoff/v5"

	"thecure/appliance/health"
)

// apiError is an error answer of the Bot API.
type apiError struct {
	Code       int
	Desc       string
	RetryAfter time.Duration // from a 429's parameters.retry_after
}

func (e *apiError) Error() string { return fmt.Sprintf("bot api: %d %s", e.Code, e.Desc) }

// poller long-polls getUpdates itself: echotron's client has no context and
// no timeout, so a poll could not be stopped when the appliance stops.
type poller struct {
	base  string // api_url + "/bot" + token + "/"
	token string
	hc    *http.Client
}

type updatesResponse struct {
	OK          bool                         `json:"ok"`
	Result      []*echotron.Update           `json:"result"`
	ErrorCode   int                          `json:"error_code"`
	Description string                       `json:"description"`
	Parameters  *echotron.ResponseParameters `json:"parameters"`
}

// getUpdates asks for the updates from offset on, waiting up to timeout for
// one to arrive.
func (p *poller) getUpdates(ctx context.Context, offset int, timeout time.Duration) ([]*echotron.Update, error) {
	q := url.Values{}
	q.Set("offset", strconv.Itoa(offset))
	q.Set("timeout", strconv.Itoa(int(timeout/time.Second)))
	q.Set("allowed_updates", `["message","callback_query"]`)
	ctx, cancel := context.WithTimeout(ctx, timeout+15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.base+"getUpdates?"+q.Encode(), nil)
	if err != nil {
		return nil, redact(err, p.token)
	}
	resp, err := p.hc.Do(req)
	if err != nil {
		return nil, redact(err, p.token)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return nil, redact(err, p.token)
	}
	var r updatesResponse
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("getUpdates: %s: not a Bot API answer", resp.Status)
	}
	if !r.OK {
		e := &apiError{Code: r.ErrorCode, Desc: r.Description}
		if r.Parameters != nil {
			e.RetryAfter = time.Duration(r.Parameters.RetryAfter) * time.Second
		}
		return nil, fmt.Errorf("getUpdates: %w", e)
	}
	return r.Result, nil
}

// redact removes the token from an error (net/http errors carry the URL,
// and the URL carries the token).
func redact(err error, token string) error {
	if err == nil || token == "" || !strings.Contains(err.Error(), token) {
		return err
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s bot api: %w", strings.ToLower(ue.Op), ue.Err)
	}
	return errors.New(strings.ReplaceAll(err.Error(), token, "<token>"))
}

var retryAfterRE = regexp.MustCompile(`retry after (\d+)`)

// asAPIError converts echotron's error (which keeps only code and
// description) to ours, reading retry_after from the description.
func asAPIError(err error) (*apiError, bool) {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae, true
	}
	var ee *echotron.APIError
	if !errors.As(err, &ee) {
		return nil, false
	}
	ae = &apiError{Code: ee.ErrorCode(), Desc: ee.Description()}
	if m := retryAfterRE.FindStringSubmatch(ee.Description()); m != nil {
		if n, err := strconv.Atoi(m[1]); err == nil { // only digits: fails on overflow alone
			ae.RetryAfter = time.Duration(n) * time.Second
		}
	}
	return ae, true
}

// maxRetryAfter bounds how long one call waits on a 429.
const maxRetryAfter = 5 * time.Minute

// maxInflight bounds the Bot API calls in flight at once. echotron's client
// uses net/http's default transport, which keeps 2 idle connections per
// host: with more calls at once every extra one dials and closes a new
// connection (TLS included, against the real API), which costs more than it
// gains. Waits (429 retry_after, back-off) happen outside the bound, so one
// throttled chat does not hold up the others.
const maxInflight = 2

// call runs one Bot API call through echotron, retrying a 429 after its
// retry_after, and server or network errors with back-off. Other API errors
// (400 bad request, 403 blocked by the user) are not retried.
func (b *Bot) call(ctx context.Context, method string, fn func() error) error {
	return b.callRetry(ctx, method, 3, fn)
}

// callRetry is call with at most retries retries of network and server
// errors (429s are always retried, up to 5 times).
func (b *Bot) callRetry(ctx context.Context, method string, retries int, fn func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var throttled, failed int
	_, err := backoff.Retry(ctx, func() (struct{}, error) {
		select {
		case b.inflight <- struct{}{}:
		case <-ctx.Done():
			return struct{}{}, backoff.Permanent(ctx.Err())
		}
		err := fn()
		<-b.inflight
		if err == nil {
			if b.sendDown.CompareAndSwap(true, false) {
				b.setHealth(health.Up, "@"+b.username())
				b.log.Info("the Bot API answers again")
			}
			return struct{}{}, nil
		}
		b.metrics.apiErrors.WithLabelValues(method).Inc()
		if ae, ok := asAPIError(err); ok {
			switch {
			case ae.Code == http.StatusTooManyRequests && throttled < 5:
				throttled++
				return struct{}{}, &backoff.RetryAfterError{Duration: min(max(ae.RetryAfter, time.Second), maxRetryAfter)}
			case ae.Code >= 500 && failed < retries:
				failed++
				return struct{}{}, ae
			default:
				return struct{}{}, backoff.Permanent(fmt.Errorf("%s: %w", method, ae))
			}
		}
		err = redact(err, b.token)
		if failed >= retries {
			// In webhook mode nothing polls: failed calls are what
			// tells that the Bot API is out of reach.
			if b.cfg.WebhookURL != "" && ctx.Err() == nil && !b.sendDown.Swap(true) {
				b.setHealth(health.Down, "calling the Bot API: "+err.Error())
			}
			return struct{}{}, backoff.Permanent(fmt.Errorf("%s: %w", method, err))
		}
		failed++
		return struct{}{}, err
	}, backoff.WithBackOff(b.newBackOff(30*time.Second)), backoff.WithMaxElapsedTime(0),
		backoff.WithNotify(func(err error, d time.Duration) {
			b.log.Debug("bot api call failed; retrying", "method", method, "err", err, "in", d)
		}))
	return err
}

// sleep waits d or until ctx is done; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
