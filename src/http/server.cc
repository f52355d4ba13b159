#include "http/server.h"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>

#include "absl/strings/str_cat.h"
#include "http/server_request.h"

namespace smetsmon::http {

std::string_view RejectReasonName(RejectReason r) {
  switch (r) {
    case RejectReason::kConnections:
      return "connections";
    case RejectReason::kHeaderTooLarge:
      return "header_too_large";
    case RejectReason::kBodyTooLarge:
      return "body_too_large";
    case RejectReason::kRateLimited:
      return "rate_limited";
    case RejectReason::kTimeout:
      return "timeout";
    case RejectReason::kBadRequest:
      return "bad_request";
  }
  return "unknown";
}

bool RateLimiter::Take(Bucket& b, int64_t now_ns, int64_t* retry_after_s) const {
  const double elapsed_s = static_cast<double>(std::max<int64_t>(0, now_ns - b.at_ns)) / 1e9;
  b.tokens = std::min(burst_, b.tokens + elapsed_s * rate_per_s_);
  b.at_ns = std::max(b.at_ns, now_ns);
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return true;
  }
  *retry_after_s =
      std::max<int64_t>(1, static_cast<int64_t>(std::ceil((1.0 - b.tokens) / rate_per_s_)));
  return false;
}

bool RateLimiter::Allow(const std::string& client, int64_t now_ns, int64_t* retry_after_s) {
  if (rate_per_s_ <= 0) return true;
  auto it = buckets_.find(client);
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_clients_) {
      // A bucket refilled to the brim is the same as none: drop those to make room.
      for (auto b = buckets_.begin(); b != buckets_.end();) {
        const double elapsed_s =
            static_cast<double>(std::max<int64_t>(0, now_ns - b->second.at_ns)) / 1e9;
        if (b->second.tokens + elapsed_s * rate_per_s_ >= burst_) {
          b = buckets_.erase(b);
        } else {
          ++b;
        }
      }
    }
    if (buckets_.size() >= max_clients_) {
      if (!overflow_started_) {
        overflow_ = Bucket{burst_, now_ns};
        overflow_started_ = true;
      }
      return Take(overflow_, now_ns, retry_after_s);
    }
    it = buckets_.emplace(client, Bucket{burst_, now_ns}).first;
  }
  return Take(it->second, now_ns, retry_after_s);
}

bool IsLoopbackListen(const std::string& listen) {
  const size_t colon = listen.rfind(':');
  std::string host = listen.substr(0, colon == std::string::npos ? listen.size() : colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host == "localhost") return true;
  boost::system::error_code ec;
  const auto address = boost::asio::ip::make_address(host, ec);
  return !ec && address.is_loopback();
}

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;

void ApplyLimits(RequestParser& parser, const ServerOptions& options) {
  parser.header_limit(static_cast<std::uint32_t>(options.header_limit_bytes));
  parser.body_limit(options.body_limit_bytes);
}

std::optional<Refusal> RefusalFor(const boost::system::error_code& ec,
                                  const ServerOptions& options) {
  if (ec == bhttp::error::body_limit) {
    return Refusal{RejectReason::kBodyTooLarge, 413,
                   absl::StrCat("request body over ", options.body_limit_bytes, " bytes")};
  }
  if (ec == bhttp::error::header_limit) {
    return Refusal{RejectReason::kHeaderTooLarge, 431,
                   absl::StrCat("request header over ", options.header_limit_bytes, " bytes")};
  }
  // Closed, timed out or malformed: only a malformed request is answered (the parser's own
  // errors; end_of_stream is one of them but is a client that left).
  if (ec && ec != bhttp::error::end_of_stream && ec != beast::error::timeout &&
      ec.category() == bhttp::make_error_code(bhttp::error::bad_target).category()) {
    return Refusal{RejectReason::kBadRequest, 400, "bad request"};
  }
  return std::nullopt;
}

Response RefusalResponse(const Refusal& refusal) {
  return Response{refusal.status, "application/json",
                  absl::StrCat(R"({"error":")", refusal.message, R"("})")};
}

std::optional<Request> ToRequest(BeastRequest& parsed) {
  if (parsed.method() != bhttp::verb::get && parsed.method() != bhttp::verb::head &&
      parsed.method() != bhttp::verb::post) {
    return std::nullopt;
  }
  Request req;
  req.method = std::string(parsed.method_string());
  req.target = std::string(parsed.target());
  req.body = std::move(parsed.body());
  if (auto it = parsed.find(bhttp::field::authorization); it != parsed.end()) {
    req.authorization = std::string(it->value());
  }
  return req;
}

