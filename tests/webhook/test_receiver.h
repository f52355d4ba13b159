// A webhook receiver for tests: a Beast HTTP(S) server on 127.0.0.1 (port 0 or a given port) on a
// thread of its own, recording every request (headers, body) and answering what the test's
// handler says: a status (with extra headers), closing without an answer, or never answering.
// Stop() makes it "down" (connections refused); Start(port) brings it back on the same port.
//
// Thread-safety: requests()/WaitForRequests/set_handler may be called from the test thread while
// the server thread runs; the handler runs on the server thread.
#pragma once

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace smetsmon::webhook::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;

struct ReceivedRequest {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;

  std::string Header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? "" : it->second;
  }
};

struct Reply {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  bool drop = false;  // read the request, then close without answering
  bool hang = false;  // read the request, never answer (until Stop)
  static Reply Status(int s) { return Reply{s, {}, false, false}; }
  static Reply Drop() { return Reply{0, {}, true, false}; }
  static Reply Hang() { return Reply{0, {}, false, true}; }
};

class TestReceiver {
 public:
  using Handler = std::function<Reply(const ReceivedRequest&)>;

  // `tls`: serve HTTPS with this server context (certificate and key loaded), else HTTP.
  explicit TestReceiver(Handler handler = {}, asio::ssl::context* tls = nullptr)
      : handler_(std::move(handler)), tls_(tls) {}
  ~TestReceiver() { Stop(); }

  // Listens on 127.0.0.1:port (0 picks one) and serves on a thread. Returns false on bind error.
  bool Start(uint16_t port = 0) {
    Stop();
    io_ = std::make_unique<asio::io_context>(1);
    acceptor_ = std::make_unique<asio::ip::tcp::acceptor>(*io_);
    const asio::ip::tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), port);
    beast::error_code ec;
    acceptor_->open(ep.protocol(), ec);
    if (!ec) acceptor_->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_->bind(ep, ec);
    if (!ec) acceptor_->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return false;
    port_ = acceptor_->local_endpoint().port();
    Accept();
    thread_ = std::thread([this] { io_->run(); });
    return true;
  }

  // Closes the listener and every connection; joins the thread.
  void Stop() {
    if (!io_) return;
    asio::post(*io_, [this] {
      beast::error_code ignored;
      acceptor_->close(ignored);
      io_->stop();
    });
    thread_.join();
    {
      std::lock_guard lock(mu_);
      hung_.clear();  // before the io_context their sockets belong to
    }
    acceptor_.reset();
    io_.reset();  // destroys sessions (and their sockets) still pending
  }

  uint16_t port() const { return port_; }
  std::string Url(const std::string& path = "/hook") const {
    return std::string(tls_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_) + path;
  }

  void set_handler(Handler h) {
    std::lock_guard lock(mu_);
    handler_ = std::move(h);
  }

  std::vector<ReceivedRequest> requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }
  size_t count() const {
    std::lock_guard lock(mu_);
    return requests_.size();
  }

  // Waits (bounded) until at least n requests arrived; for tests with a delivery thread.
  bool WaitForRequests(size_t n, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return requests_.size() >= n; });
  }

 private:
  template <class Stream>
  class Session : public std::enable_shared_from_this<Session<Stream>> {
   public:
    Session(TestReceiver* owner, Stream stream) : owner_(owner), stream_(std::move(stream)) {}

    void Start() {
      if constexpr (std::is_same_v<Stream, beast::ssl_stream<beast::tcp_stream>>) {
        stream_.async_handshake(asio::ssl::stream_base::server,
                                [self = this->shared_from_this()](beast::error_code ec) {
                                  if (!ec) self->Read();
                                });
      } else {
        Read();
      }
    }

   private:
    void Read() {
      bhttp::async_read(stream_, buffer_, req_,
                        [self = this->shared_from_this()](beast::error_code ec, size_t) {
                          if (!ec) self->OnRequest();
                        });
    }

    void OnRequest() {
      ReceivedRequest r;
      r.method = std::string(req_.method_string());
      r.target = std::string(req_.target());
      for (const auto& field : req_) {
        std::string name(field.name_string());
        for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        r.headers[name] = std::string(field.value());
      }
      r.body = req_.body();
      const Reply reply = owner_->Record(std::move(r));
      if (reply.drop) {
        beast::get_lowest_layer(stream_).close();
        return;
      }
      if (reply.hang) {
        owner_->Hold(this->shared_from_this());
        return;
      }
      res_.result(static_cast<bhttp::status>(reply.status));
      res_.version(11);
      res_.set(bhttp::field::content_type, "text/plain");
      for (const auto& [k, v] : reply.headers) res_.set(k, v);
      if (reply.status != 204 && reply.status != 304 && reply.status >= 200) res_.body() = "ok";
      res_.keep_alive(false);
      res_.prepare_payload();
      bhttp::async_write(stream_, res_,
                         [self = this->shared_from_this()](beast::error_code, size_t) {
                           beast::error_code ignored;
                           beast::get_lowest_layer(self->stream_)
                               .socket()
                               .shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
                           beast::get_lowest_layer(self->stream_).close();
                         });
    }

    TestReceiver* owner_;
    Stream stream_;
    beast::flat_buffer buffer_;
    bhttp::request<bhttp::string_body> req_;
    bhttp::response<bhttp::string_body> res_;
  };

  void Accept() {
    acceptor_->async_accept([this](beast::error_code ec, asio::ip::tcp::socket socket) {
      if (ec) return;  // closed by Stop
      if (tls_ != nullptr) {
        using S = beast::ssl_stream<beast::tcp_stream>;
        std::make_shared<Session<S>>(this, S(beast::tcp_stream(std::move(socket)), *tls_))->Start();
      } else {
        std::make_shared<Session<beast::tcp_stream>>(this, beast::tcp_stream(std::move(socket)))
            ->Start();
      }
      Accept();
    });
  }

  Reply Record(ReceivedRequest r) {
    Handler h;
    {
      std::lock_guard lock(mu_);
      h = handler_;
    }
    const Reply reply = h ? h(r) : Reply{};
    {
      std::lock_guard lock(mu_);
      requests_.push_back(std::move(r));
    }
    cv_.notify_all();
    return reply;
  }

  void Hold(std::shared_ptr<void> session) {
    std::lock_guard lock(mu_);
    hung_.push_back(std::move(session));
  }

  Handler handler_;
  asio::ssl::context* tls_;
  std::unique_ptr<asio::io_context> io_;
  std::unique_ptr<asio::ip::tcp::acceptor> acceptor_;
  std::thread thread_;
  uint16_t port_ = 0;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<ReceivedRequest> requests_;
  std::vector<std::shared_ptr<void>> hung_;
};

}  // namespace smetsmon::webhook::testing
