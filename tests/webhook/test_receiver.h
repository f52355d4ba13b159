// A webhook receiver for tests: a Beast HTTP(S) server on 127.0.0.1 (port 0 or a given port) on a
// thread of its own, recording every request (headers, body) and answering what the test's
// handler says: a status (with extra headers), closing without an answer, or never answering.
// Stop() makes it "down" (connections refused); Start(port) brings it back on the same port.
// The server lives in test_receiver.cc, compiled once: Beast's templates cost every test that
// included them most of a minute of compilation.
//
// Thread-safety: requests()/WaitForRequests/set_handler may be called from the test thread while
// the server thread runs; the handler runs on the server thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace boost::asio::ssl {
class context;
}  // namespace boost::asio::ssl

namespace smetsmon::webhook::testing {

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
  explicit TestReceiver(Handler handler = {}, boost::asio::ssl::context* tls = nullptr);
  ~TestReceiver();
  TestReceiver(const TestReceiver&) = delete;
  TestReceiver& operator=(const TestReceiver&) = delete;

  // Listens on 127.0.0.1:port (0 picks one) and serves on a thread. Returns false on bind error.
  bool Start(uint16_t port = 0);
  // Closes the listener and every connection; joins the thread.
  void Stop();

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

  // For the server's sessions (test_receiver.cc): records a request and says how to answer it;
  // keeps a session that never answers until Stop.
  Reply Record(ReceivedRequest r);
  void Hold(std::shared_ptr<void> session);

 private:
  struct Server;  // the io_context, acceptor and thread

  Handler handler_;
  boost::asio::ssl::context* tls_;
  std::unique_ptr<Server> server_;
  uint16_t port_ = 0;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<ReceivedRequest> requests_;
  std::vector<std::shared_ptr<void>> hung_;
};

}  // namespace smetsmon::webhook::testing
