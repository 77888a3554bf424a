// Command analysis is an example post-call analysis service for
// ringbridge: point a webhook endpoint subscribed to
// recording.analysis_requested at it, and each recorded call comes back
// with talk/silence ratios per channel and the DTMF digits heard
// (docs/recordings.md §6). The work is in package analyzer.
//
//	RB_URL=https://pbx.example:8443 RB_API_KEY=rbk_… RB_WEBHOOK_SECRET=whsec_… \
//	  go run ./examples/analysis -listen 127.0.0.1:8090
package main

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/ringbridge/ringbridge/examples/analysis/analyzer"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8090", "address to receive webhooks on")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	cfg := analyzer.Config{Ringbridge: os.Getenv("RB_URL"), APIKey: os.Getenv("RB_API_KEY"), Secret: os.Getenv("RB_WEBHOOK_SECRET"), Log: log}
	if cfg.Ringbridge == "" || cfg.APIKey == "" || cfg.Secret == "" {
		log.Error("set RB_URL, RB_API_KEY and RB_WEBHOOK_SECRET")
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Error("listen", "err", err)
		os.Exit(1)
	}
	srv := &http.Server{Handler: analyzer.Handler(cfg), ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
	}()
	log.Info("analysis service listening", "addr", ln.Addr().String())
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error("serve", "err", err)
		os.Exit(1)
	}
}