BeastResponse MakeResponse(const Response& r, unsigned version, bool keep_alive) {
  BeastResponse res{static_cast<bhttp::status>(r.status), version};
  res.set(bhttp::field::server, "smetsmon");
  res.set(bhttp::field::content_type, r.content_type);
  if (r.retry_after_s > 0) res.set(bhttp::field::retry_after, std::to_string(r.retry_after_s));
  if (!r.cache_control.empty()) res.set(bhttp::field::cache_control, r.cache_control);
  res.keep_alive(keep_alive);
  res.body() = r.body;
  res.prepare_payload();
  return res;
}

namespace {

using tcp = asio::ip::tcp;

std::chrono::milliseconds Ms(int64_t ms) { return std::chrono::milliseconds(ms); }

// What every session of a server shares; sessions may outlive the server.
struct Shared {
  Shared(ServerOptions o, Handler h)
      : options(std::move(o)),
        handler(std::move(h)),
        stats(std::make_shared<ServerStats>()),
        limiter(options.rate_per_s, options.rate_burst, options.rate_max_clients) {}
  int64_t NowNs() const {
    return options.clock != nullptr ? options.clock->MonotonicNs() : system_clock.MonotonicNs();
  }
  ServerOptions options;
  Handler handler;
  std::shared_ptr<ServerStats> stats;
  RateLimiter limiter;  // used on the io thread only
  SystemClock system_clock;
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, std::shared_ptr<Shared> shared)
      : stream_(std::move(socket)),
        answer_timer_(stream_.get_executor()),
        shared_(std::move(shared)) {
    shared_->stats->open_connections.fetch_add(1, std::memory_order_relaxed);
    beast::error_code ec;
    const auto remote = stream_.socket().remote_endpoint(ec);
    if (!ec) client_ = remote.address().to_string();
  }
  ~Session() { shared_->stats->open_connections.fetch_sub(1, std::memory_order_relaxed); }

  void Start() { Read(); }

 private:
  const ServerOptions& options() const { return shared_->options; }

