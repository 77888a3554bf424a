package ctitest

import (
	"bytes"
	"sync"
)

// SyncBuffer collects output written by several goroutines — a child
// process's stdout and stderr copied by exec, a logger shared by a test's
// goroutines — and reads it back whole.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
