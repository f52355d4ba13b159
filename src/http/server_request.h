// The part of a server session (http/server.cc) that turns the bytes a client sent into what the
// server does: the parser's limits, the refusal a failed read earns, the handler's view of a
// parsed request (or a 405) and the response written. Free of sockets and timers so that the
// HTTP fuzz target (fuzz/http_fuzz.cc) runs the same code on bytes it parses itself.
//
// Thread-safety: pure functions. Time domain: none.
#pragma once

#include <boost/beast/http.hpp>

#include <optional>
#include <string>

#include "http/server.h"

namespace smetsmon::http {

using BeastRequest = boost::beast::http::request<boost::beast::http::string_body>;
using BeastResponse = boost::beast::http::response<boost::beast::http::string_body>;
using RequestParser = boost::beast::http::request_parser<boost::beast::http::string_body>;

// Gives a fresh parser (one per request) the server's header and body limits.
void ApplyLimits(RequestParser& parser, const ServerOptions& options);

// What a request read that failed with `ec` is answered with before the connection is closed.
struct Refusal {
  RejectReason reason;
  int status;
  std::string message;
};
// A refusal for a body or header over its limit and a malformed request; none for a closed
// connection, a timeout or a transport error (closed without an answer).
std::optional<Refusal> RefusalFor(const boost::system::error_code& ec,
                                  const ServerOptions& options);
// Its answer: the status with a JSON error.
Response RefusalResponse(const Refusal& refusal);

// The handler's view of a parsed request, its body moved out; none when its method is not one the
// server answers (GET, HEAD, POST): that is a 405.
std::optional<Request> ToRequest(BeastRequest& parsed);

// A response in the request's HTTP version, keeping the connection open or not.
BeastResponse MakeResponse(const Response& r, unsigned version, bool keep_alive);

}  // namespace smetsmon::http
