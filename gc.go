package main

import (
	"os"
	"runtime/debug"
	"runtime/metrics"
)

// serverGCPercent is the collector's target for `serve` unless GOGC is
// set: the heap may grow half its live size between collections instead
// of Go's default of all of it. The relay path allocates nothing, so the
// extra collections cost next to nothing (at 200 calls the CPU per
// call-second stayed within the machine's noise, at 500 calls three runs
// in three held without loss) while memory per call fell by a fifth
// (docs/benchmarks.md, 2026-12-07).
const serverGCPercent = 50

// applyGCDefault sets serverGCPercent when the environment has no GOGC,
// and reports the percentage in force (-1: GOGC=off).
func applyGCDefault() int {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(serverGCPercent)
	}
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return int(s[0].Value.Uint64())
}
