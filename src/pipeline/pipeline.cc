#include "pipeline/pipeline.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <future>

#include "absl/base/config.h"
#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "report/gonogo_report.h"
#include "smetsmon/status.h"

namespace smetsmon::pipeline {
namespace {

// The checkpoint child allocates after fork(), which is safe only with an allocator that takes
// its locks around the fork: glibc's malloc does (its atfork handlers). ASan's (clang 14) does
// not: a child that frees while another thread held one of its locks at the fork waits for ever
// (seen in the crash-recovery test's daemon). Its builds write the checkpoint in place.
#ifdef ABSL_HAVE_ADDRESS_SANITIZER
constexpr bool kForkSafeAllocator = false;
#else
constexpr bool kForkSafeAllocator = true;
#endif

int64_t FloorTo(int64_t t, int64_t step) {
  const int64_t q = t / step;
  return (t % step != 0 && t < 0 ? q - 1 : q) * step;
}

}  // namespace

const double Pipeline::kLatencyBoundsS[kLatencyBuckets] = {
    0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 5};

// A point of the stream where every worker takes its part of the rules' readings.
struct Pipeline::Barrier {
  int64_t at_ms = 0;
  int64_t month_start_ms = 0;
  uint32_t views = 0;                      // the fleet views the evaluator reads
  uint64_t covered = 0;                    // messages routed before it
  std::vector<aggregate::Readings> parts;  // one per worker, written by its owner
  std::atomic<size_t> remaining{0};
  std::promise<void> evaluated;  // set by the rules thread
};

// Where every worker stops for a checkpoint: each arrives, then waits for the release.
struct Pipeline::PauseGate {
  explicit PauseGate(size_t workers) : remaining(workers) {}
  void Arrive(int64_t now_ns) {
    std::lock_guard lock(mu);
    if (first_arrival_ns == 0) first_arrival_ns = now_ns;
    if (--remaining == 0) cv.notify_all();
  }
  void WaitForAll() {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return remaining == 0; });
  }
  void Release() {
    std::lock_guard lock(mu);
    released = true;
    cv.notify_all();
  }
  void WaitForRelease() {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return released; });
  }
  std::mutex mu;
  std::condition_variable cv;
  size_t remaining;
  bool released = false;
  int64_t first_arrival_ns = 0;  // monotonic
};

// One entry of a worker's queue.
struct Pipeline::QueueItem {
  enum class Kind : uint8_t { kSegment, kBarrier, kAdvance, kTask, kPause };
  Kind kind = Kind::kSegment;
  SourceBatch* batch = nullptr;  // kSegment
  uint32_t begin = 0, end = 0;   // kSegment: the worker's items [begin, end)
  bool last = false;             // kSegment: the batch's last segment for this worker
  std::shared_ptr<Barrier> barrier;
  int64_t advance_ms = 0;                        // kAdvance
  std::function<void(aggregate::Worker&)> task;  // kTask
  std::shared_ptr<PauseGate> gate;               // kPause

  static QueueItem AtBarrier(std::shared_ptr<Barrier> b) {
    QueueItem item;
    item.kind = Kind::kBarrier;
    item.barrier = std::move(b);
    return item;
  }
  static QueueItem AdvanceTo(int64_t ms) {
    QueueItem item;
    item.kind = Kind::kAdvance;
    item.advance_ms = ms;
    return item;
  }
};

// The rules thread: evaluates each barrier once every worker has passed it, and runs tasks (a
// reload) between evaluations.
class Pipeline::RulesThread {
 public:
  explicit RulesThread(Pipeline* owner) : owner_(owner), thread_([this] { Loop(); }) {}
  ~RulesThread() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }
  void Push(std::shared_ptr<Barrier> b) {
    {
      std::lock_guard lock(mu_);
      barriers_.push_back(std::move(b));
    }
    cv_.notify_one();
  }
  void Post(std::function<bool()> task) {
    {
      std::lock_guard lock(mu_);
      tasks_.push_back(std::move(task));
    }
    cv_.notify_one();
  }

 private:
  void Loop() {
    pthread_setname_np(pthread_self(), "smetsmon-rules");
    for (;;) {
      std::deque<std::shared_ptr<Barrier>> barriers;
      std::deque<std::function<bool()>> tasks;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return !barriers_.empty() || !tasks_.empty() || stopping_; });
        if (barriers_.empty() && tasks_.empty()) return;  // stopping, nothing left
        barriers.swap(barriers_);
        tasks.swap(tasks_);
      }
      for (auto& b : barriers) Evaluate(*b);
      for (auto& task : tasks) {
        // A task that changed the rules (a reload) has them judge the last readings at once.
        if (task() && last_.at != EventTime::Min()) {
          owner_->evaluator_->TickWith(last_, /*evaluate=*/true);
          if (owner_->on_evaluated_) owner_->on_evaluated_();
        }
      }
    }
  }

  void Evaluate(Barrier& b) {
    aggregate::Readings merged;
    for (aggregate::Readings& part : b.parts) {
      aggregate::Engine::MergeReadings(merged, std::move(part));
    }
    aggregate::Engine::FinishReadings(merged);
    owner_->evaluator_->TickWith(merged, /*evaluate=*/true);
    owner_->evaluations_.fetch_add(1, std::memory_order_relaxed);
    owner_->evaluated_messages_.store(
        std::max(owner_->evaluated_messages_.load(std::memory_order_relaxed), b.covered),
        std::memory_order_relaxed);
    if (owner_->on_evaluated_) owner_->on_evaluated_();
    merged.signals.clear();  // taken; a re-evaluation must not add them twice
    last_ = std::move(merged);
    b.evaluated.set_value();
  }

  Pipeline* owner_;
  aggregate::Readings last_;  // rules thread only
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Barrier>> barriers_;
  std::deque<std::function<bool()>> tasks_;
  bool stopping_ = false;
  std::thread thread_;  // last: starts after the fields it uses
};

