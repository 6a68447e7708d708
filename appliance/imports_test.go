package appliance

import (
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// Import rules, in the style of Tailscale's tstest/deptest: the packages
// list comes from `go list -json`, so a new package or a new import has to
// be added here, with its reason, before it passes.

// testHelpers are imported by tests only.
var testHelpers = []string{"thecure/appliance/apptest", "thecure/appliance/webui/browsertest", "thecure/appliance/live/livetest"}

// base packages every feature may import: the configuration, the store, the
// health registry and the control socket (features register their routes).
var base = []string{"config", "store", "health", "control"}

// allowedImports are the thecure packages each package may import besides
// base (names relative to thecure/appliance). A package missing from this
// table fails the test: add it, with the reason for each edge.
var allowedImports = map[string][]string{
	// wiring: the root package builds everything, so it imports everything
	"": {"*"},
	// the command line knows no feature: argument forms are checked by
	// hooks the appliance passes in (cli.Options)
	"cli": {},
	// the base itself
	"config":  {"tlscert"}, // Validate loads the configured certificate and key
	"store":   {},
	"health":  {},
	"control": {"health"}, // GET /status carries the services' health.Service
	// leaves
	"ffmpeg":   {},
	"exepages": {}, // the executable's start-up pages given back
	"procs":    {}, // GOMAXPROCS from the load
	"tlscert":  {},
	"users":    {},
	"live":     {},
	"loginban": {}, // the login-ban type FTPS and the web login share
	"logsafe":  {}, // one way to put a client's value in a log line
	"reason":   {}, // a failure's detail turned into what the public may see
	"sampler":  {}, // the charts' samples of the /metrics registry, kept in the store
	"audit":    {}, // the admin actions' log, kept in the store
	// playout reads the catalogue's titles and their packaged HLS (library),
	// makes its slate with ffmpeg; it feeds the RTMP server through its own
	// Output interface (no rtmp edge)
	"channels": {"library", "ffmpeg"},
	// the edges the architecture names
	"ftps":      {"users", "loginban", "logsafe"}, // FTPS logins are the users' accounts; refusals are banned and logged safely
	"transcode": {"library", "ffmpeg", "reason"},  // jobs run ffmpeg and publish titles; failures shown as reasons
	"rtmp":      {"live", "logsafe"},              // RTMP publishers feed the live hub; refusals logged safely
	"dns":       {"logsafe"},                      // refused transfers logged safely
	// other existing edges, each with its reason
	"library": {"reason"},              // a failed title's public reason
	"backup":  {"library", "s3client"}, // restore reads the catalogue to say which titles' media it lacks; one S3 client builder
	"bot":     {"reason"},              // failures told to users without paths
	"web":     {"logsafe", "reason"},   // the request log clips client values; public states
	"webui":   {"loginban", "logsafe"}, // the web login bans like FTPS (one type) and logs safely

	// [publish.s3]: reads the catalogue's titles, is the live hub's sink,
	// builds its S3 client as backups do (s3client)
	"publish":  {"library", "live", "s3client"},
	"s3client": {},
	// outside appliance/
	"thecure":                     {"*"},      // main: appliance.Main
	"thecure/packaging":           {},         // the package's tests
	"thecure/packaging/genconfig": {"config"}, // the conffile from config.toml.example and Default()
	// test helpers import no thecure package but what they help test
	"apptest":           {},
	"webui/browsertest": {},
	"live/livetest":     {"apptest", "live"}, // clips as access units for the live hub
}

type listedPackage struct {
	ImportPath string
	Imports    []string
	Deps       []string
}

func goList(t *testing.T) []listedPackage {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", "thecure/...")
	cmd.Dir = ".."
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("go list: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list: %v", err)
	}
	var pkgs []listedPackage
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p listedPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 10 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	return pkgs
}

// short is a thecure package's name in allowedImports.
func short(path string) string {
	if s, ok := strings.CutPrefix(path, "thecure/appliance/"); ok {
		return s
	}
	if path == "thecure/appliance" {
		return ""
	}
	return path
}

func TestImportRules(t *testing.T) {
	for _, p := range goList(t) {
		// production code never depends on a test helper, even indirectly
		if !slices.Contains(testHelpers, p.ImportPath) {
			for _, d := range p.Deps {
				if slices.Contains(testHelpers, d) {
					t.Errorf("%s depends on the test helper %s", p.ImportPath, d)
				}
			}
		}
		name := short(p.ImportPath)
		if strings.Contains(name, "/third_party/") {
			continue // vendored patched libraries
		}
		allowed, ok := allowedImports[name]
		if !ok {
			t.Errorf("package %s is not in allowedImports: add it with the thecure packages it may import", p.ImportPath)
			continue
		}
		if slices.Contains(allowed, "*") {
			continue
		}
		for _, imp := range p.Imports {
			if imp != "thecure" && !strings.HasPrefix(imp, "thecure/") {
				continue
			}
			if strings.Contains(imp, "/third_party/") {
				continue
			}
			dep := short(imp)
			// the base, the command line and the test helpers get only what is listed
			strict := slices.Contains(base, name) || name == "cli" || slices.Contains(testHelpers, p.ImportPath)
			baseOK := slices.Contains(base, dep) && !strict
			if !baseOK && !slices.Contains(allowed, dep) {
				t.Errorf("%s imports %s: not an edge the architecture names (allowedImports)", p.ImportPath, imp)
			}
		}
	}
}
