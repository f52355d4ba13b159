// The composition root: the one object that builds smetsmon's engine side in its one valid order
// and owns its threads. Start reading here.
//
//   reference data -> rules config -> rule-input setup -> engine -> snapshot -> inventory
//     -> evaluator -> worker threads -> rules thread
//
// (the snapshot restores DMC/cohort symbol ids, so the inventory loads after it; the engine sizes
// its per-event rule inputs from the rules config, so that comes first). Members are declared in
// that order, so they are destroyed in reverse: threads first, reference data last.
//
// Data flow. A source (the Kafka consumer, replay files, a test) submits batches of raw messages
// from one thread at a time. On that thread the router scans each message for its device id and
// event time (decode/route_scan.h), keeps the one stream time of the whole engine (the largest
// event time read so far, in input order; times more than an hour ahead of both the batch's
// processing time and the stream's own time (future_time.h) do not count) and routes the message,
// with the stream time it arrived at, to the worker that owns its device
// (aggregate::VirtualShardOf). Workers decode fully and apply. So every event is applied at the
// same stream time whatever the number of workers or the batch size.
//
// Rules run on an aligned event-time grid: when the stream time reaches a new whole `grid_ms`
// (a minute), the router puts a barrier at that point of every worker's queue (a jump over many
// grid points evaluates at the first and the last of them). A worker reaching
// it advances its windows to the grid time and takes its part of the readings (window sums,
// delivery and what-if sums, noisy devices, outage signals), then goes on; once every worker has
// arrived, the rules thread merges the parts, evaluates at the grid time and calls `on_evaluated`
// (the outputs' hand-off). Workers never wait for the rules, and the rules never see an event
// from after their grid time.
//
// A source learns that a batch is applied when Reap hands it back (in submission order, with its
// rejected messages filled in): Kafka then dead-letters those and stores the batch's offsets.
//
// Thread-safety: Submit, Reap, AdvanceIdle and Finish from the one source thread at a time;
// RunOnWorker, RunOnRules, stats and the accessors from any thread until Stop, which must not run
// concurrently with them.
// Time domain: event time throughout; processing time only as a batch's receive time (the
// future-time check, with the stream's time carried on the monotonic clock) and for the idle
// advance (now - idle_lag).
#pragma once

#include <sys/types.h>
#include <atomic>
#include <condition_variable>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "aggregate/engine.h"
#include "catalog/reference_data.h"
#include "decode/decoder.h"
#include "decode/route_scan.h"
#include "pipeline/checkpoint.h"
#include "pipeline/future_time.h"
#include "rules/evaluator.h"
#include "rules/rules_config.h"
#include "smetsmon/clock.h"

namespace smetsmon::pipeline {

struct PipelineConfig {
  catalog::ReferenceOptions reference;
  aggregate::EngineConfig engine;
  std::string inventory_path;  // empty: none
  // Restored at build when the file exists (pipeline/checkpoint.h); written by Checkpoint.
  // Empty: none.
  std::string checkpoint_path;
  // A checkpoint that cannot be restored fails Create (replay --snapshot-in). Otherwise (the
  // daemon) a corrupt, truncated or foreign one is moved aside to `<path>.refused`, logged and
  // counted, and the pipeline starts afresh.
  bool checkpoint_required = false;
  // Write checkpoints in a forked child process: the workers pause only for the fork (the
  // kernel shares their memory copy-on-write), not for the write. Off: they pause for the write.
  bool checkpoint_in_child = true;
  bool rules = true;  // <config_dir>/rules.yaml, when present
  // Overrides rules.yaml's `storms.seed_file` when set (`replay --storm-seed`).
  std::string storm_seed_file;
  bool log_findings = false;       // one log line per finding opened or closed (the daemon)
  int64_t grid_ms = kMsPerMinute;  // the rules' evaluation grid, event time
  size_t max_inflight_batches = 8;
};

// A batch of raw messages. The source owns the bytes the views point at (a subclass keeps them
// alive) until the pipeline hands the batch back.
class SourceBatch {
 public:
  virtual ~SourceBatch() = default;
  // Called on the source thread once the router has filled `event_ms`, before any worker sees the
  // batch (e.g. Kafka's per-partition event times for its lag metric).
  virtual void Routed() {}