// One engine worker's thread: decodes and applies its items of each batch in queue order, takes
// its readings at barriers, runs tasks between items.
class Pipeline::WorkerThread {
 public:
  WorkerThread(Pipeline* owner, size_t index)
      : owner_(owner),
        index_(index),
        worker_(&owner->engine_->worker(index)),
        decoder_({owner->ref_->areas.get(), owner->ref_->dmcs.get(), owner->ref_->cohorts.get(),
                  owner->ref_->inventory.get(), owner->config_.engine.max_throttled_count}),
        thread_([this] { Loop(); }) {}
  ~WorkerThread() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }
  // Pushes items in order under one lock.
  void Push(std::vector<QueueItem>&& items) {
    size_t messages = 0;
    for (const QueueItem& it : items) messages += it.end - it.begin;
    queued_messages_.fetch_add(messages, std::memory_order_relaxed);
    {
      std::lock_guard lock(mu_);
      for (QueueItem& it : items) queue_.push_back(std::move(it));
    }
    cv_.notify_one();
  }
  size_t queued_messages() const { return queued_messages_.load(std::memory_order_relaxed); }
  double busy_seconds() const {
    return static_cast<double>(busy_ns_.load(std::memory_order_relaxed)) / 1e9;
  }

 private:
  void Loop() {
    // Named for top -H, perf and gdb: "smetsmon-w0", "smetsmon-w1", ...
    pthread_setname_np(pthread_self(), ("smetsmon-w" + std::to_string(index_)).c_str());
    std::deque<QueueItem> items;
    for (;;) {
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return !queue_.empty() || stopping_; });
        if (queue_.empty()) return;  // stopping, everything applied
        items.swap(queue_);
      }
      for (QueueItem& item : items) Process(item);
      items.clear();
    }
  }

  void Process(QueueItem& item) {
    if (item.kind == QueueItem::Kind::kPause) {  // held for a checkpoint: not busy
      item.gate->Arrive(owner_->clock_->MonotonicNs());
      item.gate->WaitForRelease();
      return;
    }
    const int64_t start_ns = owner_->clock_->MonotonicNs();
    switch (item.kind) {
      case QueueItem::Kind::kSegment:
        ApplySegment(item);
        break;
      case QueueItem::Kind::kBarrier: {
        Barrier& b = *item.barrier;
        worker_->AdvanceTo(EventTime{b.at_ms});
        b.parts[index_] = owner_->engine_->WorkerReadings(index_, EventTime{b.at_ms},
                                                          EventTime{b.month_start_ms}, b.views);
        if (b.remaining.fetch_sub(1, std::memory_order_acq_rel) == 1) {
          owner_->rules_thread_->Push(std::move(item.barrier));
        }
        break;
      }
      case QueueItem::Kind::kAdvance:
        worker_->AdvanceTo(EventTime{item.advance_ms});
        break;
      case QueueItem::Kind::kTask:
        item.task(*worker_);
        break;
      case QueueItem::Kind::kPause:
        break;  // handled above
    }
    busy_ns_.fetch_add(owner_->clock_->MonotonicNs() - start_ns, std::memory_order_relaxed);
  }

  void ApplySegment(const QueueItem& item) {
    SourceBatch& batch = *item.batch;
    const std::vector<SourceBatch::Item>& items = batch.items_[index_];
    events_.clear();
    stream_ms_.clear();
    for (uint32_t k = item.begin; k < item.end; ++k) {
      const SourceBatch::Item& it = items[k];
      RejectReason r = it.rejected;
      AlertEvent e;
      if (r == RejectReason::kNone) {
        const std::string_view message = batch.messages[it.index];
        r = batch.padded_end != nullptr
                ? decoder_.DecodePadded(message,
                                        static_cast<size_t>(batch.padded_end - message.data()),
                                        batch.future_ref_, &e)
                : decoder_.Decode(message, batch.future_ref_, &e);
        // The router placed the message by its scan; a full decode that reads another device or
        // time (a key given twice) would be applied by the wrong worker or at the wrong time.
        if (r == RejectReason::kNone && (e.device != it.device || e.event_time.ms != it.event_ms)) {
          r = RejectReason::kAmbiguous;
        }
      }
      if (r != RejectReason::kNone) {
        worker_->CountRejected(r);
        batch.worker_rejects_[index_].emplace_back(it.index, r);
        continue;
      }
      events_.push_back(e);
      stream_ms_.push_back(it.stream_ms);
    }
    worker_->ApplyBatch(events_, stream_ms_);
    queued_messages_.fetch_sub(item.end - item.begin, std::memory_order_relaxed);
    if (item.last && batch.pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      // The last worker completes the batch; once `applied_` is set the source may reap and reuse
      // it at once, so nothing here touches the batch after that.
      owner_->BatchDone(batch.messages.size(), batch.submitted_ns_);
      batch.applied_.store(true, std::memory_order_release);
      owner_->NotifyApplied();
    }
  }

  Pipeline* owner_;
  size_t index_;
  aggregate::Worker* worker_;
  decode::Decoder decoder_;
  std::vector<AlertEvent> events_;  // reused per segment
  std::vector<int64_t> stream_ms_;
  std::atomic<size_t> queued_messages_{0};
  std::atomic<int64_t> busy_ns_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<QueueItem> queue_;
  bool stopping_ = false;
  std::thread thread_;  // last: starts after the fields it uses
};

