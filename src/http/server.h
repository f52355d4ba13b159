// A small HTTP/1.1 server on Boost.Beast for the daemon's endpoints (health, readiness, metrics,
// later the API). Shape of the Beast examples: an acceptor, one session per connection, a timeout
// on every read and write, one response in flight per connection.
//
// GET, HEAD and POST reach the handler (other methods get a 405); a request body is read up to
// kMaxRequestBodyBytes, and a longer one is answered 413 and the connection closed.
//
// Thread-safety: runs on the io_context it is given; the handler is called on that context's
// thread(s) and must not block it; its responder may be called from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace boost::asio {
class io_context;
}

namespace smetsmon::http {

struct Response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

// The largest request body read (the API's POSTs are small JSON objects).
inline constexpr size_t kMaxRequestBodyBytes = 64 * 1024;

struct Request {
  std::string method;         // "GET", "HEAD" or "POST"
  std::string target;         // path and query string
  std::string authorization;  // the Authorization header, "" when absent
  std::string body;           // at most kMaxRequestBodyBytes
};

// Answers a request by calling `respond` once, from any thread, now or later (a device query
// answered by the worker that owns the device): the io thread never waits for it. A request not
// answered within the I/O timeout gets a 503.
using Responder = std::function<void(Response)>;
using Handler = std::function<void(const Request& request, Responder respond)>;

class Server {
 public:
  // Binds "host:port" (port 0 picks a free port) and starts accepting on `io`.
  static absl::StatusOr<std::unique_ptr<Server>> Start(boost::asio::io_context& io,
                                                       const std::string& listen, Handler handler);
  ~Server();
  uint16_t port() const;

 private:
  struct Impl;
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace smetsmon::http
