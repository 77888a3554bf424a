// Command ringbridge is a browser softphone and CTI backend: agents take
// and place phone calls in a browser tab, bridged to SIP trunks.
//
//	ringbridge serve   [-config file]           run the server (default)
//	ringbridge dial    [flags] NUMBER            call a number on a ringbridge server
//	ringbridge answer  [flags]                   a stand-in carrier that answers calls
//	ringbridge admin   COMMAND [flags]           tenants, users and numbers in the database
//
// main.go only wires the layers together: config → slog → store →
// media → cti → server, and signals.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	// Tenants' time zones (IVR conditions) resolve even on hosts without
	// a zoneinfo database, such as minimal containers.
	_ "time/tzdata"
)

func main() {
	args := os.Args[1:]
	cmd := "serve"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch cmd {
	case "serve":
		err = runServe(ctx, args)
	case "dial":
		err = runDial(ctx, args)
	case "answer":
		err = runAnswer(ctx, args)
	case "admin":
		err = runAdmin(ctx, args, os.Stdout)
	case "help", "-h", "--help":
		fmt.Println("usage: ringbridge [serve|dial|answer|admin] [flags]; ringbridge CMD -h for flags")
		return
	default:
		err = fmt.Errorf("unknown command %q (want serve, dial, answer or admin)", cmd)
	}
	if err != nil {
		slog.Error(cmd+" failed", "err", err)
		os.Exit(1)
	}
}

func newLogger(level string) *slog.Logger {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		lv = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: lv}))
}
