// Fuzzes the HTTP request path as one client connection's bytes: Beast's request parser with the
// server's limits (http/server_request.h ApplyLimits), what the server makes of each request
// (RefusalFor, ToRequest: the method check, the Authorization header) and the daemon's router and
// handlers (app/api.h HandleHttp: paths, the bearer token compare, device ids, the Go/No-Go
// override's JSON body), then the response as written, its JSON checked to be JSON. Sockets, timers
// and the rate limiter (its key is the peer's address, not anything sent) are left out.
//
// The input's first byte says how many bytes each read delivers (its value mod 129, 0 meaning
// all at once), as a socket splits a stream; the rest is the stream. Requests are read one after
// another from it, as on a kept-alive connection, until one is refused, asks to close, or the bytes
// run out. The daemon is built once: the shipped configuration and rules, an empty one-worker
// engine, one Go/No-Go decision to override (recorded overrides pile up to the per-decision cap),
// no ingestion (a device query is a 503 after its id is parsed).
#include <simdjson.h>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>
#include <sstream>
#include <string_view>
#include <utility>

#include "aggregate/engine.h"
#include "aggregate/fleet.h"
#include "app/api.h"
#include "app/daemon.h"
#include "fuzz_util.h"
#include "http/server_request.h"
#include "rules/evaluator.h"
#include "rules/rules_config.h"

