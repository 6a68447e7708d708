package ftps

import (
	"strings"
	"testing"

	"thecure/appliance/config"
)

// TestReloadFolderRights: a reload that takes innovatech's write right on
// /pelis away applies to a session logged in before it, leaves the other
// folders alone, and a renamed folder (that needs a restart) is refused
// without changing anything.
func TestReloadFolderRights(t *testing.T) {
	e := start(t, nil)
	u := e.login(uploader)
	if err := u.Stor("/pelis/before.mkv", strings.NewReader("data")); err != nil {
		t.Fatalf("the uploader cannot upload to /pelis before the reload: %v", err)
	}
	renamed := config.Default()
	renamed.FTP.Folders[0].Name = "films"
	if err := e.srv.Reload(renamed); err == nil || !strings.Contains(err.Error(), "restart") {
		t.Errorf("Reload of a renamed folder: %v, want a refusal naming the restart", err)
	}
	if err := u.Stor("/pelis/still.mkv", strings.NewReader("data")); err != nil {
		t.Errorf("a refused reload changed the rights: %v", err)
	}
	cfg := config.Default()
	for i := range cfg.FTP.Folders {
		if cfg.FTP.Folders[i].Name == "pelis" {
			cfg.FTP.Folders[i].WriteGroups = []string{"admin"}
		}
	}
	if err := e.srv.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	if err := u.Stor("/pelis/after.mkv", strings.NewReader("data")); err == nil {
		t.Error("after the reload the uploader (innovatech) still uploads to /pelis")
	}
	if err := u.Stor("/series/Show.S01E01.mkv", strings.NewReader("data")); err != nil {
		t.Errorf("the uploader lost /series, which the reload did not change: %v", err)
	}
	if err := e.login(boss).Stor("/pelis/boss.mkv", strings.NewReader("data")); err != nil {
		t.Errorf("admin cannot upload to /pelis after the reload: %v", err)
	}
}