absl::StatusOr<std::unique_ptr<Pipeline>> Pipeline::Create(const PipelineConfig& config,
                                                           const Clock& clock) {
  std::unique_ptr<Pipeline> p(new Pipeline(config, clock));
  SMETSMON_RETURN_IF_ERROR(p->Build());
  return p;
}

Pipeline::Pipeline(const PipelineConfig& config, const Clock& clock)
    : config_(config), clock_(&clock) {}

absl::Status Pipeline::BuildEngine(bool restore, std::string* rules_state) {
  // 1. Reference data: areas and the alert catalogue (the inventory comes after the checkpoint).
  SMETSMON_ASSIGN_OR_RETURN(catalog::ReferenceData ref,
                            catalog::LoadReferenceConfig(config_.reference));
  ref_ = std::make_unique<catalog::ReferenceData>(std::move(ref));
  // 2-3. Rules config, and from it what the workers keep per event for the rules.
  const std::string rules_path = config_.reference.config_dir + "/rules.yaml";
  rules_config_.reset();
  rule_inputs_.reset();
  config_.engine.rule_inputs = nullptr;
  if (config_.rules && std::filesystem::exists(rules_path)) {
    SMETSMON_ASSIGN_OR_RETURN(rules::RulesConfig rules, rules::LoadRulesConfig(rules_path, *ref_));
    if (!config_.storm_seed_file.empty()) rules.storm_seed_file = config_.storm_seed_file;
    rules_config_ = std::make_unique<rules::RulesConfig>(std::move(rules));
    const aggregate::FleetLayout layout(*ref_->areas, *ref_->catalogue, *ref_->dmcs,
                                        *ref_->cohorts);
    rule_inputs_ = std::make_unique<aggregate::RuleInputsSetup>(rules::BuildRuleInputsSetup(
        *rules_config_, layout, config_.engine.window.allowed_lateness_ms));
    config_.engine.rule_inputs = rule_inputs_.get();
  } else if (config_.rules) {
    Log(LogLevel::kWarn, "rules are off: no rules file", {{"path", rules_path}});
  }
  // 4-5. The engine, then its checkpoint (which restores DMC/cohort symbol ids first).
  engine_ = std::make_unique<aggregate::Engine>(*ref_, config_.engine);
  restored_offsets_.clear();
  if (restore) {
    SMETSMON_ASSIGN_OR_RETURN(CheckpointRead read,
                              ReadCheckpoint(config_.checkpoint_path, *engine_));
    restored_offsets_ = std::move(read.extras.offsets);
    *rules_state = std::move(read.extras.rules_state);
    Log(LogLevel::kInfo, "checkpoint restored",
        {{"path", config_.checkpoint_path},
         {"version", std::to_string(read.version)},
         {"bytes", std::to_string(read.bytes)},
         {"partitions", std::to_string(restored_offsets_.size())},
         {"stream_time", engine_->StreamTime() == EventTime::Min()
                             ? std::string("none")
                             : FormatRfc3339Utc(engine_->StreamTime().ms)}});
    std::lock_guard lock(checkpoint_mu_);
    checkpoint_stats_.restored = true;
  }
  // 6. The inventory, after the checkpoint's symbol ids.
  if (!config_.inventory_path.empty()) {
    ref_->inventory =
        std::make_unique<catalog::Inventory>(*ref_->areas, *ref_->dmcs, *ref_->cohorts);
    SMETSMON_RETURN_IF_ERROR(ref_->inventory->LoadCsv(config_.inventory_path));
  }
  return absl::OkStatus();
}

