// Package enginetest is a fake TL RPC engine for tests of the proxy: it
// listens on 127.0.0.1:0, speaks the real packet protocol (tl/rpc/packet),
// logs every message it is sent exactly as received, and answers as its
// Handler says: echo, error, hold (never answer until Release), drop, or
// hang up (close the connection, as a crashing engine does).
// Like net/http/httptest it is a normal package so that tests of several
// packages (and the integration suite) can share it; nothing else imports it.
package enginetest
