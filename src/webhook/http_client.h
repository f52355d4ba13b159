// One-shot HTTP(S) POST on Boost.Beast for webhook delivery: resolve, connect, TLS handshake
// (peer verified against the system trust store or a configured CA file, SNI and host name
// checked), write, read the response, close. One request per connection ("Connection: close"):
// DNO endpoints receive a few notifications an hour, not a stream.
//
// Every step has a deadline: `connect_timeout_ms` for resolve + connect, `request_timeout_ms` for
// handshake + write + read. These are real (steady clock) timers on the io_context; the
// dispatcher's backoff and ages use its Clock instead.
//
// Thread-safety: AsyncPost must be called on the thread running `io` (or before it runs); the
// callback runs on that thread, exactly once.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "webhook/config.h"

namespace boost::asio {
class io_context;
namespace ssl {
class context;
}
}  // namespace boost::asio

namespace smetsmon::webhook {

struct HttpResult {
  int status = 0;               // HTTP status; 0 when no response arrived
  std::string error;            // why no response arrived ("connect: Connection refused", ...)
  int64_t retry_after_ms = -1;  // a Retry-After header in seconds, converted; -1 when absent
};

struct PostRequest {
  std::vector<std::pair<std::string, std::string>> headers;  // besides Host, Content-Length, ...
  std::string body;
  int64_t connect_timeout_ms = 5'000;
  int64_t request_timeout_ms = 10'000;
};

// A client TLS context for one receiver: TLS 1.2 or later; with `verify`, the peer's chain must
// verify against `ca_file` (or the system's trust store when empty).
absl::StatusOr<std::unique_ptr<boost::asio::ssl::context>> MakeClientTlsContext(
    const TlsConfig& tls);

// POSTs `request` to `url`; `tls_context` is required for https URLs and ignored otherwise. The
// url and context must outlive the callback.
void AsyncPost(boost::asio::io_context& io, boost::asio::ssl::context* tls_context, const Url& url,
               PostRequest request, std::function<void(HttpResult)> done);

}  // namespace smetsmon::webhook
