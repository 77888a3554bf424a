// Package rtpio is the RTP plumbing shared by both kinds of leg: frames,
// sinks, the sequence/timestamp rewriter that keeps one continuous stream
// toward a party while its source changes (call to call, audio to DTMF),
// the RTP port allocator and the UDP media socket of a SIP leg.
//
// # Concurrency
//
// A leg's read loop is the only goroutine that reads its socket; it hands
// each packet to the sink currently linked (an atomic pointer, so linking
// and unlinking take no lock on the hot path). A sink's WriteFrame may be
// called from two read loops at once only while DTMF is being injected; it
// serialises with a mutex that is otherwise uncontended.
package rtpio
