#include "webhook/http_client.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <charconv>
#include <chrono>
#include <optional>
#include <type_traits>

#include "absl/strings/str_cat.h"

namespace smetsmon::webhook {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

constexpr size_t kMaxResponseBody = 1 << 20;

bool IsIpLiteral(const std::string& host) {
  beast::error_code ec;
  (void)asio::ip::make_address(host, ec);
  return !ec;
}

std::string HostHeader(const Url& url) {
  const bool v6 = url.host.find(':') != std::string::npos;
  std::string h = v6 ? absl::StrCat("[", url.host, "]") : url.host;
  if (url.port != (url.tls ? 443 : 80)) absl::StrAppend(&h, ":", url.port);
  return h;
}

template <class Stream>
class PostSession : public std::enable_shared_from_this<PostSession<Stream>> {
 public:
  PostSession(asio::io_context& io, ssl::context* tls, const Url& url, PostRequest request,
              std::function<void(HttpResult)> done)
      : resolver_(io),
        resolve_timer_(io),
        stream_(MakeStream(io, tls)),
        url_(url),
        connect_timeout_(std::chrono::milliseconds(request.connect_timeout_ms)),
        request_timeout_(std::chrono::milliseconds(request.request_timeout_ms)),
        done_(std::move(done)) {
    req_.method(bhttp::verb::post);
    req_.target(url.target);
    req_.version(11);
    req_.set(bhttp::field::host, HostHeader(url));
    req_.set(bhttp::field::user_agent, "smetsmon-webhook/1");
    req_.set(bhttp::field::connection, "close");
    for (auto& [name, value] : request.headers) req_.set(name, value);
    req_.body() = std::move(request.body);
    req_.prepare_payload();
  }

  void Start() {
    if (IsIpLiteral(url_.host)) {
      endpoints_.emplace_back(asio::ip::make_address(url_.host), url_.port);
      Connect();
      return;
    }
    resolve_timer_.expires_after(connect_timeout_);
    resolve_timer_.async_wait([self = this->shared_from_this()](beast::error_code ec) {
      if (!ec) self->resolver_.cancel();  // the resolve completes with operation_aborted
    });
    resolver_.async_resolve(
        url_.host, std::to_string(url_.port),
        [self = this->shared_from_this()](beast::error_code ec, tcp::resolver::results_type r) {
          self->resolve_timer_.cancel();
          if (ec == asio::error::operation_aborted) {
            return self->Fail("resolve", beast::error::timeout);
          }
          if (ec) return self->Fail("resolve", ec);
          for (const auto& entry : r) self->endpoints_.push_back(entry.endpoint());
          self->Connect();
        });
  }

 private:
  static Stream MakeStream(asio::io_context& io, ssl::context* tls) {
    if constexpr (std::is_same_v<Stream, TlsStream>) {
      return Stream(io, *tls);
    } else {
      (void)tls;
      return Stream(io);
    }
  }

  beast::tcp_stream& Lowest() { return beast::get_lowest_layer(stream_); }

  void Connect() {
    Lowest().expires_after(connect_timeout_);
    Lowest().async_connect(
        endpoints_, [self = this->shared_from_this()](beast::error_code ec, const tcp::endpoint&) {
          if (ec) return self->Fail("connect", ec);
          self->deadline_ = std::chrono::steady_clock::now() + self->request_timeout_;
          if constexpr (std::is_same_v<Stream, TlsStream>) {
            self->Handshake();
          } else {
            self->Write();
          }
        });
  }