  std::vector<std::string_view> messages;
  ProcessingTime received{0};  // the wall clock for the future-time check; set by the source
  // Optional, from a source that scanned its messages already (decode::ScanRouteKey; the Kafka
  // source orders partitions by event time): parallel to `messages`, an event_ms of 0 where the
  // scan could not read the message. Empty: the router scans.
  std::vector<decode::RouteKey> scanned;
  // Optional: every message lies in one buffer readable up to here, at least
  // decode::Decoder::padding() bytes past each message's end: the workers then parse the messages
  // in place instead of copying each into a padded buffer first (replay blocks; a Kafka payload
  // is not padded).
  const char* padded_end = nullptr;

  // Filled by the pipeline. event_ms[i]: message i's event time as scanned (0 when unknown).
  std::vector<int64_t> event_ms;
  // Rejected messages (index, reason), by index, once the batch is handed back.
  std::vector<std::pair<uint32_t, RejectReason>> rejected;

 private:
  friend class Pipeline;
  struct Item {
    uint32_t index;
    RejectReason rejected;  // kNone: decode on the worker
    int64_t stream_ms;
    DeviceId device;  // as routed: the worker's full decode must agree
    int64_t event_ms;
  };
  std::vector<std::vector<Item>> items_;  // per worker
  std::vector<std::vector<std::pair<uint32_t, RejectReason>>> worker_rejects_;
  std::atomic<size_t> pending_{0};    // workers still to finish their part
  std::atomic<bool> applied_{false};  // set last by the worker that finished it
  int64_t submitted_ns_ = 0;
  // The future-time check's reference for this batch (future_time.h): the decoders' `now`.
  ProcessingTime future_ref_{0};
};

// The outcome of one checkpoint.
struct CheckpointOutcome {
  absl::Status status;
  uint64_t bytes = 0;
  double duration_s = 0;  // pause to written
  double stall_s = 0;     // the longest any worker was held
};

// What the checkpoints did so far (for metrics; any thread).
struct CheckpointStats {
  uint64_t written = 0;
  std::map<std::string, uint64_t> failures;  // by reason: no_space, read_only, io_error, ...
  int64_t last_success_unix_ms = 0;          // 0: none yet
  double last_duration_s = 0, last_stall_s = 0;
  uint64_t last_bytes = 0;
  // At start: whether a checkpoint was restored, and refused ones (corrupt, truncated, foreign).
  bool restored = false;
  uint64_t restore_refused = 0;
};

struct PipelineStats {
  uint64_t batches_submitted = 0, batches_applied = 0;
  uint64_t messages_submitted = 0, messages_applied = 0;
  uint64_t router_fallbacks = 0;  // messages the scan could not read, decoded by the router
  // Events too far ahead of the wall clock accepted on the stream's own time (future_time.h).
  uint64_t clock_disagreements = 0;
  uint64_t evaluations = 0;
  // Messages submitted before the rules' last evaluation: all of them are judged once it equals
  // messages_submitted.
  uint64_t evaluated_messages = 0;
  EventTime stream_time = EventTime::Min();  // as routed
  std::vector<size_t> queue_depth;           // per worker: items waiting
  std::vector<double> busy_seconds;          // per worker: time spent applying, cumulative
  // Batch apply latency (submit to applied by every worker), seconds: cumulative bucket counts.
  std::vector<double> latency_bounds_s;
  std::vector<uint64_t> latency_counts;  // one more than the bounds (+Inf)
  double latency_sum_s = 0;

