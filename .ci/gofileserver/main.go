// Command gofileserver is .ci/bench-live's Go baseline: the least a Go
// program does to serve HLS files over HTTP (net/http's FileServer, which
// sends files with sendfile). bench-live has it serve nginx-rtmp's HLS
// folder to the same clients as nginx and thecure, so the figures show how
// much of thecure's cost per request any Go server pays.
//
//	gofileserver -addr 127.0.0.1:PORT -dir DIR   (serves DIR as /hls/)
package main

import (
	"flag"
	"log"
	"net/http"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	dir := flag.String("dir", ".", "folder served as /hls/")
	flag.Parse()
	files := http.StripPrefix("/hls/", http.FileServer(http.Dir(*dir)))
	log.Fatal(http.ListenAndServe(*addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache") // as nginx's location in bench-live
		files.ServeHTTP(w, r)
	})))
}