namespace smetsmon::fuzz {
namespace {

namespace bhttp = boost::beast::http;

constexpr int64_t kT0 = 1687737600000;  // 2023-06-26T00:00:00Z (BST: decisions at 05:00Z)
constexpr int64_t kDecisionAt = kT0 + 6 * kMsPerHour;
constexpr size_t kMaxRequests = 16;  // per input: enough for pipelining, bounded per run

// What the daemon's HTTP handler reads, built once and kept for the process.
struct FuzzDaemon {
  catalog::ReferenceData ref;
  rules::RulesConfig config;
  std::unique_ptr<aggregate::RuleInputsSetup> setup;
  std::unique_ptr<aggregate::Engine> engine;
  std::unique_ptr<rules::Evaluator> evaluator;
  ManualClock clock{ProcessingTime{1'687'770'000'000}};
  app::Daemon daemon;
};

FuzzDaemon& TheDaemon() {
  static FuzzDaemon* fd = [] {
    auto* f = new FuzzDaemon;
    catalog::ReferenceOptions options;
    options.config_dir = ConfigDir();
    auto ref = catalog::LoadReferenceConfig(options);
    if (!ref.ok()) std::abort();
    f->ref = *std::move(ref);
    auto config = rules::LoadRulesConfig(ConfigDir() + "/rules.yaml", f->ref);
    if (!config.ok()) std::abort();
    f->config = *std::move(config);
    f->config.gonogo.history_dir.clear();  // no decision sink: nothing is written
    const aggregate::FleetLayout layout(*f->ref.areas, *f->ref.catalogue, *f->ref.dmcs,
                                        *f->ref.cohorts);
    f->setup = std::make_unique<aggregate::RuleInputsSetup>(
        rules::BuildRuleInputsSetup(f->config, layout, 5 * kMsPerMinute));
    aggregate::EngineConfig ec;
    ec.workers = 1;
    ec.expected_devices = 64;
    ec.dedup_capacity = 4096;
    ec.rule_inputs = f->setup.get();
    f->engine = std::make_unique<aggregate::Engine>(f->ref, ec);
    auto ev = rules::Evaluator::Create(*f->engine, f->config);
    if (!ev.ok()) std::abort();
    f->evaluator = *std::move(ev);
    // The first evaluation arms the schedule; the next, past 06:00 London time, decides: the
    // override handler then validates and records instead of answering 409.
    for (const int64_t t : {kT0, kDecisionAt}) {
      f->engine->worker(0).PublishRuleInputs();
      f->evaluator->Tick(EventTime{t}, /*force=*/true);
    }
    if (f->evaluator->Snapshot().gonogo_history.empty()) std::abort();
    app::Daemon& d = f->daemon;
    d.engine = f->engine.get();
    d.evaluator = f->evaluator.get();
    d.clock = &f->clock;
    d.bearer_token = "s3cret";
    auto view = std::make_shared<app::Daemon::ConfigView>();
    view->catalogue = std::make_shared<const catalog::AlertCatalogue>(*f->ref.catalogue);
    view->class_of_slot = f->config.class_of_slot;
    for (const auto& c : f->config.classes) view->class_names.push_back(c.name);
    d.set_config_view(std::move(view));
    return f;
  }();
  return *fd;
}

// Reads one request from `stream` starting at `*pos`, `chunk` more bytes becoming readable each
// time the parser needs more (Beast's read loop over a socket); `*pos` moves past what was used.
boost::system::error_code ReadRequest(std::string_view stream, size_t chunk, size_t* pos,
                                      http::RequestParser& parser) {
  size_t readable = std::min(stream.size(), *pos + chunk);
  boost::system::error_code ec;
  for (;;) {
    size_t used = 0;
    if (*pos < readable) {
      used = parser.put(boost::asio::buffer(stream.data() + *pos, readable - *pos), ec);
      *pos += used;
    }
    if (!ec && parser.is_done()) return ec;
    if (!ec && parser.is_header_done()) parser.eager(true);  // as bhttp::async_read does
    if (ec && ec != bhttp::error::need_more) return ec;
    ec = {};
    if (used > 0 && *pos < readable) continue;  // more of what is readable to parse
    if (readable == stream.size()) {
      // The client closed: what was read so far is all there is.
      if (!parser.got_some()) return bhttp::error::end_of_stream;
      parser.put_eof(ec);
      return ec;
    }
    readable = std::min(stream.size(), readable + chunk);
  }
}

// Serialises a response as the session writes it (the version and keep-alive are the client's).
// A JSON answer must be JSON, whatever the request echoed into it: a client's parser refuses
// anything else (invalid UTF-8 included), so a body that is not aborts as a crash would.
void Write(const http::Response& r, unsigned version, bool keep_alive) {
  if (r.content_type == "application/json") {
    static simdjson::dom::parser parser;
    if (parser.parse(r.body).error() != simdjson::SUCCESS) std::abort();
  }
  std::ostringstream out;
  out << http::MakeResponse(r, version, keep_alive);
}

}  // namespace
}  // namespace smetsmon::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace smetsmon;
  if (size == 0) return 0;
  fuzz::FuzzDaemon& fd = fuzz::TheDaemon();
  const size_t chunk = data[0] % 129 == 0 ? size : data[0] % 129;
  const std::string_view stream(reinterpret_cast<const char*>(data) + 1, size - 1);
  const http::ServerOptions options;
  size_t pos = 0;
  for (size_t n = 0; n < fuzz::kMaxRequests; ++n) {
    http::RequestParser parser;  // one per request, as in a session
    http::ApplyLimits(parser, options);
    if (const auto ec = fuzz::ReadRequest(stream, chunk, &pos, parser); ec) {
      if (const auto refusal = http::RefusalFor(ec, options)) {
        fuzz::Write(http::RefusalResponse(*refusal), 11, false);
      }
      break;
    }
    http::BeastRequest parsed = parser.release();
    std::optional<http::Request> request = http::ToRequest(parsed);
    http::Response answer{405, "application/json", R"({"error":"method not allowed"})"};
    if (request) {
      bool answered = false;
      app::HandleHttp(fd.daemon, *request, [&](http::Response r) {
        answer = std::move(r);
        answered = true;
      });
      // Every path answers at once here (no ingestion, so no device query waits on a worker).
      if (!answered) std::abort();
    }
    fuzz::Write(answer, parsed.version(), parsed.keep_alive());
    if (!parsed.keep_alive() || pos == stream.size()) break;
  }
  return 0;
}