  uint64_t latency_batches() const;
  // The upper bound of the bucket holding quantile `q` of the batch apply latency (the last
  // finite bound when it lies beyond it; 0 with no batch).
  double LatencyQuantileS(double q) const;
};

class Pipeline {
 public:
  // Builds everything in order and starts the threads. Configuration errors come back as a
  // Status naming the file and field.
  static absl::StatusOr<std::unique_ptr<Pipeline>> Create(const PipelineConfig& config,
                                                          const Clock& clock);
  ~Pipeline();  // Stop()
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  // --- the source thread ---
  // Routes and queues a batch; never blocks (see CanSubmit for backpressure).
  void Submit(std::unique_ptr<SourceBatch> batch);
  bool CanSubmit() const { return inflight_.size() < config_.max_inflight_batches; }
  size_t inflight() const { return inflight_.size(); }
  // Hands back the applied batches at the front of the queue, in submission order; with `wait`,
  // first waits until every submitted batch is applied.
  void Reap(bool wait, const std::function<void(std::unique_ptr<SourceBatch>)>& done);
  // Waits up to `timeout_ms` for the front batch to be applied; true if it is.
  bool WaitForFront(int64_t timeout_ms);
  // The stream is idle (every input read to its end): moves the stream time to now - idle_lag,
  // through the router like an event, so the windows age out and the rules keep their grid; and
  // when messages came since the rules' last evaluation without moving the stream past a minute
  // (a backlog's partitions read out of order), the rules judge them at the last minute reached.
  void AdvanceIdle(ProcessingTime now);
  // End of input (a replay): every batch applied, and the rules evaluated once more at the stream
  // time (off the grid), waited for.
  void Finish(const std::function<void(std::unique_ptr<SourceBatch>)>& done);
  // Takes a consistent checkpoint of everything submitted so far, reflecting `offsets`, to
  // config().checkpoint_path: every worker pauses at the same point of its queue, the rules
  // thread pauses once it has evaluated every barrier before that point, the state is written
  // (pipeline/checkpoint.h), and all go on. Every submitted batch must have been reaped first
  // (so the offsets given are exactly those applied). Source thread. A failure is returned,
  // logged and counted; the previous checkpoint stays.
  // `path` overrides the configured one (replay --snapshot-out). Waits for the write.
  CheckpointOutcome Checkpoint(std::vector<SourceOffset> offsets, const std::string& path = "");
  // The same in two steps, so the source goes on while the state is written: Begin pauses
  // everything, hands the state to a writer (a child process, see checkpoint_in_child) and lets
  // the threads go; PollCheckpoint returns the outcome once written (with `wait`, waits for it;
  // nothing when no checkpoint is pending). One at a time: Begin fails while one is pending.
  absl::Status BeginCheckpoint(std::vector<SourceOffset> offsets, const std::string& path = "");
  std::optional<CheckpointOutcome> PollCheckpoint(bool wait);
  // The input positions of the checkpoint restored at build (empty: none restored).
  const std::vector<SourceOffset>& restored_offsets() const { return restored_offsets_; }

  // --- any thread ---
  // Runs `task` on worker `index`'s thread between two of its queue items: how other threads read
  // state only its owner may touch. False if there is no such worker or the pipeline stopped.
  bool RunOnWorker(size_t index, std::function<void(aggregate::Worker&)> task);
  // Runs `task` on the rules thread between two evaluations (a reload); when it returns true the
  // rules evaluate the last readings again at once. False without rules.
  bool RunOnRules(std::function<bool()> task);
  // Called on the rules thread after every evaluation. Set before the first Submit.
  void set_on_evaluated(std::function<void()> fn) { on_evaluated_ = std::move(fn); }
  // Stops the threads after applying everything queued (batches not reaped stay for Reap). Call
  // it once nothing else submits or posts tasks (the daemon stops its io thread first).
  void Stop();

