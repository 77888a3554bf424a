// Package nettest runs ringbridge across real networks built from Linux
// network namespaces: agents and a carrier behind a NAT router
// (iptables MASQUERADE/SNAT), a firewall that drops UDP, a TURN relay
// (coturn), and the shipped widget in Chromium whose address changes
// mid-call. The tests need root and carry the build tag "nettest"; run
// them with `make test-net`, which installs iproute2, iptables, conntrack,
// coturn and chromium from Debian first. Nothing here is built without
// the tag.
//
// # Concurrency
//
// Each test owns its namespaces and processes and removes them in its
// cleanup, whatever happened; names carry the test process's PID so two
// runs never meet.
package nettest
