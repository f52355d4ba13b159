// The optional sink to a real Alertmanager (`POST <url>/api/v2/alerts`), for teams that route
// alerts through it rather than receive our webhooks directly.
//
// Alertmanager holds state, not events: like Prometheus, the sink re-sends every firing finding
// each `resend_interval` with endsAt a few intervals ahead (so an alert we stop sending expires by
// itself if we die), and sends a finding that closed once, as resolved, with its end time. A send
// happens at once when the set of firing findings (or a severity) changes or a finding resolves,
// else when the interval is due; a failed send is retried at the next Update.
//
// A finding id names one episode: once the sink has queued its resolved notice it never sends it
// as firing again (the last 4096 resolved ids are remembered), even when the findings it is given
// still list it as open: after a restart the restored evaluator can hold such a finding open
// until the re-read events close it again.
//
// What Alertmanager was told survives a restart when `state_file` is set (state_file.h: written
// atomically, checksummed, rewritten when the set of firing findings, a severity, the pending
// resolved notices or the resolved ids change): the findings told firing, the resolved notices
// not yet delivered, and the resolved ids. After a restart the findings told firing are held:
// they are not re-sent until the evaluator lists them open again (then they are firing as
// before); one the evaluator lists closed (it closed while the daemon was down, or closes as the
// re-read events are judged) is sent as resolved with its end; one it never mentions again within
// 24 h is forgotten (Alertmanager expired it at its last endsAt). Unlike a finding told in this
// run, a held one is not resolved just because it is absent: right after a restart the evaluator
// may not have reached it yet. Pending resolved notices are sent at the first Update. An
// unreadable state file is logged, renamed to `<state_file>.corrupt`, and the sink starts empty.
// Without a state file the state is in memory only: after a restart the first Update re-sends
// what is open, and a resolved notice lost in a crash is covered by the expiry of the firing
// alert.
//
// Labels and annotations are those of the webhook payload (FindingAlert), so the alert is the same
// whichever route delivers it. A power outage resolved while its figures still count (rules::Tally)
// is sent resolved once, with the figures at close; its final tally is not sent here (Alertmanager
// does not notify again for a resolved alert whose annotations change): it goes to the webhooks,
// the API and the metrics.
//
// Time domain: Update's `now` is the wall clock (the daemon's clock seam): the endsAt of firing
// alerts (and of a finding that vanished without an end); `mono_ms` is the monotonic clock: the
// resend interval and the 24 h hold, so a stepped wall clock neither floods Alertmanager nor stops
// re-sending. startsAt and a resolved alert's endsAt are the finding's event times.
// Thread-safety: Update and the completion of its requests run on the thread running `io` (the
// daemon's io thread); one request is in flight at most; the state file is written on that
// thread. stats() may be called from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "catalog/areas.h"
#include "rules/finding.h"
#include "smetsmon/types.h"
#include "webhook/config.h"

namespace boost::asio {
class io_context;
namespace ssl {
class context;
}
}  // namespace boost::asio

namespace smetsmon::webhook {

class AlertmanagerSink {
 public:
  struct Stats {
    uint64_t posts_ok = 0;         // requests answered 2xx
    uint64_t posts_failed = 0;     // no answer, or not 2xx
    uint64_t firing_sent = 0;      // firing alerts in successful requests (re-sends included)
    uint64_t resolved_sent = 0;    // resolved alerts in successful requests
    size_t firing = 0;             // findings Alertmanager was last told are firing (this run)
    size_t pending_resolved = 0;   // resolved notices not yet delivered
    size_t held = 0;               // restored as told firing, not yet listed open or closed
    uint64_t refires_ignored = 0;  // open findings not sent because they had resolved
  };

  // `config` must be set (`webhooks.alertmanager`); `areas` is copied; `io` must outlive the sink.
  // With `config.state_file`, creates its directory when missing (an error if it cannot) and
  // restores what Alertmanager was told (an unreadable file is set aside with a log line).
  static absl::StatusOr<std::unique_ptr<AlertmanagerSink>> Create(const AlertmanagerConfig& config,
                                                                  std::string external_url,
                                                                  const catalog::AreaTable& areas,
                                                                  boost::asio::io_context& io);
  ~AlertmanagerSink();
  AlertmanagerSink(const AlertmanagerSink&) = delete;
  AlertmanagerSink& operator=(const AlertmanagerSink&) = delete;

  // After each rules evaluation: every open finding, and the recently closed ones (the evaluator's
  // bounded history; a closed finding Alertmanager was never told about is not sent). Returns
  // whether a request was started.
  bool Update(const std::vector<rules::Finding>& open, const std::vector<rules::Finding>& closed,
              ProcessingTime now, int64_t mono_ms);
  // The same with the monotonic clock reading the wall clock (tests that step neither).
  bool Update(const std::vector<rules::Finding>& open, const std::vector<rules::Finding>& closed,
              ProcessingTime now) {
    return Update(open, closed, now, now.ms);
  }

  Stats stats() const;
  const AlertmanagerConfig& config() const { return config_; }

 private:
  AlertmanagerSink(const AlertmanagerConfig& config, std::string external_url,
                   const catalog::AreaTable& areas, boost::asio::io_context& io);
  bool Send(const std::vector<const rules::Finding*>& firing, ProcessingTime now, int64_t mono_ms);
  void OnResult(int status, const std::string& error, std::map<std::string, rules::Finding> told,
                size_t resolved_in_request);
  // Queues the resolved notice of `f` (ending now unless it has an end) once per id.
  void QueueResolved(rules::Finding f, ProcessingTime now);
  void UpdateGauges();
  // The state file: restored by Create; rewritten when what it holds changed.
  void LoadState();
  void PersistIfChanged();
  std::string StateSignature() const;

  const AlertmanagerConfig config_;
  const std::string external_url_;
  const catalog::AreaTable areas_;
  boost::asio::io_context& io_;
  std::unique_ptr<boost::asio::ssl::context> tls_;

  // Everything below: only on the io thread.
  std::map<std::string, rules::Finding> told_firing_;  // by id, as last delivered
  std::map<std::string, rules::Finding> held_;         // restored as told firing (see above)
  int64_t hold_until_ms_ = -1;                         // monotonic; set by the first Update
  std::deque<rules::Finding> pending_resolved_;        // oldest first, bounded
  std::set<std::string> resolved_ids_;                 // never sent as firing again
  std::deque<std::string> resolved_order_;             // oldest first, bounded
  int64_t next_send_ms_ = 0;  // monotonic ms a re-send is due; 0 = at the next Update
  bool in_flight_ = false;
  bool failing_ = false;           // the last request failed (logged once per outage)
  std::string written_signature_;  // StateSignature() of the state file's content
  bool state_failing_ = false;     // the last state file write failed (logged once)

  std::atomic<uint64_t> posts_ok_{0};
  std::atomic<uint64_t> posts_failed_{0};
  std::atomic<uint64_t> firing_sent_{0};
  std::atomic<uint64_t> resolved_sent_{0};
  std::atomic<size_t> firing_{0};
  std::atomic<size_t> pending_resolved_count_{0};
  std::atomic<size_t> held_count_{0};
  std::atomic<uint64_t> refires_ignored_{0};
};

}  // namespace smetsmon::webhook
