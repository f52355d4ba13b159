#include "http/server.h"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <optional>

#include "absl/strings/str_cat.h"

namespace smetsmon::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

constexpr auto kIoTimeout = std::chrono::seconds(10);

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, const Handler& handler)
      : stream_(std::move(socket)), answer_timer_(stream_.get_executor()), handler_(handler) {}

  void Start() { Read(); }

 private:
  void Read() {
    request_ = {};
    // A parser per request: it carries the body limit (a longer body is refused with a 413).
    parser_.emplace();
    parser_->body_limit(kMaxRequestBodyBytes);
    stream_.expires_after(kIoTimeout);
    bhttp::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    if (ec == bhttp::error::body_limit) {
      // The rest of the body is not read: answer and close the connection.
      Write(MakeResponse(Response{413, "application/json",
                                  absl::StrCat(R"({"error":"request body over )",
                                               kMaxRequestBodyBytes, R"( bytes"})")},
                         11, false));
      return;
    }
    if (ec) {
      // Closed, timed out or malformed: answer a malformed request, drop the rest.
      if (ec != bhttp::error::end_of_stream && ec != beast::error::timeout &&
          ec.category() == bhttp::make_error_code(bhttp::error::bad_target).category()) {
        Write(MakeResponse(Response{400, "application/json", R"({"error":"bad request"})"}, 11,
                           false));
        return;
      }
      beast::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
      return;
    }
    request_ = parser_->release();
    if (request_.method() != bhttp::verb::get && request_.method() != bhttp::verb::head &&
        request_.method() != bhttp::verb::post) {
      Write(MakeResponse(Response{405, "application/json", R"({"error":"method not allowed"})"},
                         request_.version(), request_.keep_alive()));
      return;
    }
    Request req;
    req.method = std::string(request_.method_string());
    req.target = std::string(request_.target());
    req.body = std::move(request_.body());
    if (auto it = request_.find(bhttp::field::authorization); it != request_.end()) {
      req.authorization = std::string(it->value());
    }
    // The answer may come from another thread: it is posted back here, and the first of it and
    // the timeout is written (both run on this session's executor).
    const uint64_t request_id = ++requests_;
    answer_timer_.expires_after(kIoTimeout);
    answer_timer_.async_wait([self = shared_from_this(), request_id](beast::error_code ec) {
      if (ec) return;
      self->Answer(request_id,
                   Response{503, "application/json", R"({"error":"no answer in time"})"});
    });
    handler_(req, [self = shared_from_this(), request_id](Response r) {
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

  static bhttp::response<bhttp::string_body> MakeResponse(const Response& r, unsigned version,
                                                          bool keep_alive) {
    bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(r.status), version};
    res.set(bhttp::field::server, "smetsmon");
    res.set(bhttp::field::content_type, r.content_type);
    res.keep_alive(keep_alive);
    res.body() = r.body;
    res.prepare_payload();
    return res;
  }

  void Write(bhttp::response<bhttp::string_body> res) {
    response_ = std::move(res);
    stream_.expires_after(kIoTimeout);
    bhttp::async_write(stream_, response_,
                       [self = shared_from_this()](beast::error_code ec, size_t) {
                         if (ec) return;
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
  Handler handler_;  // a copy: sessions may outlive a server being torn down
};

}  // namespace

struct Server::Impl {
  Impl(asio::io_context& io, Handler h) : acceptor(io), handler(std::move(h)) {}
  void Accept() {
    acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) std::make_shared<Session>(std::move(socket), handler)->Start();
      Accept();
    });
  }
  tcp::acceptor acceptor;
  Handler handler;
};

absl::StatusOr<std::unique_ptr<Server>> Server::Start(asio::io_context& io,
                                                      const std::string& listen, Handler handler) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("http listen '", listen, "': expected host:port"));
  }
  std::string host = listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  beast::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (ec)
    return absl::InvalidArgumentError(absl::StrCat("http listen '", listen, "': bad address"));
  const int port = std::atoi(listen.c_str() + colon + 1);
  if (port < 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("http listen '", listen, "': bad port"));
  }
  auto impl = std::make_unique<Impl>(io, std::move(handler));
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

}  // namespace smetsmon::http
