// The daemon's HTTP API (/api/v1/...): JSON answers from the engine's read side, the rules'
// last evaluation and, for one device, its owning worker (asked on its thread between batches).
// Optional bearer token. Bad requests get a 4xx with a JSON error, never a crash.
//
// Thread-safety: called on the HTTP server's io thread, which it never blocks: a device query is
// answered from the owning worker's thread. Reads only through thread-safe paths.
#pragma once

#include <string_view>

#include "app/daemon.h"
#include "http/server.h"

namespace smetsmon::app {

// Answers /healthz, /readyz, /metrics and /api/v1/*; 404 JSON for anything else.
void HandleHttp(const Daemon& d, const http::Request& request, http::Responder respond);

// Whether an Authorization header value equals the expected one ("Bearer <token>"), in time
// that depends on neither where they differ nor their lengths.
bool BearerMatches(std::string_view authorization, std::string_view expected);

}  // namespace smetsmon::app
