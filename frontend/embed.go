// Package frontend holds the browser side of ringbridge: the agent
// softphone, a small custom element (<rb-softphone>) written as plain ES2020
// modules with no build step, its style sheet, the two pages that host it
// (index.html, the full-page softphone at /, and widget.html, the
// embeddable one at /widget) and an example CRM page that embeds the
// widget (examples/), and the admin console (admin.html at /admin).
//
// The files are embedded in the binary, so the server serves them with no
// files on disk and `go build` needs no npm step. The element speaks the
// agent websocket protocol of docs/protocol.md (server/wsproto); the
// widget's postMessage API is docs/widget-api.md. The browser tests in
// test/ are not embedded.
package frontend

import "embed"

// FS holds the pages, scripts and style sheet at its root and the example
// CRM host page under examples/.
//
//go:embed *.html *.js *.css examples
var FS embed.FS
