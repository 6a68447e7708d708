package appliance

import (
	"testing"

	"thecure/appliance/backup"
	"thecure/appliance/bot"
	"thecure/appliance/channels"
	s3pub "thecure/appliance/publish"
	"thecure/appliance/transcode"
)

// TestAlertKeys: the alerts that transcode and backup raise are keys the
// bot words in its language (an unknown key would reach admins raw).
func TestAlertKeys(t *testing.T) {
	for feature, pair := range map[string][2]string{
		"transcode failed": {transcode.AlertFailed, bot.AlertTranscodeFailed},
		"backup failed":    {backup.AlertFailed, bot.AlertBackupFailed},
		"backup damaged":   {backup.AlertDamaged, bot.AlertBackupDamaged},
		"backup warning":   {backup.AlertWarning, bot.AlertBackupWarning},
		"publish failed":   {s3pub.AlertFailed, bot.AlertPublishFailed},
		"channel title":    {channels.AlertUnreadable, bot.AlertChannelTitle},
	} {
		if pair[0] != pair[1] {
			t.Errorf("%s: raised as %q, the bot knows %q", feature, pair[0], pair[1])
		}
	}
}
