// Package frontend holds the browser side of ringbridge: the minimal agent
// softphone page (index.html), its script (softphone.js, a plain ES2020
// module with no build step) and its style sheet (softphone.css).
//
// The files are embedded in the binary, so the server serves them with no
// files on disk and `go build` needs no npm step. The page speaks the agent
// websocket protocol described in docs/protocol.md (server/wsproto).
package frontend

import "embed"

// FS holds index.html, softphone.js and softphone.css at its root.
//
//go:embed index.html softphone.js softphone.css
var FS embed.FS