absl::Status Pipeline::Build() {
  if (config_.engine.workers < 1 || config_.engine.workers > aggregate::kVirtualShards) {
    return absl::InvalidArgumentError(
        absl::StrCat("engine.workers must be 1 to ", aggregate::kVirtualShards));
  }
  std::string rules_state;
  const bool restore =
      !config_.checkpoint_path.empty() && std::filesystem::exists(config_.checkpoint_path);
  absl::Status built = BuildEngine(restore, &rules_state);
  if (!built.ok() && restore && built.code() == absl::StatusCode::kDataLoss &&
      !config_.checkpoint_required) {
    // Untrusted input: a corrupt, truncated or foreign checkpoint. Keep it for inspection under
    // another name and start afresh (the Kafka source then starts at the committed offsets).
    const std::string aside = config_.checkpoint_path + ".refused";
    std::error_code ec;
    std::filesystem::rename(config_.checkpoint_path, aside, ec);
    Log(LogLevel::kError, "checkpoint refused: starting without it",
        {{"path", config_.checkpoint_path},
         {"error", std::string(built.message())},
         {"moved_to", ec ? std::string("(not moved: ") + ec.message() + ")" : aside}});
    {
      std::lock_guard lock(checkpoint_mu_);
      ++checkpoint_stats_.restore_refused;
    }
    rules_state.clear();
    built = BuildEngine(/*restore=*/false, &rules_state);
  }
  SMETSMON_RETURN_IF_ERROR(built);
  const EventTime restored = engine_->StreamTime();
  if (restored != EventTime::Min()) {
    stream_ms_.store(restored.ms, std::memory_order_relaxed);
    next_grid_ms_ = FloorTo(restored.ms, config_.grid_ms) + config_.grid_ms;
    future_check_.Seed(restored.ms, clock_->MonotonicNs() / 1'000'000);
  }
  // 7. The evaluator (its outage tracker takes the inventory's premises per area), with the
  // checkpoint's rules state.
  const auto make_evaluator = [this]() -> absl::Status {
    SMETSMON_ASSIGN_OR_RETURN(evaluator_, rules::Evaluator::Create(*engine_, *rules_config_));
    evaluator_->set_log_events(config_.log_findings);
    // Each daily Go/No-Go decision is also written to `gonogo.history_dir` (JSON and text).
    evaluator_->set_decision_sink([](const rules::GoNoGoConfig& c, const rules::GoNoGoResult& r) {
      return report::WriteGoNoGoHistory(c.history_dir, r);
    });
    return absl::OkStatus();
  };
  if (rules_config_ != nullptr) {
    SMETSMON_RETURN_IF_ERROR(make_evaluator());
    if (!rules_state.empty()) {
      BinaryReader r = BinaryReader::FromMemory(rules_state);
      absl::Status s = evaluator_->LoadState(r);
      if (s.ok()) s = r.Finish();
      if (!s.ok() && config_.checkpoint_required) return s;
      if (!s.ok()) {
        // The engine's state is sound; the rules start afresh (relearning their baselines).
        Log(LogLevel::kError, "checkpoint's rules state refused: the rules start afresh",
            {{"path", config_.checkpoint_path}, {"error", std::string(s.message())}});
        SMETSMON_RETURN_IF_ERROR(make_evaluator());
        std::lock_guard lock(checkpoint_mu_);
        ++checkpoint_stats_.restore_refused;
      }
    }
  }
  router_decoder_ = std::make_unique<decode::Decoder>(
      decode::DecoderRefs{ref_->areas.get(), ref_->dmcs.get(), ref_->cohorts.get(),
                          ref_->inventory.get(), config_.engine.max_throttled_count});
  // 8. Threads: the rules thread before the workers that hand it barriers.
  if (evaluator_ != nullptr) rules_thread_ = std::make_unique<RulesThread>(this);
  for (size_t i = 0; i < engine_->worker_count(); ++i) {
    workers_.push_back(std::make_unique<WorkerThread>(this, i));
  }
  return absl::OkStatus();
}

Pipeline::~Pipeline() { Stop(); }

void Pipeline::Stop() {
  if (stopped_) return;
  PollCheckpoint(/*wait=*/true);  // a checkpoint being written completes (or fails) first
  stopped_ = true;
  workers_.clear();       // each applies what is queued, then joins
  rules_thread_.reset();  // evaluates the barriers the workers completed, then joins
}

