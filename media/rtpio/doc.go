// Package rtpio is the RTP plumbing shared by both kinds of leg: frames,
// sinks, the sequence/timestamp rewriter that keeps one continuous stream
// toward a party while its source changes (call to call, audio to DTMF),
// the RTP port allocator and the UDP media socket of a SIP leg.
//
// # Concurrency
//
// A socket is read by one goroutine only: on Linux a poller (one per
// CPU for the RTP sockets of SIP legs and the shared WebRTC sockets,
// one for RTCP), elsewhere a read loop per socket. It hands each packet
// to the sink currently linked (an atomic pointer, so linking and
// unlinking take no lock on the hot path), inline. A sink's WriteFrame
// may be called from two goroutines at once only while DTMF is being
// injected; it serialises with a mutex that is otherwise uncontended.
// A Sender is one writer's scratch and sends under that writer's lock.
// A SendQueue belongs to one poller: frames it reads carry it
// (Frame.Sends) through the sinks, all inline on its goroutine, and it
// sends what they queued when the round ends; nothing else touches it.
package rtpio