  void Handshake() {
    if constexpr (std::is_same_v<Stream, TlsStream>) {
      SSL* ssl = stream_.native_handle();
      if (IsIpLiteral(url_.host)) {
        // No SNI for addresses (RFC 6066); the certificate must name the IP.
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), url_.host.c_str());
      } else {
        SSL_set_tlsext_host_name(ssl, url_.host.c_str());
        SSL_set1_host(ssl, url_.host.c_str());
      }
      Lowest().expires_at(deadline_);
      stream_.async_handshake(ssl::stream_base::client,
                              [self = this->shared_from_this()](beast::error_code ec) {
                                if (ec) return self->Fail("tls handshake", ec);
                                self->Write();
                              });
    }
  }

  void Write() {
    Lowest().expires_at(deadline_);
    bhttp::async_write(stream_, req_,
                       [self = this->shared_from_this()](beast::error_code ec, size_t) {
                         if (ec) return self->Fail("write", ec);
                         self->Read();
                       });
  }

  void Read() {
    parser_.emplace();
    parser_->body_limit(kMaxResponseBody);
    Lowest().expires_at(deadline_);
    bhttp::async_read(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    // A status line and headers are an answer even if the body is cut short (a TLS peer that
    // closes without close_notify, an oversized body): the receiver has spoken.
    if (ec && !parser_->is_header_done()) return Fail("read", ec);
    const auto& res = parser_->get();
    HttpResult r;
    r.status = static_cast<int>(res.result_int());
    if (auto it = res.find(bhttp::field::retry_after); it != res.end()) {
      const std::string_view v(it->value().data(), it->value().size());
      int64_t secs = 0;
      const auto [end, conv] = std::from_chars(v.data(), v.data() + v.size(), secs);
      if (conv == std::errc() && end == v.data() + v.size() && secs >= 0) {
        r.retry_after_ms = secs * 1000;
      }
    }
    Finish(std::move(r));
  }

  void Fail(std::string_view step, beast::error_code ec) {
    HttpResult r;
    r.error = absl::StrCat(std::string(step), ": ", ec.message());
    Finish(std::move(r));
  }

  void Finish(HttpResult r) {
    if (finished_) return;
    finished_ = true;
    resolve_timer_.cancel();
    beast::error_code ignored;
    Lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
    Lowest().close();
    auto done = std::move(done_);
    done(std::move(r));
  }

  tcp::resolver resolver_;
  asio::steady_timer resolve_timer_;
  Stream stream_;
  const Url& url_;
  std::chrono::milliseconds connect_timeout_;
  std::chrono::milliseconds request_timeout_;
  std::chrono::steady_clock::time_point deadline_{};
  std::vector<tcp::endpoint> endpoints_;
  bhttp::request<bhttp::string_body> req_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::response_parser<bhttp::string_body>> parser_;
  std::function<void(HttpResult)> done_;
  bool finished_ = false;
};

}  // namespace

absl::StatusOr<std::unique_ptr<ssl::context>> MakeClientTlsContext(const TlsConfig& tls) {
  std::unique_ptr<ssl::context> ctx;
  try {
    ctx = std::make_unique<ssl::context>(ssl::context::tls_client);
  } catch (const boost::system::system_error& e) {
    return absl::InternalError(absl::StrCat("TLS context: ", e.what()));
  }
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  beast::error_code ec;
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_compression, ec);
  if (tls.verify) {
    if (!tls.ca_file.empty()) {
      ctx->load_verify_file(tls.ca_file, ec);
      if (ec) {
        return absl::InvalidArgumentError(
            absl::StrCat("tls.ca_file ", tls.ca_file, ": ", ec.message()));
      }
    } else {
      ctx->set_default_verify_paths(ec);
      if (ec) return absl::InternalError(absl::StrCat("TLS trust store: ", ec.message()));
    }
    ctx->set_verify_mode(ssl::verify_peer, ec);
  } else {
    ctx->set_verify_mode(ssl::verify_none, ec);
  }
  if (ec) return absl::InternalError(absl::StrCat("TLS verify mode: ", ec.message()));
  return ctx;
}

void AsyncPost(asio::io_context& io, ssl::context* tls_context, const Url& url, PostRequest request,
               std::function<void(HttpResult)> done) {
  if (url.tls) {
    if (tls_context == nullptr) {
      HttpResult r;
      r.error = "https URL without a TLS context";
      done(std::move(r));
      return;
    }
    std::make_shared<PostSession<TlsStream>>(io, tls_context, url, std::move(request),
                                             std::move(done))
        ->Start();
  } else {
    std::make_shared<PostSession<PlainStream>>(io, nullptr, url, std::move(request),
                                               std::move(done))
        ->Start();
  }
}

}  // namespace smetsmon::webhook
