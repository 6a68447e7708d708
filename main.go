// Command thecure is a streaming appliance in one binary; see README.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"thecure/appliance"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second signal kills at once
	}()
	os.Exit(appliance.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
