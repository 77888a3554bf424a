//go:build race

package server

// raceEnabled: the race detector keeps shadow memory for every byte the
// program touches, which inflates RSS (not the Go heap) several times.
const raceEnabled = true
