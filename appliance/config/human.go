package config

import "github.com/dustin/go-humanize"

// HumanBytes writes a size for people ("1.5 GiB", "512 B"): the one byte
// formatter of the command line, the pages and the bot.
func HumanBytes[T int64 | uint64 | ByteSize](n T) string {
	if n < 0 {
		return "-" + humanize.IBytes(uint64(-n))
	}
	return humanize.IBytes(uint64(n))
}