void Pipeline::Submit(std::unique_ptr<SourceBatch> batch) {
  SMETSMON_CHECK(!stopped_);  // a source submits only while the pipeline runs
  SourceBatch& b = *batch;
  const size_t n_workers = workers_.size();
  const size_t n = b.messages.size();
  SMETSMON_CHECK(b.scanned.empty() || b.scanned.size() == n);
  b.items_.assign(n_workers, {});
  for (auto& v : b.items_) v.reserve(n / n_workers + 16);
  b.worker_rejects_.assign(n_workers, {});
  b.event_ms.assign(n, 0);
  b.rejected.clear();
  b.submitted_ns_ = clock_->MonotonicNs();
  std::vector<std::vector<QueueItem>> pushes(n_workers);
  std::vector<uint32_t> segment_begin(n_workers, 0);
  // Ends every worker's current segment and queues `barrier` after it.
  const auto cut = [&](const std::shared_ptr<Barrier>& barrier) {
    for (size_t w = 0; w < n_workers; ++w) {
      const auto end = static_cast<uint32_t>(b.items_[w].size());
      if (end > segment_begin[w]) {
        QueueItem seg;
        seg.batch = &b;
        seg.begin = segment_begin[w];
        seg.end = end;
        pushes[w].push_back(std::move(seg));
        segment_begin[w] = end;
      }
      pushes[w].push_back(QueueItem::AtBarrier(barrier));
    }
  };
  // An event from the future is one more than an hour ahead of both the wall clock and the
  // stream's own time (future_time.h): a wall clock stepped back rejects no live traffic.
  future_check_.BeginBatch(b.received.ms, clock_->MonotonicNs() / 1'000'000);
  b.future_ref_ = ProcessingTime{future_check_.reference_ms()};
  for (size_t i = 0; i < n; ++i) {
    SourceBatch::Item it{static_cast<uint32_t>(i), RejectReason::kNone, 0, DeviceId{0}, 0};
    decode::RouteKey key;
    size_t worker = i % n_workers;  // for messages without a device: any worker will do
    bool routed;
    if (b.scanned.empty()) {
      routed = decode::ScanRouteKey(b.messages[i], router_dates_, &key);
    } else {
      key = b.scanned[i];
      routed = key.event_ms != 0;
    }
    if (!routed) {
      // The scan could not read it: decode it here (rare), for its device or its reject reason.
      router_fallbacks_.fetch_add(1, std::memory_order_relaxed);
      AlertEvent e;
      it.rejected = router_decoder_->Decode(b.messages[i], b.future_ref_, &e);
      if (it.rejected == RejectReason::kNone) {
        key.device = e.device;
        key.event_ms = e.event_time.ms;
        routed = true;
      }
    }
    if (routed) {
      worker = engine_->WorkerIndexFor(key.device);
      it.device = key.device;
      it.event_ms = key.event_ms;
      b.event_ms[i] = key.event_ms;
      // An event from the future is rejected by its worker; it never moves the stream time.
      if (future_check_.Accept(key.event_ms)) {
        for (const std::shared_ptr<Barrier>& barrier : MoveStreamTime(key.event_ms)) cut(barrier);
      }
    }
    it.stream_ms = stream_ms_.load(std::memory_order_relaxed);
    b.items_[worker].push_back(it);
    ++routed_messages_;
  }
  future_check_.EndBatch();
  for (size_t w = 0; w < n_workers; ++w) {
    QueueItem seg;
    seg.batch = &b;
    seg.begin = segment_begin[w];
    seg.end = static_cast<uint32_t>(b.items_[w].size());
    seg.last = true;
    pushes[w].push_back(std::move(seg));
  }
  b.pending_.store(n_workers, std::memory_order_relaxed);
  b.applied_.store(false, std::memory_order_relaxed);
  b.Routed();
  batches_submitted_.fetch_add(1, std::memory_order_relaxed);
  messages_submitted_.fetch_add(n, std::memory_order_relaxed);
  inflight_.push_back(std::move(batch));
  for (size_t w = 0; w < n_workers; ++w) workers_[w]->Push(std::move(pushes[w]));
}

std::vector<std::shared_ptr<Pipeline::Barrier>> Pipeline::MoveStreamTime(int64_t t) {
  std::vector<std::shared_ptr<Barrier>> barriers;
  const int64_t stream = stream_ms_.load(std::memory_order_relaxed);
  if (t <= stream) return barriers;
  stream_ms_.store(t, std::memory_order_relaxed);
  if (stream == EventTime::Min().ms) {
    next_grid_ms_ = FloorTo(t, config_.grid_ms) + config_.grid_ms;
    return barriers;
  }
  if (evaluator_ == nullptr || t < next_grid_ms_) return barriers;
  // The stream crossed one or more grid points: the rules evaluate at the first (the minute that
  // ended with the events before this one) and, after a gap, at the last, each on everything
  // routed before this event.
  const int64_t last = FloorTo(t, config_.grid_ms);
  barriers.push_back(MakeBarrier(next_grid_ms_));
  if (last > next_grid_ms_) barriers.push_back(MakeBarrier(last));
  next_grid_ms_ = last + config_.grid_ms;
  return barriers;
}

