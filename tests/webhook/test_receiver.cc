#include "webhook/test_receiver.h"

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <cctype>
#include <thread>
#include <type_traits>

namespace smetsmon::webhook::testing {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;

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
    bhttp::async_write(stream_, res_, [self = this->shared_from_this()](beast::error_code, size_t) {
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

}  // namespace

struct TestReceiver::Server {
  asio::io_context io{1};
  asio::ip::tcp::acceptor acceptor{io};
  std::thread thread;

  void Accept(TestReceiver* owner, asio::ssl::context* tls) {
    acceptor.async_accept([this, owner, tls](beast::error_code ec, asio::ip::tcp::socket socket) {
      if (ec) return;  // closed by Stop
      if (tls != nullptr) {
        using S = beast::ssl_stream<beast::tcp_stream>;
        std::make_shared<Session<S>>(owner, S(beast::tcp_stream(std::move(socket)), *tls))->Start();
      } else {
        std::make_shared<Session<beast::tcp_stream>>(owner, beast::tcp_stream(std::move(socket)))
            ->Start();
      }
      Accept(owner, tls);
    });
  }
};

TestReceiver::TestReceiver(Handler handler, asio::ssl::context* tls)
    : handler_(std::move(handler)), tls_(tls) {}

TestReceiver::~TestReceiver() { Stop(); }

bool TestReceiver::Start(uint16_t port) {
  Stop();
  server_ = std::make_unique<Server>();
  const asio::ip::tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), port);
  beast::error_code ec;
  server_->acceptor.open(ep.protocol(), ec);
  if (!ec) server_->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) server_->acceptor.bind(ep, ec);
  if (!ec) server_->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    server_.reset();
    return false;
  }
  port_ = server_->acceptor.local_endpoint().port();
  server_->Accept(this, tls_);
  server_->thread = std::thread([s = server_.get()] { s->io.run(); });
  return true;
}

void TestReceiver::Stop() {
  if (!server_) return;
  asio::post(server_->io, [s = server_.get()] {
    beast::error_code ignored;
    s->acceptor.close(ignored);
    s->io.stop();
  });
  server_->thread.join();
  {
    std::lock_guard lock(mu_);
    hung_.clear();  // before the io_context their sockets belong to
  }
  server_.reset();  // destroys sessions (and their sockets) still pending, then the io_context
}

Reply TestReceiver::Record(ReceivedRequest r) {
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

void TestReceiver::Hold(std::shared_ptr<void> session) {
  std::lock_guard lock(mu_);
  hung_.push_back(std::move(session));
}

}  // namespace smetsmon::webhook::testing
