package appliance

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/signal"
	"reflect"
	"slices"
	"strings"
	"sync"
	"syscall"

	"github.com/coreos/go-systemd/v22/daemon"

	"thecure/appliance/backup"
	"thecure/appliance/bot"
	"thecure/appliance/config"
	"thecure/appliance/ftps"
	"thecure/appliance/rtmp"
)

// liveConfig is a service that takes part of a new configuration while it
// runs, without dropping its connections (SIGHUP, systemctl reload).
type liveConfig interface {
	// LiveKeys are the config keys (dotted paths, as in problems) Reload applies.
	LiveKeys() []string
	// Reload checks the new configuration's live keys and applies them; on
	// an error nothing changed.
	Reload(cfg *config.Config) error
}

var (
	_ liveConfig = (*rtmp.Server)(nil)
	_ liveConfig = (*ftps.Server)(nil)
	_ liveConfig = (*bot.Bot)(nil)
	_ liveConfig = (*backup.Service)(nil)
)

// reloadState is what a reload needs: the log level to change, the config in
// force (the one the last reload applied), one reload at a time.
type reloadState struct {
	mu      sync.Mutex
	level   *slog.LevelVar // nil: the level cannot change live
	current *config.Config
}

// handleReloads reloads the configuration on every SIGHUP until ctx ends;
// the returned function stops listening.
func (a *app) handleReloads(ctx context.Context) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				a.reloadConfig()
			}
		}
	}()
	return func() {
		signal.Stop(hup)
		<-done
	}
}

// liveServices are the running services that apply live keys.
func (a *app) liveServices() map[string]liveConfig {
	m := map[string]liveConfig{}
	if a.rtmp != nil {
		m["rtmp"] = a.rtmp
	}
	if a.ftps != nil {
		m["ftps"] = a.ftps
	}
	if a.alerts.bot != nil {
		m["bot"] = a.alerts.bot
	}
	if a.backup != nil {
		m["backup"] = a.backup
	}
	if a.dns != nil {
		m["dns"] = a.dns
	}
	return m
}

// reloadConfig re-reads and checks the config file. A file with problems is
// refused, each problem logged, and thecure runs on as it was. Otherwise the
// keys that can change live are applied (users' and folders' rights, allow
// lists, stream keys, the bot's menu and allow-list, the log level, the
// backup schedule) and the changed keys that need a restart are named.
// Users and groups live in the store: their changes apply at once anyway.
func (a *app) reloadConfig() {
	r := &a.reload
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.current == nil {
		r.current = a.cfg
	}
	a.notify(daemon.SdNotifyReloading)
	defer a.notify(daemon.SdNotifyReady)
	if a.cfgFile == "" {
		a.log.Info("reload: running on built-in defaults; there is no file to read")
		return
	}
	a.log.Info("reloading the configuration", "config", a.cfgFile)
	cfg, warnings, err := config.Load(a.cfgFile)
	if err != nil {
		var probs config.Problems
		if errors.As(err, &probs) {
			for _, p := range probs {
				a.log.Error("reload refused: "+p.String(), "config", a.cfgFile)
			}
		} else {
			a.log.Error("reload refused", "config", a.cfgFile, "err", err)
		}
		a.log.Error("reload refused; thecure runs on with the configuration it had", "problems", max(1, len(probs)))
		return
	}
	for _, w := range warnings {
		a.log.Warn(w)
	}

	changed := changedKeys(r.current, cfg)
	live := []string{"log.level"}
	for name, svc := range a.liveServices() {
		keys := svc.LiveKeys()
		if !slices.ContainsFunc(changed, func(k string) bool { return coveredBy(k, keys) }) {
			live = append(live, keys...)
			continue
		}
		if err := svc.Reload(cfg); err != nil {
			a.log.Error("reload: "+name+" kept its settings", "err", err)
			continue
		}
		live = append(live, keys...)
	}
	if r.level != nil && cfg.Log.Level != r.current.Log.Level {
		var lv slog.Level
		if err := lv.UnmarshalText([]byte(cfg.Log.Level)); err == nil {
			r.level.Set(lv)
		}
	}
	var applied, restart []string
	for _, k := range changed {
		if coveredBy(k, live) {
			applied = append(applied, k)
		}
	}
	// Keys needing a restart count from the config the process started
	// with: a later reload that changes something else still names them.
	for _, k := range changedKeys(a.cfg, cfg) {
		if !coveredBy(k, live) {
			restart = append(restart, k)
		}
	}
	// What was not applied stays as it runs: the next reload compares
	// with what is in force.
	next := *cfg
	for _, k := range changed {
		if !coveredBy(k, live) {
			copyKey(&next, r.current, k)
		}
	}
	r.current = &next
	a.log.Info("configuration reloaded", "applied", strings.Join(applied, " "), "unchanged", len(changed) == 0)
	if len(restart) > 0 {
		a.log.Warn("changed keys that take effect only after a restart (systemctl restart thecure)", "keys", strings.Join(restart, " "))
	}
}

// coveredBy reports whether key is one of keys or below one of them.
func coveredBy(key string, keys []string) bool {
	for _, k := range keys {
		if key == k || strings.HasPrefix(key, k+".") || strings.HasPrefix(key, k+"[") {
			return true
		}
	}
	return false
}

// changedKeys lists the config keys (dotted toml paths) whose values differ.
// Tables are walked; arrays, maps and values are compared whole.
func changedKeys(a, b *config.Config) []string {
	var out []string
	diffValue(reflect.ValueOf(a).Elem(), reflect.ValueOf(b).Elem(), "", &out)
	return out
}

func diffValue(a, b reflect.Value, path string, out *[]string) {
	if a.Kind() == reflect.Struct && hasTOMLFields(a.Type()) {
		t := a.Type()
		for i := range t.NumField() {
			name := tomlName(t.Field(i))
			if name == "" {
				continue
			}
			if path != "" {
				name = path + "." + name
			}
			diffValue(a.Field(i), b.Field(i), name, out)
		}
		return
	}
	if !reflect.DeepEqual(a.Interface(), b.Interface()) {
		*out = append(*out, path)
	}
}

// copyKey sets the value at key in dst to src's.
func copyKey(dst, src *config.Config, key string) {
	d, s := reflect.ValueOf(dst).Elem(), reflect.ValueOf(src).Elem()
	for _, part := range strings.Split(key, ".") {
		t := d.Type()
		found := false
		for i := range t.NumField() {
			if tomlName(t.Field(i)) == part {
				d, s, found = d.Field(i), s.Field(i), true
				break
			}
		}
		if !found {
			return
		}
	}
	d.Set(s)
}

func hasTOMLFields(t reflect.Type) bool {
	for i := range t.NumField() {
		if tomlName(t.Field(i)) != "" {
			return true
		}
	}
	return false
}

func tomlName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
	switch name {
	case "-":
		return ""
	case "":
		if f.Tag.Get("toml") == "" {
			return ""
		}
	}
	return name
}