  PipelineStats stats() const;
  CheckpointStats checkpoint_stats() const;
  const PipelineConfig& config() const { return config_; }
  catalog::ReferenceData& ref() { return *ref_; }
  aggregate::Engine& engine() { return *engine_; }
  const aggregate::Engine& engine() const { return *engine_; }
  rules::Evaluator* evaluator() { return evaluator_.get(); }
  const rules::RulesConfig* rules_config() const { return rules_config_.get(); }
  EventTime stream_time() const { return {stream_ms_.load(std::memory_order_relaxed)}; }

 private:
  struct Barrier;
  struct PauseGate;
  struct PendingCheckpoint {
    std::string path;
    int64_t start_ns = 0;
    int64_t written_unix_ms = 0;
    pid_t child = -1;  // the writer process, until reaped
    int report_fd = -1;
    bool done = false;
    CheckpointOutcome outcome;
  };
  struct QueueItem;
  class WorkerThread;
  class RulesThread;

  Pipeline(const PipelineConfig& config, const Clock& clock);
  absl::Status Build();
  // Steps 1-6 of Build: reference data to inventory, restoring the checkpoint when `restore`.
  absl::Status BuildEngine(bool restore, std::string* rules_state);
  // Router: the stream time reaches `t`; returns the barriers to place before it when that
  // crosses the rules' grid: the first grid point crossed, and the last when it is another (none
  // without rules).
  std::vector<std::shared_ptr<Barrier>> MoveStreamTime(int64_t t);
  std::shared_ptr<Barrier> MakeBarrier(int64_t at_ms);
  // A batch's last worker finished it (the batch itself may already be reaped).
  void BatchDone(size_t messages, int64_t submitted_ns);
  void NotifyApplied();
  void RecordLatency(int64_t ns);

  // In lifetime order.
  PipelineConfig config_;
  const Clock* clock_;
  std::unique_ptr<catalog::ReferenceData> ref_;
  std::unique_ptr<rules::RulesConfig> rules_config_;
  std::unique_ptr<aggregate::RuleInputsSetup> rule_inputs_;
  std::unique_ptr<aggregate::Engine> engine_;
  std::unique_ptr<rules::Evaluator> evaluator_;
  std::function<void()> on_evaluated_;

  // Router state (source thread).
  std::unique_ptr<decode::Decoder> router_decoder_;
  Rfc3339DateCache router_dates_;
  std::atomic<int64_t> stream_ms_{EventTime::Min().ms};
  FutureTimeCheck future_check_{decode::kMaxFutureMs};
  int64_t next_grid_ms_ = EventTime::Min().ms;
  uint64_t routed_messages_ = 0;       // messages routed so far
  uint64_t last_barrier_covered_ = 0;  // routed_messages_ when the last barrier was placed
  std::deque<std::unique_ptr<SourceBatch>> inflight_;
  std::atomic<uint64_t> router_fallbacks_{0};
  std::atomic<uint64_t> batches_submitted_{0}, messages_submitted_{0};

  // Completion (workers -> source thread).
  mutable std::mutex done_mu_;
  std::condition_variable done_cv_;
  std::atomic<uint64_t> batches_applied_{0}, messages_applied_{0};

  // Written by the rules thread.
  std::atomic<uint64_t> evaluations_{0};
  std::atomic<uint64_t> evaluated_messages_{0};  // messages routed before the last evaluation

  static constexpr size_t kLatencyBuckets = 14;
  static const double kLatencyBoundsS[kLatencyBuckets];
  std::atomic<uint64_t> latency_counts_[kLatencyBuckets + 1] = {};
  std::atomic<uint64_t> latency_sum_ns_{0};

  std::vector<SourceOffset> restored_offsets_;
  std::unique_ptr<PendingCheckpoint> pending_checkpoint_;  // source thread
  mutable std::mutex checkpoint_mu_;                       // guards checkpoint_stats_
  CheckpointStats checkpoint_stats_;

  std::unique_ptr<RulesThread> rules_thread_;           // before the workers: they hand it barriers
  std::vector<std::unique_ptr<WorkerThread>> workers_;  // last: they use everything above
  bool stopped_ = false;
};

}  // namespace smetsmon::pipeline