std::shared_ptr<Pipeline::Barrier> Pipeline::MakeBarrier(int64_t at_ms) {
  auto barrier = std::make_shared<Barrier>();
  barrier->at_ms = at_ms;
  barrier->month_start_ms = evaluator_->calendar().StartOfLocalMonth(EventTime{at_ms}).ms;
  barrier->views = evaluator_->views_needed();
  barrier->covered = routed_messages_;
  last_barrier_covered_ = routed_messages_;
  barrier->parts.resize(workers_.size());
  barrier->remaining.store(workers_.size(), std::memory_order_relaxed);
  return barrier;
}

void Pipeline::AdvanceIdle(ProcessingTime now) {
  const int64_t stream = stream_ms_.load(std::memory_order_relaxed);
  const int64_t target = now.ms - config_.engine.idle_lag_ms;
  std::vector<std::shared_ptr<Barrier>> barriers;
  if (target > stream) barriers = MoveStreamTime(target);
  // Messages applied since the last evaluation without moving the stream past a minute (the
  // partitions of a backlog read out of order, the last events before the stream went quiet)
  // are judged now: once more at the last minute reached, off the minute's first evaluation.
  if (barriers.empty() && evaluator_ != nullptr && routed_messages_ > last_barrier_covered_ &&
      stream != EventTime::Min().ms) {
    barriers.push_back(MakeBarrier(next_grid_ms_ - config_.grid_ms));
  }
  if (barriers.empty() && target <= stream) return;
  const int64_t advance_to = std::max(target, stream);
  for (auto& w : workers_) {
    std::vector<QueueItem> items;
    for (const std::shared_ptr<Barrier>& barrier : barriers) {
      items.push_back(QueueItem::AtBarrier(barrier));
    }
    items.push_back(QueueItem::AdvanceTo(advance_to));
    w->Push(std::move(items));
  }
}

void Pipeline::Finish(const std::function<void(std::unique_ptr<SourceBatch>)>& done) {
  const int64_t stream = stream_ms_.load(std::memory_order_relaxed);
  if (stream != EventTime::Min().ms) {
    // Every worker's windows end where the stream does: through a last evaluation there when the
    // rules are on (a barrier advances the windows to its time), else by an advance.
    std::shared_ptr<Barrier> barrier = evaluator_ != nullptr ? MakeBarrier(stream) : nullptr;
    std::future<void> evaluated;
    if (barrier != nullptr) evaluated = barrier->evaluated.get_future();
    for (auto& w : workers_) {
      std::vector<QueueItem> items;
      items.push_back(barrier != nullptr ? QueueItem::AtBarrier(barrier)
                                         : QueueItem::AdvanceTo(stream));
      w->Push(std::move(items));
    }
    barrier.reset();
    if (evaluated.valid()) evaluated.wait();
  }
  Reap(/*wait=*/true, done);
}

void Pipeline::BatchDone(size_t messages, int64_t submitted_ns) {
  RecordLatency(clock_->MonotonicNs() - submitted_ns);
  batches_applied_.fetch_add(1, std::memory_order_relaxed);
  messages_applied_.fetch_add(messages, std::memory_order_relaxed);
}

void Pipeline::NotifyApplied() {
  std::lock_guard lock(done_mu_);
  done_cv_.notify_all();
}

void Pipeline::RecordLatency(int64_t ns) {
  const double s = static_cast<double>(ns) / 1e9;
  size_t b = 0;
  while (b < kLatencyBuckets && s > kLatencyBoundsS[b]) ++b;
  latency_counts_[b].fetch_add(1, std::memory_order_relaxed);  // once per batch
  latency_sum_ns_.fetch_add(static_cast<uint64_t>(std::max<int64_t>(ns, 0)),
                            std::memory_order_relaxed);
}

void Pipeline::Reap(bool wait, const std::function<void(std::unique_ptr<SourceBatch>)>& done) {
  while (!inflight_.empty()) {
    SourceBatch& b = *inflight_.front();
    if (!b.applied_.load(std::memory_order_acquire)) {
      if (!wait) return;
      std::unique_lock lock(done_mu_);
      done_cv_.wait(lock, [&] { return b.applied_.load(std::memory_order_acquire); });
    }
    for (auto& part : b.worker_rejects_) {
      b.rejected.insert(b.rejected.end(), part.begin(), part.end());
    }
    std::sort(b.rejected.begin(), b.rejected.end());
    b.items_.clear();
    b.worker_rejects_.clear();
    std::unique_ptr<SourceBatch> out = std::move(inflight_.front());
    inflight_.pop_front();
    if (done) done(std::move(out));
  }
}

