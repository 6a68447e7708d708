package appliance

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"thecure/appliance/apptest"
	"thecure/appliance/webui/browsertest"
)

// ftpsLogin tells whether user:password logs in over FTPS (a listing).
func ftpsLogin(ftpAddr, user, password string) bool {
	return exec.Command("curl", "-sS", "--ssl-reqd", "-k", "--user", user+":"+password, "ftp://"+ftpAddr+"/").Run() == nil
}

// TestWebManage: from /admin/manage an admin adds a user who then logs in
// over FTPS, resets that user's password (shown once; the old one stops
// working), retries a failed title (queued again) and deletes the user; a
// post without the CSRF token is refused and changes nothing; every action
// is in the audit log on the page with the admin's name; at 390 px the page
// is not wider than the screen.
func TestWebManage(t *testing.T) {
	w := startWeb(t, nil)
	password := readFirstPassword(t, waitLog(t, w.p, firstPasswordLog, 30*time.Second)[1])
	ftpAddr := waitLog(t, w.p, `msg=listening svc=\S+ key=ftp.listen addr=(\S+)`, 30*time.Second)[1]

	broken := filepath.Join(t.TempDir(), "Broken.Film.2026.mp4")
	if err := os.WriteFile(broken, []byte(strings.Repeat("not a video ", 1000)), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("curl", "-sS", "--ssl-reqd", "-k", "--user", "admin:"+password,
		"-T", broken, "ftp://"+ftpAddr+"/pelis/").CombinedOutput(); err != nil {
		t.Fatalf("FTPS upload: %v\n%s", err, out)
	}
	apptest.WaitFor(t, time.Minute, "the broken upload to fail", func() bool {
		var items []libraryItem
		getJSON(t, w.base+"/api/library", &items)
		for _, it := range items {
			if it.State == "failed" {
				return true
			}
		}
		return false
	})

	ctx := browsertest.New(t, 3*time.Minute)
	if err := chromedp.Do(ctx, chromedp.Navigate(w.base+"/login?next=%2Fadmin%2Fmanage"),
		chromedp.SendKeys(`input[name=user]`, "admin"),
		chromedp.SendKeys(`input[name=password]`, password),
		chromedp.Submit(`form#login`),
		chromedp.WaitVisible(`form#add-user`),
	); err != nil {
		t.Fatalf("admin login: %v", err)
	}

	// Add a user from the page; it logs in over FTPS.
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(`#add-user input[name=name]`, "ana"),
		chromedp.SendKeys(`#add-user input[name=password]`, "ana-password-2026"),
		chromedp.Submit(`#add-user`),
		chromedp.WaitVisible(`#notice`),
		chromedp.WaitReady(`li.user[data-user="ana"]`),
	); err != nil {
		t.Fatalf("add a user: %v", err)
	}
	if !ftpsLogin(ftpAddr, "ana", "ana-password-2026") {
		t.Fatal("the user added on the page cannot log in over FTPS")
	}

	// A post without the CSRF token is refused and deletes nothing.
	code, err := chromedp.Run(ctx, chromedp.Evaluate[int](`fetch('/admin/manage', {method: 'POST', credentials: 'same-origin',
		body: new URLSearchParams({action: 'user.delete', name: 'ana'})}).then(function (r) { return r.status })`, chromedp.EvalAwaitPromise))
	if err != nil || code != 403 {
		t.Errorf("a post without CSRF token: %d %v, want 403", code, err)
	}
	if !ftpsLogin(ftpAddr, "ana", "ana-password-2026") {
		t.Error("a post without CSRF token deleted the user")
	}

	// A new password, shown once; the old one stops working.
	if err := chromedp.Do(ctx, chromedp.Click(`li.user[data-user="ana"] summary`),
		chromedp.Click(`li.user[data-user="ana"] button.reset`), chromedp.WaitVisible(`#new-password code`)); err != nil {
		t.Fatalf("reset the password: %v", err)
	}
	newPW, _ := chromedp.Run(ctx, chromedp.Text(`#new-password code`))
	if len(newPW) < 20 || !ftpsLogin(ftpAddr, "ana", newPW) {
		t.Errorf("the new password %q does not log in", newPW)
	}
	if ftpsLogin(ftpAddr, "ana", "ana-password-2026") {
		t.Error("the old password still logs in")
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(w.base+"/admin/manage"), chromedp.WaitVisible(`#users`)); err != nil {
		t.Fatal(err)
	}
	if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#new-password').length`)); n != 0 {
		t.Error("the new password is shown again")
	}

	// Retry the failed title: it is queued again.
	queued := func() int {
		return len(regexp.MustCompile(`msg=queued svc=transcode source=pelis/Broken`).FindAllString(w.p.output(), -1))
	}
	before := queued()
	if err := chromedp.Do(ctx, chromedp.Click(`li.title[data-state="failed"] button.retry`), chromedp.WaitVisible(`#notice`)); err != nil {
		t.Fatalf("retry: %v", err)
	}
	apptest.WaitFor(t, 10*time.Second, "the retried title queued again", func() bool { return queued() > before })

	// Delete the user.
	if err := chromedp.Do(ctx, chromedp.Click(`li.user[data-user="ana"] summary`),
		chromedp.Click(`li.user[data-user="ana"] button.danger`),
		// the retry's notice is still on the page: wait for the page without ana
		chromedp.WaitNotPresent(`li.user[data-user="ana"]`), chromedp.WaitVisible(`#notice`)); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if ftpsLogin(ftpAddr, "ana", newPW) {
		t.Error("the deleted user still logs in")
	}

	audit, _ := chromedp.Run(ctx, chromedp.Text(`#audit`))
	for _, want := range []string{"admin user.add ana", "admin user.password ana", "admin title.retry pelis/Broken.Film.2026.mp4", "admin user.delete ana"} {
		if !strings.Contains(strings.Join(strings.Fields(audit), " "), want) {
			t.Errorf("the audit log lacks %q:\n%s", want, audit)
		}
	}
	if strings.Count(audit, "user.delete") != 1 {
		t.Errorf("the refused post is in the audit log as a deletion:\n%s", audit)
	}

	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulatePortrait, chromedp.EmulateScale(3)),
		chromedp.Navigate(w.base+"/admin/manage"), chromedp.WaitVisible(`#audit`)); err != nil {
		t.Fatal(err)
	}
	if sw, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`)); sw > 390 {
		t.Errorf("/admin/manage at 390 px is %d px wide", sw)
	}
	browsertest.Screenshot(t, ctx, "e2e-manage-phone")
}