  void Read() {
    request_ = {};
    // A parser per request: it carries the header and body limits.
    parser_.emplace();
    ApplyLimits(*parser_, options());
    // The next request of a kept-alive connection may be a while coming (idle); the first is
    // read at once.
    stream_.expires_after(
        Ms(requests_ == 0 ? options().read_timeout_ms : options().idle_timeout_ms));
    bhttp::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(beast::error_code ec) {
    if (ec || parser_->is_done()) {
      OnRead(ec);
      return;
    }
    stream_.expires_after(Ms(options().read_timeout_ms));
    bhttp::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  void Refuse(const Refusal& refusal) {
    shared_->stats->Reject(refusal.reason);
    Write(MakeResponse(RefusalResponse(refusal), 11, false));
  }

  void OnRead(beast::error_code ec) {
    if (ec) {
      if (ec == beast::error::timeout) shared_->stats->Reject(RejectReason::kTimeout);
      // Over a limit or malformed: answered, then closed (the rest of a body over its limit is
      // not read). Closed by the client or timed out: dropped.
      if (std::optional<Refusal> refusal = RefusalFor(ec, options())) {
        Refuse(*refusal);
        return;
      }
      beast::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
      return;
    }
    request_ = parser_->release();
    ++requests_;
    int64_t retry_after_s = 0;
    if (!shared_->limiter.Allow(client_, shared_->NowNs(), &retry_after_s)) {
      shared_->stats->Reject(RejectReason::kRateLimited);
      Response r{429, "application/json", R"({"error":"too many requests"})"};
      r.retry_after_s = retry_after_s;
      Write(MakeResponse(r, request_.version(), request_.keep_alive()));
      return;
    }
    std::optional<Request> accepted = ToRequest(request_);
    if (!accepted) {
      Write(MakeResponse(Response{405, "application/json", R"({"error":"method not allowed"})"},
                         request_.version(), request_.keep_alive()));
      return;
    }
    const Request& req = *accepted;
    // The answer may come from another thread: it is posted back here, and the first of it and
    // the timeout is written (both run on this session's executor).
    const uint64_t request_id = requests_;
    stream_.expires_never();  // the answer timer bounds this phase
    answer_timer_.expires_after(Ms(options().answer_timeout_ms));
    answer_timer_.async_wait([self = shared_from_this(), request_id](beast::error_code ec) {
      if (ec) return;
      self->Answer(request_id,
                   Response{503, "application/json", R"({"error":"no answer in time"})"});
    });
    shared_->handler(req, [self = shared_from_this(), request_id](Response r) {
      asio::post(self->stream_.get_executor(), [self, request_id, r = std::move(r)]() mutable {
        self->Answer(request_id, std::move(r));
      });
    });
  }

  void Answer(uint64_t request_id, Response r) {
    if (request_id != requests_ || answered_ == request_id) return;  // late or second answer
    answered_ = request_id;
    answer_timer_.cancel();
    Write(MakeResponse(r, request_.version(), request_.keep_alive()));
  }

  void Write(bhttp::response<bhttp::string_body> res) {
    response_ = std::move(res);
    stream_.expires_after(Ms(options().write_timeout_ms));
    bhttp::async_write(stream_, response_,
                       [self = shared_from_this()](beast::error_code ec, size_t) {
                         if (ec) {
                           if (ec == beast::error::timeout) {
                             self->shared_->stats->Reject(RejectReason::kTimeout);
                           }
                           return;
                         }
                         if (!self->response_.keep_alive()) {
                           beast::error_code ignored;
                           self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
                           return;
                         }
                         self->Read();
                       });
  }

  beast::tcp_stream stream_;
  asio::steady_timer answer_timer_;
  uint64_t requests_ = 0;  // requests read on this connection
  uint64_t answered_ = 0;  // the last one answered
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  bhttp::request<bhttp::string_body> request_;
  bhttp::response<bhttp::string_body> response_;
  std::shared_ptr<Shared> shared_;
  std::string client_;  // the peer's address: the rate limiter's key
};

// A connection over the cap: a fixed 503, then closed, without reading anything.
void RefuseConnection(tcp::socket socket, int64_t write_timeout_ms) {
  static const std::string kBusy =
      "HTTP/1.1 503 Service Unavailable\r\nServer: smetsmon\r\nContent-Type: application/json\r\n"
      "Content-Length: 33\r\nConnection: close\r\n\r\n{\"error\":\"too many connections\"}\n";
  auto stream = std::make_shared<beast::tcp_stream>(std::move(socket));
  stream->expires_after(Ms(write_timeout_ms));
  asio::async_write(*stream, asio::buffer(kBusy), [stream](beast::error_code, size_t) {
    beast::error_code ignored;
    stream->socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream->socket().close(ignored);
  });
}

}  // namespace

struct Server::Impl {
  Impl(asio::io_context& io, Handler h, ServerOptions o)
      : acceptor(io), shared(std::make_shared<Shared>(std::move(o), std::move(h))) {}
  void Accept() {
    acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) {
        const int64_t open = shared->stats->open_connections.load(std::memory_order_relaxed);
        if (open >= static_cast<int64_t>(shared->options.max_connections)) {
          shared->stats->Reject(RejectReason::kConnections);
          RefuseConnection(std::move(socket), shared->options.write_timeout_ms);
        } else {
          std::make_shared<Session>(std::move(socket), shared)->Start();
        }
      }
      Accept();
    });
  }
  tcp::acceptor acceptor;
  std::shared_ptr<Shared> shared;
};

absl::StatusOr<std::unique_ptr<Server>> Server::Start(asio::io_context& io,
                                                      const std::string& listen, Handler handler,
                                                      ServerOptions options) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("http listen '", listen, "': expected host:port"));
  }
  std::string host = listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host == "localhost") host = "127.0.0.1";
  beast::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (ec)
    return absl::InvalidArgumentError(absl::StrCat("http listen '", listen, "': bad address"));
  const int port = std::atoi(listen.c_str() + colon + 1);
  if (port < 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("http listen '", listen, "': bad port"));
  }
  auto impl = std::make_unique<Impl>(io, std::move(handler), std::move(options));
  const tcp::endpoint endpoint(address, static_cast<uint16_t>(port));
  impl->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(endpoint, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(absl::StrCat("http listen ", listen, ": ", ec.message()));
  }
  impl->Accept();
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() {
  beast::error_code ignored;
  impl_->acceptor.close(ignored);
}

uint16_t Server::port() const { return impl_->acceptor.local_endpoint().port(); }

std::shared_ptr<const ServerStats> Server::stats() const { return impl_->shared->stats; }

}  // namespace smetsmon::http