bool Pipeline::WaitForFront(int64_t timeout_ms) {
  if (inflight_.empty()) return true;
  SourceBatch& b = *inflight_.front();
  std::unique_lock lock(done_mu_);
  return done_cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                           [&] { return b.applied_.load(std::memory_order_acquire); });
}

namespace {

// A short, bounded label for a failed write (the Status says more in the log).
std::string FailureReason(const absl::Status& s) {
  const std::string m(s.message());
  if (m.find("No space left") != std::string::npos) return "no_space";
  if (m.find("Read-only file system") != std::string::npos) return "read_only";
  if (m.find("Permission denied") != std::string::npos) return "permission";
  if (m.find("Disk quota") != std::string::npos) return "quota";
  return "io_error";
}

}  // namespace

CheckpointOutcome Pipeline::Checkpoint(std::vector<SourceOffset> offsets,
                                       const std::string& path_override) {
  if (absl::Status s = BeginCheckpoint(std::move(offsets), path_override); !s.ok()) {
    CheckpointOutcome out;
    out.status = s;
    return out;
  }
  return *PollCheckpoint(/*wait=*/true);
}

absl::Status Pipeline::BeginCheckpoint(std::vector<SourceOffset> offsets,
                                       const std::string& path_override) {
  SMETSMON_CHECK(!stopped_ && inflight_.empty());  // the source reaped everything it submitted
  if (pending_checkpoint_ != nullptr) {
    return absl::FailedPreconditionError("a checkpoint is being written");
  }
  auto pending = std::make_unique<PendingCheckpoint>();
  pending->path = path_override.empty() ? config_.checkpoint_path : path_override;
  if (pending->path.empty()) return absl::FailedPreconditionError("no checkpoint path configured");
  pending->start_ns = clock_->MonotonicNs();
  // Every worker stops at this point of its queue: after every batch submitted so far and the
  // barriers between them.
  auto gate = std::make_shared<PauseGate>(workers_.size());
  for (auto& w : workers_) {
    std::vector<QueueItem> items(1);
    items[0].kind = QueueItem::Kind::kPause;
    items[0].gate = gate;
    w->Push(std::move(items));
  }
  gate->WaitForAll();
  // Each barrier was handed to the rules thread by the last worker to pass it, so all of them
  // are queued there by now; the rules evaluate them, then hold here.
  std::promise<void> rules_held;
  if (rules_thread_ != nullptr) {
    rules_thread_->Post([&rules_held, gate] {
      rules_held.set_value();
      gate->WaitForRelease();
      return false;
    });
    rules_held.get_future().wait();
  }
  CheckpointExtras extras;
  extras.offsets = std::move(offsets);
  extras.written_unix_ms = clock_->Now().ms;
  extras.stream_ms = stream_ms_.load(std::memory_order_relaxed);
  if (evaluator_ != nullptr) {
    BinaryWriter rules = BinaryWriter::ToMemory();
    evaluator_->SaveState(rules);
    extras.rules_state = rules.TakeBytes();
  }
  pending->written_unix_ms = extras.written_unix_ms;
  // Everything is still. In a child process (fork: the kernel shares the memory copy-on-write)
  // the state is written at leisure while the threads here go on at once; without one (or when
  // fork fails, e.g. no memory to account for the copy) it is written here, the threads held.
  int pipe_fds[2] = {-1, -1};
  pid_t child = -1;
  if (config_.checkpoint_in_child && kForkSafeAllocator && ::pipe2(pipe_fds, O_CLOEXEC) == 0) {
    const pid_t parent = ::getpid();
    child = ::fork();
    if (child == 0) {
      // The child: only this thread exists; it touches no lock another thread may have held at
      // the fork (no logging), writes, reports through the pipe and leaves without cleanup. It
      // dies with the daemon: a writer outliving a killed daemon could race the next one's.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(1);  // the daemon died before the line above
      ::close(pipe_fds[0]);
      const absl::StatusOr<uint64_t> written = WriteCheckpoint(pending->path, *engine_, extras);
      const std::string report = written.ok() ? absl::StrCat("ok ", *written)
                                              : absl::StrCat("error ", written.status().message());
      (void)!::write(pipe_fds[1], report.data(), report.size());
      ::_exit(written.ok() ? 0 : 1);
    }
    ::close(pipe_fds[1]);
    if (child < 0) ::close(pipe_fds[0]);
  }
  if (child > 0) {
    pending->child = child;
    pending->report_fd = pipe_fds[0];
  } else {
    pending->done = true;
    absl::StatusOr<uint64_t> written = WriteCheckpoint(pending->path, *engine_, extras);
    pending->outcome.status = written.status();
    if (written.ok()) pending->outcome.bytes = *written;
  }
  const int64_t released_ns = clock_->MonotonicNs();
  gate->Release();
  pending->outcome.stall_s = static_cast<double>(released_ns - gate->first_arrival_ns) / 1e9;
  if (pending->done) {
    pending->outcome.duration_s = static_cast<double>(released_ns - pending->start_ns) / 1e9;
  }
  pending_checkpoint_ = std::move(pending);
  return absl::OkStatus();
}

