// Package ui is tokenledger's web console: three static files (index.html,
// app.js, app.css) embedded in the binary and served by Handler, mounted by
// api at /ui/.
//
// # What it owns
//
// Only the files and the headers they are served with. The page holds no data
// and no secret of the node's: the user pastes an API key, the browser keeps it
// in sessionStorage (gone when the tab closes), and the script calls the
// public /v1 API with it. Every permission is therefore the API's own; the
// console can show nothing the key could not read with curl.
//
// A strict Content-Security-Policy forbids inline script and style and any
// origin but the node's own, so an instrument name or a rejection message is
// only ever text: the script builds the page with createElement and
// textContent, never by parsing HTML.
//
// # What it must not import
//
// Anything of ours: the console speaks to the ledger only over HTTP, as any
// other client does, so it can never depend on what the API does not publish.
//
// # Concurrency
//
// The Handler is safe for concurrent use: it serves bytes fixed at build time.
package ui
