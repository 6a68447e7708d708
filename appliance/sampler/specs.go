package sampler

// Charts and their series, as the admin page draws them. Every Metric here
// is one /metrics exposes (a test in appliance checks it on the running
// appliance).
var defaultSpecs = []Spec{
	{Name: "cpu/thecure", Metric: "process_cpu_seconds_total", Kind: Rate, Scale: 100, Chart: "cpu", Unit: "%"},
	{Name: "cpu/children", Metric: "thecure_children_cpu_seconds_total", Kind: Rate, Scale: 100, Chart: "cpu", Unit: "%"},
	{Name: "rss", Metric: "process_resident_memory_bytes", Chart: "memory", Unit: "B"},
	{Name: "children_rss", Metric: "thecure_children_resident_memory_bytes", Chart: "memory", Unit: "B"},
	{Name: "disk_free", Metric: "thecure_filesystem_avail_bytes", By: "fs", Chart: "disk", Unit: "B"},
	{Name: "net/ftps_in", Metric: "thecure_ftp_received_bytes_total", Kind: Rate, Chart: "net", Unit: "B/s"},
	{Name: "net/ftps_out", Metric: "thecure_ftp_sent_bytes_total", Kind: Rate, Chart: "net", Unit: "B/s"},
	{Name: "net/rtmp_in", Metric: "thecure_live_bytes_in_total", Kind: Rate, Chart: "net", Unit: "B/s"},
	{Name: "net/rtmp_out", Metric: "thecure_rtmp_bytes_out_total", Kind: Rate, Chart: "net", Unit: "B/s"},
	{Name: "net/http_out", Metric: "thecure_http_sent_bytes_total", Kind: Rate, Chart: "net", Unit: "B/s"},
	{Name: "viewers/hls", Metric: "thecure_live_hls_viewers", Chart: "viewers", Unit: ""},
	{Name: "viewers/rtmp", Metric: "thecure_rtmp_players", Chart: "viewers", Unit: ""},
	{Name: "stream", Metric: "thecure_live_viewers", By: "stream", Chart: "streams", Unit: ""},
	{Name: "ftp_sessions", Metric: "thecure_ftp_sessions", Chart: "ftp", Unit: ""},
	{Name: "ftp_transfers", Metric: "thecure_ftp_transfers", Chart: "ftp", Unit: ""},
	{Name: "logins/ftp_ok", Metric: "thecure_ftp_logins_total", Match: map[string]string{"result": "ok"}, Kind: Rate, Scale: 60, Chart: "logins", Unit: "/min"},
	{Name: "logins/ftp_failed", Metric: "thecure_ftp_logins_total", Match: map[string]string{"result": "failed"}, Kind: Rate, Scale: 60, Chart: "logins", Unit: "/min"},
	{Name: "logins/web_ok", Metric: "thecure_web_logins_total", Match: map[string]string{"result": "ok"}, Kind: Rate, Scale: 60, Chart: "logins", Unit: "/min"},
	{Name: "logins/web_refused", Metric: "thecure_web_logins_total", Match: map[string]string{"result": "refused"}, Kind: Rate, Scale: 60, Chart: "logins", Unit: "/min"},
	{Name: "logins/bans", Metric: "thecure_ftp_bans_total", Kind: Rate, Scale: 60, Chart: "logins", Unit: "/min"},
	{Name: "transcode/pending", Metric: "thecure_transcode_pending_jobs", Chart: "transcode", Unit: ""},
	{Name: "transcode/running", Metric: "thecure_transcode_running_jobs", Chart: "transcode", Unit: ""},
	{Name: "transcode/speed", Metric: "thecure_transcode_media_seconds_total", Kind: Rate, Chart: "transcode", Unit: "×"},
	{Name: "backup/size", Metric: "thecure_backup_last_size_bytes", Chart: "backup", Unit: "B"},
	{Name: "backup/duration", Metric: "thecure_backup_last_duration_seconds", Chart: "backup", Unit: "s"},
}

// DefaultSpecs are the admin page's series.
func DefaultSpecs() []Spec {
	out := make([]Spec, len(defaultSpecs))
	copy(out, defaultSpecs)
	return out
}