std::optional<CheckpointOutcome> Pipeline::PollCheckpoint(bool wait) {
  if (pending_checkpoint_ == nullptr) return std::nullopt;
  PendingCheckpoint& p = *pending_checkpoint_;
  if (!p.done) {
    int status = 0;
    pid_t r;
    do {
      r = ::waitpid(p.child, &status, wait ? 0 : WNOHANG);
    } while (r < 0 && errno == EINTR);
    if (r == 0) return std::nullopt;  // still writing
    std::string report;
    char buf[512];
    for (ssize_t n; (n = ::read(p.report_fd, buf, sizeof buf)) > 0;) report.append(buf, n);
    ::close(p.report_fd);
    p.done = true;
    p.outcome.duration_s = static_cast<double>(clock_->MonotonicNs() - p.start_ns) / 1e9;
    if (r > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0 && report.rfind("ok ", 0) == 0) {
      p.outcome.bytes = std::strtoull(report.c_str() + 3, nullptr, 10);
    } else if (report.rfind("error ", 0) == 0) {
      p.outcome.status = absl::UnavailableError(report.substr(6));
    } else {
      p.outcome.status = absl::InternalError(absl::StrCat(
          p.path, ": the checkpoint writer process ended abnormally (status ", status, ")"));
    }
  }
  CheckpointOutcome out = std::move(p.outcome);
  {
    std::lock_guard lock(checkpoint_mu_);
    if (out.status.ok()) {
      ++checkpoint_stats_.written;
      checkpoint_stats_.last_success_unix_ms = p.written_unix_ms;
      checkpoint_stats_.last_duration_s = out.duration_s;
      checkpoint_stats_.last_stall_s = out.stall_s;
      checkpoint_stats_.last_bytes = out.bytes;
    } else {
      ++checkpoint_stats_.failures[FailureReason(out.status)];
    }
  }
  if (!out.status.ok()) {
    Log(LogLevel::kError, "checkpoint failed: the previous one stays",
        {{"path", p.path}, {"error", std::string(out.status.message())}});
  }
  pending_checkpoint_.reset();
  return out;
}

CheckpointStats Pipeline::checkpoint_stats() const {
  std::lock_guard lock(checkpoint_mu_);
  return checkpoint_stats_;
}

bool Pipeline::RunOnWorker(size_t index, std::function<void(aggregate::Worker&)> task) {
  if (index >= workers_.size()) return false;
  std::vector<QueueItem> items(1);
  items[0].kind = QueueItem::Kind::kTask;
  items[0].task = std::move(task);
  workers_[index]->Push(std::move(items));
  return true;
}

bool Pipeline::RunOnRules(std::function<bool()> task) {
  if (rules_thread_ == nullptr) return false;
  rules_thread_->Post(std::move(task));
  return true;
}

uint64_t PipelineStats::latency_batches() const {
  uint64_t n = 0;
  for (uint64_t c : latency_counts) n += c;
  return n;
}

double PipelineStats::LatencyQuantileS(double q) const {
  const uint64_t n = latency_batches();
  if (n == 0) return 0;
  const auto rank = static_cast<uint64_t>(q * static_cast<double>(n));
  uint64_t seen = 0;
  for (size_t b = 0; b < latency_bounds_s.size(); ++b) {
    seen += latency_counts[b];
    if (seen > rank) return latency_bounds_s[b];
  }
  return latency_bounds_s.back();
}

PipelineStats Pipeline::stats() const {
  PipelineStats s;
  s.batches_submitted = batches_submitted_.load(std::memory_order_relaxed);
  s.batches_applied = batches_applied_.load(std::memory_order_relaxed);
  s.messages_submitted = messages_submitted_.load(std::memory_order_relaxed);
  s.messages_applied = messages_applied_.load(std::memory_order_relaxed);
  s.router_fallbacks = router_fallbacks_.load(std::memory_order_relaxed);
  s.clock_disagreements = future_check_.disagreements();
  s.evaluations = evaluations_.load(std::memory_order_relaxed);
  s.evaluated_messages = evaluated_messages_.load(std::memory_order_relaxed);
  s.stream_time = stream_time();
  for (const auto& w : workers_) {
    s.queue_depth.push_back(w->queued_messages());
    s.busy_seconds.push_back(w->busy_seconds());
  }
  s.latency_bounds_s.assign(kLatencyBoundsS, kLatencyBoundsS + kLatencyBuckets);
  for (const auto& c : latency_counts_)
    s.latency_counts.push_back(c.load(std::memory_order_relaxed));
  s.latency_sum_s = static_cast<double>(latency_sum_ns_.load(std::memory_order_relaxed)) / 1e9;
  return s;
}

}  // namespace smetsmon::pipeline
