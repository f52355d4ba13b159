#include "ingest/kafka_source.h"

#include "base/log.h"
#include "base/secrets.h"
#include "decode/route_scan.h"

#include <librdkafka/rdkafka.h>
#include <pthread.h>

#include <chrono>
#include <cstring>
#include <limits>
#include <set>

#include "absl/strings/str_cat.h"

namespace smetsmon::ingest {
namespace {

// Consumer-only properties, not copied to the dead-letter producer.
const std::set<std::string> kConsumerOnly = {"group.id",
                                             "group.instance.id",
                                             "auto.offset.reset",
                                             "enable.auto.commit",
                                             "enable.auto.offset.store",
                                             "auto.commit.interval.ms",
                                             "partition.assignment.strategy",
                                             "session.timeout.ms",
                                             "heartbeat.interval.ms",
                                             "max.poll.interval.ms",
                                             "queued.max.messages.kbytes",
                                             "queued.min.messages",
                                             "enable.partition.eof",
                                             "fetch.wait.max.ms",
                                             "fetch.min.bytes",
                                             "fetch.max.bytes",
                                             "max.partition.fetch.bytes",
                                             "isolation.level",
                                             "check.crcs"};

absl::Status SetAll(rd_kafka_conf_t* conf, const std::map<std::string, std::string>& props) {
  return SetKafkaProperties(conf, props);
}

void RebalanceCallback(rd_kafka_t* /*rk*/, rd_kafka_resp_err_t err,
                       rd_kafka_topic_partition_list_t* parts, void* opaque) {
  static_cast<KafkaIngest*>(opaque)->OnRebalance(static_cast<int>(err), parts);
}

void DeliveryReportCallback(rd_kafka_t* /*rk*/, const rd_kafka_message_t* message, void* opaque) {
  static_cast<KafkaIngest*>(opaque)->OnDeliveryReport(message);
}

// librdkafka's own log lines, errors and statistics (kafka_client_probe.h). The log callback may
// run on librdkafka's threads, even inside rd_kafka_new; the opaque is set before.
void LogCallback(const rd_kafka_t* rk, int level, const char* facility, const char* message) {
  static_cast<KafkaIngest*>(rd_kafka_opaque(rk))->ProbeOf(rk).OnLog(level, facility, message);
}

void ErrorCallback(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
  static_cast<KafkaIngest*>(opaque)->ProbeOf(rk).OnError(err, reason);
}

int StatisticsCallback(rd_kafka_t* rk, char* json, size_t length, void* opaque) {
  static_cast<KafkaIngest*>(opaque)->ProbeOf(rk).OnStatistics(std::string_view(json, length));
  return 0;  // librdkafka frees the document
}

void WireClientCallbacks(rd_kafka_conf_t* conf) {
  rd_kafka_conf_set_log_cb(conf, &LogCallback);
  rd_kafka_conf_set_error_cb(conf, &ErrorCallback);
  rd_kafka_conf_set_stats_cb(conf, &StatisticsCallback);
}

}  // namespace

absl::Status SetKafkaProperties(rd_kafka_conf_t* conf,
                                const std::map<std::string, std::string>& props) {
  char err[512];
  for (const auto& [k, v] : props) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      // The key, never the value (a secret under a misspelt key is still a secret), nor
      // librdkafka's message quoting it.
      return absl::InvalidArgumentError(
          absl::StrCat("kafka property '", k, "': ", PropertyMessageWithoutValue(k, v, err)));
    }
  }
  return absl::OkStatus();
}

// A batch of consumed messages: the pipeline reads their payloads in place, so they are destroyed
// only when the batch comes back applied.
struct KafkaIngest::Batch : pipeline::SourceBatch {
  ~Batch() override {
    for (rd_kafka_message_t* m : kafka_messages) rd_kafka_message_destroy(m);
  }
  // The router scanned the event times: the newest per partition, for the lag metric.
  void Routed() override {
    for (size_t i = 0; i < kafka_messages.size(); ++i) {
      if (event_ms[i] == 0) continue;
      int64_t& last = partitions[partition_of[i]].last_event_ms;
      last = std::max(last, event_ms[i]);
    }
  }
  // Each partition of the batch once: the merge interleaves partitions message by message, so
  // these are found by index (partition_of), not looked up per message.
  struct Partition {
    int32_t partition = 0;
    int64_t next_offset = 0;    // last offset in the batch + 1
    int64_t last_event_ms = 0;  // newest event time in the batch (0: none scanned)
  };
  std::vector<rd_kafka_message_t*> kafka_messages;  // parallel to `messages`
  std::vector<uint32_t> partition_of;               // parallel to `messages`: into `partitions`
  std::vector<Partition> partitions;
  int64_t polled_ns = 0;  // monotonic time the batch left the consumer
};

absl::StatusOr<std::unique_ptr<KafkaIngest>> KafkaIngest::Create(pipeline::Pipeline& pipeline,
                                                                 const KafkaConfig& config,
                                                                 const Clock& clock) {
  std::unique_ptr<KafkaIngest> k(new KafkaIngest(pipeline, config, clock));
  if (auto s = k->Init(); !s.ok()) return s;
  return k;
}

KafkaIngest::KafkaIngest(pipeline::Pipeline& pipeline, KafkaConfig config, const Clock& clock)
    : pipeline_(&pipeline),
      config_(std::move(config)),
      clock_(&clock),
      merge_(config_.merge_max_wait_ms * 1'000'000, config_.merge_max_buffered_bytes) {
  unassigned_since_ns_.store(clock.MonotonicNs(), std::memory_order_relaxed);
}

bool KafkaIngest::StreamIdle() const {
  // An idle advance moves the stream time to now minus the idle lag: done while a backlog is
  // still to be read (a restart, a group join), it would make that backlog late for the windows.
  if (assigned_.load(std::memory_order_relaxed) == 0) {
    return clock_->MonotonicNs() - unassigned_since_ns_.load(std::memory_order_relaxed) >=
           config_.idle_advance_unassigned_ms * 1'000'000;
  }
  return partitions_at_end_.load(std::memory_order_relaxed) >=
             assigned_.load(std::memory_order_relaxed) &&
         merge_.empty();
}

absl::Status KafkaIngest::Init() {
  std::map<std::string, std::string> props = config_.properties;
  // Defaults an operator may override; at-least-once is not negotiable.
  props.emplace("group.id", "smetsmon");
  props.emplace("auto.offset.reset", "earliest");
  props.emplace("partition.assignment.strategy", "cooperative-sticky");
  // The prefetch bound. librdkafka 2.0 (Debian 12) stops fetching a partition once its local
  // queue passes queued.min.messages or queued.max.messages.kbytes, and backs that partition's
  // fetch off for fetch.error.backoff.ms (500 ms; 2.2 has fetch.queue.backoff.ms for this): a
  // queue the pipeline drains sooner starves it for the rest (measured: 0.3-1 s stalls in a
  // catch-up). The event-time merge holds what it has taken from that queue (up to
  // merge_max_buffered_bytes) and so absorbs those stalls: 64 MiB is enough (measured with
  // smetsmon-bench-overload at 256 partitions: no forced take, 1.0 GB less RSS than 256 MiB, and
  // faster). Only bytes bind.
  props.emplace("queued.max.messages.kbytes", "65536");
  props.emplace("queued.min.messages", "10000000");
  // librdkafka's statistics (brokers' states, the fetch queue) for the metrics, every 10 s.
  props.emplace("statistics.interval.ms", "10000");
  props["enable.auto.offset.store"] = "false";
  // End-of-partition events tell when every assigned partition is read to its end, which is
  // when the windows may advance with processing time (StreamIdle); they are not passed on.
  props["enable.partition.eof"] = "true";
  checkpointing_ =
      !pipeline_->config().checkpoint_path.empty() && config_.checkpoint_interval_ms > 0;
  if (checkpointing_) {
    // Offsets are committed only with the checkpoint that reflects them (TakeCheckpoint).
    props["enable.auto.commit"] = "false";
    for (const pipeline::SourceOffset& o : pipeline_->restored_offsets()) {
      if (o.topic == config_.topic) restored_next_[o.partition] = o.next_offset;
    }
    last_checkpoint_ns_ = clock_->MonotonicNs();
  } else {
    props["enable.auto.commit"] =
        props.count("enable.auto.commit") ? props["enable.auto.commit"] : "true";
  }
  if (!props.count("bootstrap.servers")) {
    return absl::InvalidArgumentError("kafka: bootstrap.servers is required");
  }
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  if (auto s = SetAll(conf, props); !s.ok()) {
    rd_kafka_conf_destroy(conf);
    return s;
  }
  rd_kafka_conf_set_opaque(conf, this);
  rd_kafka_conf_set_rebalance_cb(conf, &RebalanceCallback);
  WireClientCallbacks(conf);
  char err[512];
  consumer_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  if (consumer_ == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("kafka consumer: ", err));
  }
  rd_kafka_poll_set_consumer(consumer_);
  consumer_queue_ = rd_kafka_queue_get_consumer(consumer_);
  rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(topics, config_.topic.c_str(), RD_KAFKA_PARTITION_UA);
  const rd_kafka_resp_err_t sub = rd_kafka_subscribe(consumer_, topics);
  rd_kafka_topic_partition_list_destroy(topics);
  if (sub != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::UnavailableError(absl::StrCat("kafka subscribe: ", rd_kafka_err2str(sub)));
  }
  if (!config_.dead_letter_topic.empty()) {
    std::map<std::string, std::string> pprops;
    for (const auto& [k, v] : props) {
      if (!kConsumerOnly.count(k)) pprops[k] = v;
    }
    rd_kafka_conf_t* pconf = rd_kafka_conf_new();
    if (auto s = SetAll(pconf, pprops); !s.ok()) {
      rd_kafka_conf_destroy(pconf);
      return s;
    }
    rd_kafka_conf_set_opaque(pconf, this);
    rd_kafka_conf_set_dr_msg_cb(pconf, &DeliveryReportCallback);
    WireClientCallbacks(pconf);
    producer_ = rd_kafka_new(RD_KAFKA_PRODUCER, pconf, err, sizeof err);
    if (producer_ == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("kafka dead-letter producer: ", err));
    }
    if (!config_.dead_letter_file.empty()) {
      absl::StatusOr<std::unique_ptr<FileDeadLetterSink>> file =
          FileDeadLetterSink::Open(config_.dead_letter_file, /*append=*/true);
      if (!file.ok()) return file.status();
      dead_file_ = *std::move(file);
    }
  }
  return absl::OkStatus();
}

KafkaClientProbe& KafkaIngest::ProbeOf(const rd_kafka_s* rk) {
  return rd_kafka_type(rk) == RD_KAFKA_CONSUMER ? consumer_probe_ : producer_probe_;
}

KafkaIngest::~KafkaIngest() {
  if (consumer_queue_ != nullptr) rd_kafka_queue_destroy(consumer_queue_);
  if (consumer_ != nullptr) rd_kafka_destroy(consumer_);
  if (producer_ != nullptr) {
    // Whatever is still in the producer is settled here: delivered, or to the file; the offsets
    // of anything still unsettled were not committed.
    SettleDeadLetters();
    rd_kafka_purge(producer_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_flush(producer_, 1000);  // serves the purged messages' reports: frees their records
    rd_kafka_destroy(producer_);
  }
}

void KafkaIngest::OnRebalance(int err, rd_kafka_topic_partition_list_s* parts) {
  rebalances_.fetch_add(1, std::memory_order_relaxed);
  std::string list;
  for (int i = 0; i < parts->cnt; ++i) {
    absl::StrAppend(&list, i ? "," : "", parts->elems[i].topic, "/", parts->elems[i].partition);
  }
  Log(LogLevel::kInfo,
      err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS ? "partitions assigned"
      : rd_kafka_assignment_lost(consumer_)       ? "partitions lost"
                                                  : "partitions revoked",
      {{"partitions", list}});
  const bool cooperative = std::strcmp(rd_kafka_rebalance_protocol(consumer_), "COOPERATIVE") == 0;
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    if (checkpointing_) SeekToRestored(parts);
    if (cooperative) {
      if (rd_kafka_error_t* e = rd_kafka_incremental_assign(consumer_, parts))
        rd_kafka_error_destroy(e);
      assigned_.fetch_add(static_cast<size_t>(parts->cnt), std::memory_order_relaxed);
    } else {
      rd_kafka_assign(consumer_, parts);
      assigned_.store(static_cast<size_t>(parts->cnt), std::memory_order_relaxed);
      at_end_.clear();
      owned_.clear();
    }
    const int64_t now_ns = clock_->MonotonicNs();
    for (int i = 0; i < parts->cnt; ++i) {
      at_end_.erase(parts->elems[i].partition);
      owned_.insert(parts->elems[i].partition);
      merge_.Assign(parts->elems[i].partition, now_ns);
    }
    partitions_at_end_.store(at_end_.size(), std::memory_order_relaxed);
    if (paused_) rd_kafka_pause_partitions(consumer_, parts);
    return;
  }
  // Revoked (or lost): finish everything in flight first, so nothing of these partitions is
  // pending when they go, then commit what was applied, unless the partitions were lost (then
  // another member owns them and a commit from us would be wrong).
  Reap(/*wait=*/true);
  // A revoke served while a poll was being handed over: messages of revoked partitions not yet
  // in the merge are dropped here, so that a re-assignment in the same call does not let them
  // in (their next owner, maybe us again, reads them from the committed offset).
  std::erase_if(filling_, [parts](rd_kafka_message_t* m) {
    for (int i = 0; i < parts->cnt; ++i) {
      if (parts->elems[i].partition == m->partition) {
        rd_kafka_message_destroy(m);
        return true;
      }
    }
    return false;
  });
  if (!rd_kafka_assignment_lost(consumer_)) {
    if (checkpointing_) {
      TakeCheckpoint(/*sync=*/true);
    } else {
      rd_kafka_commit(consumer_, nullptr, /*async=*/0);
    }
  }
  {
    std::lock_guard lock(lag_mu_);
    for (int i = 0; i < parts->cnt; ++i) last_event_ms_.erase(parts->elems[i].partition);
  }
  for (int i = 0; i < parts->cnt; ++i) {
    const int32_t partition = parts->elems[i].partition;
    owned_.erase(partition);
    // Committed above (or lost): a later checkpoint must not commit it again for its new owner.
    applied_next_.erase(partition);
    held_offsets_.erase(partition);
    merge_.Revoke(partition,
                  [](void* m) { rd_kafka_message_destroy(static_cast<rd_kafka_message_t*>(m)); });
    polled_next_.erase(partition);
    at_end_.erase(partition);
  }
  merge_buffered_.store(merge_.buffered(), std::memory_order_relaxed);
  partitions_at_end_.store(at_end_.size(), std::memory_order_relaxed);
  if (cooperative) {
    if (rd_kafka_error_t* e = rd_kafka_incremental_unassign(consumer_, parts))
      rd_kafka_error_destroy(e);
    const size_t n = static_cast<size_t>(parts->cnt);
    const size_t had = assigned_.load(std::memory_order_relaxed);
    assigned_.store(had >= n ? had - n : 0, std::memory_order_relaxed);
  } else {
    rd_kafka_assign(consumer_, nullptr);
    assigned_.store(0, std::memory_order_relaxed);
  }
  if (assigned_.load(std::memory_order_relaxed) == 0) {
    unassigned_since_ns_.store(clock_->MonotonicNs(), std::memory_order_relaxed);
  }
}

void KafkaIngest::SetPaused(bool paused) {
  if (paused == paused_) return;
  rd_kafka_topic_partition_list_t* parts = nullptr;
  if (rd_kafka_assignment(consumer_, &parts) == RD_KAFKA_RESP_ERR_NO_ERROR && parts != nullptr) {
    if (paused) {
      rd_kafka_pause_partitions(consumer_, parts);
      pauses_.fetch_add(1, std::memory_order_relaxed);
    } else {
      rd_kafka_resume_partitions(consumer_, parts);
      // The pause dropped the prefetch: the merge's waits for next fetches start now.
      merge_.RestartWaits(clock_->MonotonicNs());
    }
    rd_kafka_topic_partition_list_destroy(parts);
  }
  paused_ = paused;
}

void KafkaIngest::DeadLetter(const void* payload, size_t len, RejectReason reason,
                             const char* topic, int32_t partition, int64_t offset) {
  if (producer_ == nullptr) return;
  Produce(std::make_unique<DeadRecord>(DeadRecord{
      reason, topic, partition, offset, std::string(static_cast<const char*>(payload), len)}));
}

void KafkaIngest::Produce(std::unique_ptr<DeadRecord> r) {
  const std::string_view why = RejectReasonName(r->reason);
  const std::string part = std::to_string(r->partition);
  const std::string off = std::to_string(r->offset);
  // No copy: the record owns the payload until its delivery report.
  const rd_kafka_resp_err_t err = rd_kafka_producev(
      producer_, RD_KAFKA_V_TOPIC(config_.dead_letter_topic.c_str()),
      RD_KAFKA_V_VALUE(r->raw.data(), r->raw.size()), RD_KAFKA_V_OPAQUE(r.get()),
      RD_KAFKA_V_HEADER("reason", why.data(), static_cast<ssize_t>(why.size())),
      RD_KAFKA_V_HEADER("source_topic", r->topic.c_str(), -1),
      RD_KAFKA_V_HEADER("source_partition", part.data(), static_cast<ssize_t>(part.size())),
      RD_KAFKA_V_HEADER("source_offset", off.data(), static_cast<ssize_t>(off.size())),
      RD_KAFKA_V_END);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    Fallback(std::move(r), DeadLetterError::kEnqueue);
    return;
  }
  r.release();  // OnDeliveryReport takes it back
  in_producer_.fetch_add(1, std::memory_order_relaxed);
}

void KafkaIngest::OnDeliveryReport(const rd_kafka_message_t* m) {
  std::unique_ptr<DeadRecord> r(static_cast<DeadRecord*>(m->_private));
  if (r == nullptr) return;
  in_producer_.fetch_sub(1, std::memory_order_relaxed);
  if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    dead_lettered_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const bool purged = m->err == RD_KAFKA_RESP_ERR__PURGE_QUEUE ||
                      m->err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT ||
                      m->err == RD_KAFKA_RESP_ERR__MSG_TIMED_OUT;
  Fallback(std::move(r), purged ? DeadLetterError::kTimeout : DeadLetterError::kDelivery);
}

void KafkaIngest::CountError(DeadLetterError why) {
  dead_errors_[static_cast<size_t>(why)].fetch_add(1, std::memory_order_relaxed);
}

void KafkaIngest::Fallback(std::unique_ptr<DeadRecord> r, DeadLetterError why) {
  CountError(why);
  if (dead_file_ != nullptr && why != DeadLetterError::kFile) {
    if (dead_file_->Append(absl::StrCat(r->topic, "/", r->partition),
                           static_cast<uint64_t>(r->offset), r->reason, r->raw)) {
      unsynced_.push_back(std::move(r));
    } else {
      CountError(DeadLetterError::kFile);
      unsent_.push_back(std::move(r));
    }
  } else {
    unsent_.push_back(std::move(r));
  }
  held_records_.store(unsynced_.size() + unsent_.size(), std::memory_order_relaxed);
}

bool KafkaIngest::SettleDeadLetters() {
  if (producer_ == nullptr) return true;
  const uint64_t fallback_before = dead_fallback_.load(std::memory_order_relaxed);
  // What waits from an earlier round (no file, or the file failed) gets the topic again.
  std::vector<std::unique_ptr<DeadRecord>> retry;
  retry.swap(unsent_);
  for (std::unique_ptr<DeadRecord>& r : retry) Produce(std::move(r));
  // Serves the delivery reports: failures land in Fallback.
  rd_kafka_flush(producer_, static_cast<int>(config_.dead_letter_flush_ms));
  if (in_producer_.load(std::memory_order_relaxed) > 0 && dead_file_ != nullptr) {
    // The bound passed: the rest goes to the file so ingestion goes on. A purged message that
    // was in flight may have reached the topic as well (at least once, never lost).
    rd_kafka_purge(producer_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    for (int i = 0; i < 100 && in_producer_.load(std::memory_order_relaxed) > 0; ++i) {
      rd_kafka_poll(producer_, 10);
    }
  }
  if (dead_file_ != nullptr && !unsynced_.empty()) {
    if (absl::Status s = dead_file_->Sync(); s.ok()) {
      dead_fallback_.fetch_add(unsynced_.size(), std::memory_order_relaxed);
      unsynced_.clear();
    } else {
      Log(LogLevel::kError, "dead-letter file not durable: offsets held back",
          {{"error", std::string(s.message())}});
      for (std::unique_ptr<DeadRecord>& r : unsynced_) {
        CountError(DeadLetterError::kFile);
        unsent_.push_back(std::move(r));
      }
      unsynced_.clear();
    }
  }
  held_records_.store(unsynced_.size() + unsent_.size(), std::memory_order_relaxed);
  const uint64_t fell_back = dead_fallback_.load(std::memory_order_relaxed) - fallback_before;
  if (fell_back > 0) {
    Log(LogLevel::kWarn, "dead-letter topic unavailable: records written to the dead-letter file",
        {{"records", absl::StrCat(fell_back)}, {"file", config_.dead_letter_file}});
  }
  const bool settled = in_producer_.load(std::memory_order_relaxed) == 0 && unsent_.empty();
  if (!settled) {
    Log(LogLevel::kWarn, "dead letters not delivered: offsets held back",
        {{"records", absl::StrCat(in_producer_.load(std::memory_order_relaxed) + unsent_.size())},
         {"note", dead_file_ == nullptr ? "set kafka.dead_letter_file to go on without the topic"
                                        : "the dead-letter file failed"}});
  }
  return settled;
}

void KafkaIngest::Finished(std::unique_ptr<pipeline::SourceBatch> done) {
  auto& b = static_cast<Batch&>(*done);
  for (const auto& [index, reason] : b.rejected) {
    const rd_kafka_message_t* m = b.kafka_messages[index];
    DeadLetter(m->payload, m->len, reason, rd_kafka_topic_name(m->rkt), m->partition, m->offset);
  }
  for (const Batch::Partition& p : b.partitions) {
    int64_t& applied = applied_next_[p.partition];
    applied = std::max(applied, p.next_offset);
  }
  if (!checkpointing_ && !b.partitions.empty()) {
    for (const Batch::Partition& p : b.partitions) {
      int64_t& held = held_offsets_[p.partition];
      held = std::max(held, p.next_offset);
    }
    // Offsets past a rejected message are stored only once its dead letter is settled.
    const bool unsettled = !b.rejected.empty() ||
                           held_records_.load(std::memory_order_relaxed) > 0 ||
                           in_producer_.load(std::memory_order_relaxed) > 0;
    if (!unsettled || SettleDeadLetters()) {
      rd_kafka_topic_partition_list_t* list =
          rd_kafka_topic_partition_list_new(static_cast<int>(held_offsets_.size()));
      for (const auto& [partition, next] : held_offsets_) {
        rd_kafka_topic_partition_list_add(list, config_.topic.c_str(), partition)->offset = next;
      }
      // Fails only for partitions no longer assigned (lost): those are not ours to commit.
      rd_kafka_offsets_store(consumer_, list);
      rd_kafka_topic_partition_list_destroy(list);
      held_offsets_.clear();
    }
  }
  if (checkpointing_ && uncommitted_since_ns_.load(std::memory_order_relaxed) == 0 &&
      !b.messages.empty()) {
    uncommitted_since_ns_.store(clock_->MonotonicNs(), std::memory_order_relaxed);
  }
  {
    std::lock_guard lock(done_mu_);
    applied_ += b.messages.size();
  }
  done_cv_.notify_all();
}

void KafkaIngest::TakeCheckpoint(bool sync) {
  if (checkpoint_pending_) {  // the one being written completes first
    CheckpointDone(*pipeline_->PollCheckpoint(/*wait=*/true), sync);
  }
  Reap(/*wait=*/true);
  // A rejected message's offset is committed only with its dead letter delivered or durable;
  // otherwise this checkpoint waits (the next attempt is an interval later).
  if (!SettleDeadLetters()) {
    last_checkpoint_ns_ = clock_->MonotonicNs();
    return;
  }
  std::vector<pipeline::SourceOffset> offsets;
  for (const auto& [partition, next] : applied_next_) {
    offsets.push_back({config_.topic, partition, next});
  }
  last_checkpoint_ns_ = clock_->MonotonicNs();
  const uint64_t applied = Applied();
  // Nothing applied since the last checkpoint: it still holds (an idle stream's advance is
  // re-derived after a restart). A revoke and the stop write one regardless.
  if (!sync && applied == applied_at_commit_.load(std::memory_order_relaxed)) return;
  checkpoint_offsets_ = offsets;
  checkpoint_applied_ = applied;
  if (sync) {
    CheckpointDone(pipeline_->Checkpoint(std::move(offsets)), /*sync=*/true);
    return;
  }
  // The state is written while this thread goes on polling; PollPendingCheckpoint commits.
  checkpoint_pending_ = pipeline_->BeginCheckpoint(std::move(offsets)).ok();
}

void KafkaIngest::PollPendingCheckpoint() {
  if (!checkpoint_pending_) return;
  if (std::optional<pipeline::CheckpointOutcome> out = pipeline_->PollCheckpoint(/*wait=*/false)) {
    CheckpointDone(*out, /*sync=*/false);
  }
}

void KafkaIngest::CheckpointDone(const pipeline::CheckpointOutcome& out, bool sync) {
  checkpoint_pending_ = false;
  if (!out.status.ok()) return;  // logged and counted; commits wait for the next one
  if (!checkpoint_offsets_.empty()) {
    rd_kafka_topic_partition_list_t* list =
        rd_kafka_topic_partition_list_new(static_cast<int>(checkpoint_offsets_.size()));
    for (const pipeline::SourceOffset& o : checkpoint_offsets_) {
      rd_kafka_topic_partition_list_add(list, o.topic.c_str(), o.partition)->offset = o.next_offset;
    }
    // A commit that fails (or is lost to a crash) is harmless: the next one covers it, and a
    // restart starts from the checkpoint's offsets anyway.
    const rd_kafka_resp_err_t err = rd_kafka_commit(consumer_, list, sync ? 0 : 1);
    rd_kafka_topic_partition_list_destroy(list);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR__NO_OFFSET) {
      Log(LogLevel::kWarn, "kafka commit failed", {{"error", rd_kafka_err2str(err)}});
      return;
    }
  }
  // What was applied when the checkpoint began (last_checkpoint_ns_) is covered; anything
  // applied since waits, from at most that moment.
  applied_at_commit_.store(checkpoint_applied_, std::memory_order_relaxed);
  uncommitted_since_ns_.store(Applied() > checkpoint_applied_ ? last_checkpoint_ns_ : 0,
                              std::memory_order_relaxed);
}

void KafkaIngest::SeekToRestored(rd_kafka_topic_partition_list_t* parts) {
  if (restored_next_.empty()) return;
  rd_kafka_topic_partition_list_t* committed = rd_kafka_topic_partition_list_copy(parts);
  const rd_kafka_resp_err_t err = rd_kafka_committed(consumer_, committed, 10'000);
  for (int i = 0; i < parts->cnt; ++i) {
    rd_kafka_topic_partition_t& p = parts->elems[i];
    if (config_.topic != p.topic) continue;
    const auto it = restored_next_.find(p.partition);
    if (it == restored_next_.end()) continue;
    const int64_t group =
        err == RD_KAFKA_RESP_ERR_NO_ERROR ? committed->elems[i].offset : RD_KAFKA_OFFSET_INVALID;
    if (group < 0 || it->second > group) {
      p.offset = it->second;
      applied_next_[p.partition] = it->second;
    }
    restored_next_.erase(it);
  }
  rd_kafka_topic_partition_list_destroy(committed);
}

void KafkaIngest::Reap(bool wait) {
  pipeline_->Reap(wait,
                  [this](std::unique_ptr<pipeline::SourceBatch> b) { Finished(std::move(b)); });
}

void KafkaIngest::ToMerge() {
  const int64_t now_ns = clock_->MonotonicNs();
  // Messages come in runs per partition: the partition's entries are looked up once per run.
  int32_t run_partition = -1;
  bool run_owned = false;
  int64_t* run_next = nullptr;
  for (rd_kafka_message_t* m : filling_) {
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      Log(LogLevel::kWarn, "kafka consume error", {{"error", rd_kafka_message_errstr(m)}});
      rd_kafka_message_destroy(m);
      continue;
    }
    if (m->partition != run_partition) {
      run_partition = m->partition;
      run_owned = owned_.count(m->partition) != 0;
      run_next = run_owned ? &polled_next_[m->partition] : nullptr;
      if (run_owned && m->err == RD_KAFKA_RESP_ERR_NO_ERROR) at_end_.erase(m->partition);
    }
    // Polled before a revoke of its partition: the next owner reads it from our commit.
    if (!run_owned) {
      rd_kafka_message_destroy(m);
      continue;
    }
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      at_end_.insert(m->partition);
      merge_.AtEnd(m->partition, now_ns);
      run_partition = -1;  // a message after this one starts a new run, and clears the end
      rd_kafka_message_destroy(m);
      continue;
    }
    *run_next = std::max(*run_next, m->offset + 1);
    const std::string_view payload =
        m->payload != nullptr ? std::string_view(static_cast<const char*>(m->payload), m->len)
                              : std::string_view();
    // The pipeline's router uses this scan too (SourceBatch::scanned): one scan per message.
    decode::RouteKey key;
    const bool scanned = decode::ScanRouteKey(payload, scan_dates_, &key);
    merge_.Add(m->partition,
               {m, scanned ? key.event_ms : 0, scanned ? key.device.value : 0,
                static_cast<uint32_t>(m->len)},
               now_ns);
  }
  filling_.clear();
  partitions_at_end_.store(at_end_.size(), std::memory_order_relaxed);
}

bool KafkaIngest::MayHaveMore(int32_t partition) {
  // librdkafka's cached high watermark, from the partition's last fetch response: not known
  // before the first, when the partition may hold anything.
  int64_t low = 0, high = 0;
  if (rd_kafka_get_watermark_offsets(consumer_, config_.topic.c_str(), partition, &low, &high) !=
          RD_KAFKA_RESP_ERR_NO_ERROR ||
      high < 0) {
    return true;
  }
  const auto next = polled_next_.find(partition);
  // Nothing polled since the assignment: its end-of-partition event says when it has nothing.
  if (next == polled_next_.end()) return high > low;
  return next->second < high;
}

void KafkaIngest::Run() {
  pthread_setname_np(pthread_self(), "smetsmon-poll");
  filling_.reserve(2 * config_.batch_size + 1);
  std::vector<EventTimeMerge::Item> taken;
  taken.reserve(config_.batch_size);
  // Consecutive 10 ms waits for the workers without a batch finishing.
  constexpr int kPauseAfterStalledWaits = 100;
  int stalled_waits = 0;
  while (!stop_.load(std::memory_order_acquire)) {
    loop_turns_.store(loop_turns_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    Reap(/*wait=*/false);
    if (producer_ != nullptr) rd_kafka_poll(producer_, 0);  // dead letters' delivery reports
    if (checkpointing_) {
      PollPendingCheckpoint();
      const int64_t now_ns = clock_->MonotonicNs();
      if (!checkpoint_pending_ &&
          now_ns - last_checkpoint_ns_ >= config_.checkpoint_interval_ms * 1'000'000) {
        TakeCheckpoint(/*sync=*/false);
      }
      // Commits held back (checkpoints failing): say so once per interval past three intervals.
      const double held = CommitHeldBackS();
      if (held * 1000 > 3.0 * static_cast<double>(config_.checkpoint_interval_ms) &&
          now_ns - held_back_logged_ns_ >= config_.checkpoint_interval_ms * 1'000'000) {
        held_back_logged_ns_ = now_ns;
        Log(LogLevel::kWarn, "offsets not committed: checkpoints are failing",
            {{"held_back_s", absl::StrCat(static_cast<int64_t>(held))},
             {"note", "a restart now would read this much again"}});
      }
    }
    if (producer_ != nullptr) rd_kafka_poll(producer_, 0);
    if (!pipeline_->CanSubmit()) {
      // Workers are behind: take no more messages. librdkafka's local queue fills to its bound
      // (queued.max.messages.kbytes) and its fetcher stops, keeping what it prefetched. Only
      // workers stalled for a second (a stuck worker, a long snapshot) make the consumer pause
      // the partitions, so that it can keep polling for the group's rebalances: a pause drops
      // the prefetched messages, to be fetched again on resume.
      if (stalled_waits >= kPauseAfterStalledWaits) {
        SetPaused(true);
        rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer_, 0);
        if (m != nullptr) filling_.push_back(m);  // fetched before the pause took effect
        ToMerge();
      }
      const bool progress = pipeline_->WaitForFront(10);
      stalled_waits = progress ? 0 : stalled_waits + 1;
      continue;
    }
    stalled_waits = 0;
    SetPaused(false);
    // Fill the merge with what librdkafka has fetched. The first poll waits only when there is
    // nothing to take (the merge is empty, or it waits for a partition's next fetch); then one
    // call takes what is already fetched (a consumer_poll per message costs a queue lock each).
    const bool wait = merge_.empty() || merge_.waiting_for() >= 0;
    if (rd_kafka_message_t* m =
            rd_kafka_consumer_poll(consumer_, wait && !paused_ ? config_.poll_timeout_ms : 0)) {
      filling_.push_back(m);
      // Into a scratch array: a rebalance served inside the call must not see a half-filled
      // filling_ (ToMerge drops the messages of partitions no longer ours).
      poll_scratch_.resize(config_.batch_size);
      const ssize_t n = rd_kafka_consume_batch_queue(consumer_queue_, 0, poll_scratch_.data(),
                                                     poll_scratch_.size());
      filling_.insert(filling_.end(), poll_scratch_.begin(),
                      poll_scratch_.begin() + std::max<ssize_t>(n, 0));
    }
    ToMerge();
    taken.clear();
    merge_.Take(
        config_.batch_size, clock_->MonotonicNs(),
        [this](int32_t partition) { return MayHaveMore(partition); }, &taken);
    merge_buffered_.store(merge_.buffered(), std::memory_order_relaxed);
    merge_waits_.store(merge_.waits(), std::memory_order_relaxed);
    merge_passed_over_.store(merge_.passed_over(), std::memory_order_relaxed);
    merge_forced_.store(merge_.forced(), std::memory_order_relaxed);
    if (taken.empty()) {
      // Idle: every partition read to its end (or none assigned for a while). The stream time
      // moves to now - idle_lag so the windows age out and the rules keep their grid.
      const int64_t now_ns = clock_->MonotonicNs();
      if (StreamIdle() && now_ns - last_idle_advance_ns_ >= config_.idle_advance_ms * 1'000'000) {
        last_idle_advance_ns_ = now_ns;
        pipeline_->AdvanceIdle(clock_->Now());
      }
      continue;
    }
    auto batch = std::make_unique<Batch>();
    batch->polled_ns = clock_->MonotonicNs();
    batch->received = clock_->Now();
    batch->kafka_messages.reserve(taken.size());
    batch->messages.reserve(taken.size());
    batch->scanned.reserve(taken.size());
    batch->partition_of.reserve(taken.size());
    for (const EventTimeMerge::Item& item : taken) {
      auto* m = static_cast<rd_kafka_message_t*>(item.handle);
      const auto at = static_cast<size_t>(m->partition);
      if (at >= batch_slot_.size()) batch_slot_.resize(at + 1, kNoSlot);
      uint32_t& slot = batch_slot_[at];
      if (slot == kNoSlot) {
        slot = static_cast<uint32_t>(batch->partitions.size());
        batch->partitions.push_back({m->partition, 0, 0});
      }
      batch->partition_of.push_back(slot);
      int64_t& next = batch->partitions[slot].next_offset;
      next = std::max(next, m->offset + 1);
      // A null payload (tombstone) is an empty message: not JSON.
      batch->messages.push_back(m->payload != nullptr
                                    ? std::string_view(static_cast<const char*>(m->payload), m->len)
                                    : std::string_view());
      batch->kafka_messages.push_back(m);
      batch->scanned.push_back({DeviceId{item.tag}, item.event_ms});
    }
    for (const Batch::Partition& p : batch->partitions) {
      batch_slot_[static_cast<size_t>(p.partition)] = kNoSlot;
    }
    consumed_.fetch_add(batch->messages.size(), std::memory_order_relaxed);
    Batch& routed = *batch;
    pipeline_->Submit(std::move(batch));  // routes (filling last_event_ms), then queues
    {
      std::lock_guard lock(lag_mu_);
      for (const Batch::Partition& p : routed.partitions) {
        if (p.last_event_ms == 0) continue;
        auto& last = last_event_ms_[p.partition];
        last = std::max(last, p.last_event_ms);
      }
    }
  }
  // Graceful stop: apply everything in flight, checkpoint and commit it, leave the group.
  if (checkpointing_) {
    TakeCheckpoint(/*sync=*/true);
  } else {
    Reap(/*wait=*/true);
    rd_kafka_commit(consumer_, nullptr, /*async=*/0);
  }
  rd_kafka_consumer_close(consumer_);
  if (producer_ != nullptr) rd_kafka_flush(producer_, 10'000);
}

uint64_t KafkaIngest::Applied() const {
  std::lock_guard lock(done_mu_);
  return applied_;
}

double KafkaIngest::CommitHeldBackS() const {
  const int64_t since = uncommitted_since_ns_.load(std::memory_order_relaxed);
  return since == 0 ? 0 : static_cast<double>(clock_->MonotonicNs() - since) / 1e9;
}

KafkaStats KafkaIngest::stats() const {
  KafkaStats s;
  s.consumed = consumed_.load(std::memory_order_relaxed);
  {
    std::lock_guard lock(done_mu_);
    s.applied = applied_;
  }
  s.commit_held_back_s = CommitHeldBackS();
  s.dead_lettered = dead_lettered_.load(std::memory_order_relaxed);
  s.dead_letter_fallback = dead_fallback_.load(std::memory_order_relaxed);
  for (size_t i = 0; i < s.dead_letter_errors.size(); ++i) {
    s.dead_letter_errors[i] = dead_errors_[i].load(std::memory_order_relaxed);
  }
  s.dead_letter_pending =
      in_producer_.load(std::memory_order_relaxed) + held_records_.load(std::memory_order_relaxed);
  s.rebalances = rebalances_.load(std::memory_order_relaxed);
  s.paused = pauses_.load(std::memory_order_relaxed);
  s.merge_buffered = merge_buffered_.load(std::memory_order_relaxed);
  s.merge_waits = merge_waits_.load(std::memory_order_relaxed);
  s.merge_passed_over = merge_passed_over_.load(std::memory_order_relaxed);
  s.merge_forced = merge_forced_.load(std::memory_order_relaxed);
  // Ask the client rather than count callbacks: it knows after every kind of rebalance.
  rd_kafka_topic_partition_list_t* parts = nullptr;
  if (rd_kafka_assignment(consumer_, &parts) == RD_KAFKA_RESP_ERR_NO_ERROR && parts != nullptr) {
    s.assigned_partitions = static_cast<size_t>(parts->cnt);
    rd_kafka_topic_partition_list_destroy(parts);
  }
  return s;
}

std::vector<PartitionLag> KafkaIngest::Lag(ProcessingTime now) const {
  std::vector<PartitionLag> out;
  rd_kafka_topic_partition_list_t* parts = nullptr;
  if (rd_kafka_assignment(consumer_, &parts) != RD_KAFKA_RESP_ERR_NO_ERROR || parts == nullptr) {
    return out;
  }
  rd_kafka_position(consumer_, parts);
  std::lock_guard lock(lag_mu_);
  for (int i = 0; i < parts->cnt; ++i) {
    const rd_kafka_topic_partition_t& p = parts->elems[i];
    PartitionLag lag;
    lag.partition = p.partition;
    int64_t low = 0, high = 0;
    const bool known = rd_kafka_get_watermark_offsets(consumer_, p.topic, p.partition, &low,
                                                      &high) == RD_KAFKA_RESP_ERR_NO_ERROR &&
                       high >= 0;
    if (!known) {
      lag.messages = -1;
    } else {
      // Before the first fetch the position is unknown: everything from the low mark is lag.
      const int64_t position = p.offset >= 0 ? p.offset : low;
      lag.messages = std::max<int64_t>(0, high - position);
    }
    // A partition read to its end is not behind, however old its last event: a quiet partition
    // must not look like a stalled one.
    const auto it = last_event_ms_.find(p.partition);
    if (it != last_event_ms_.end() && lag.messages != 0) {
      lag.seconds = std::max(0.0, static_cast<double>(now.ms - it->second) / 1000.0);
    }
    out.push_back(lag);
  }
  rd_kafka_topic_partition_list_destroy(parts);
  return out;
}

bool KafkaIngest::Ready(int64_t max_lag_messages) const {
  const size_t assigned = assigned_.load(std::memory_order_relaxed);
  if (assigned == 0) return false;
  // Every partition read to its end (known even where no message was read since the assignment,
  // when the position, and so the lag below, is unknown).
  // Messages fetched and held for the event-time merge are not applied yet.
  const int64_t held = static_cast<int64_t>(merge_buffered_.load(std::memory_order_relaxed));
  if (held > max_lag_messages * static_cast<int64_t>(assigned)) return false;
  if (partitions_at_end_.load(std::memory_order_relaxed) >= assigned) return true;
  for (const PartitionLag& l : Lag(clock_->Now())) {
    if (l.messages < 0 || l.messages > max_lag_messages) return false;
  }
  return true;
}

bool KafkaIngest::WaitForApplied(uint64_t n, int64_t timeout_ms) const {
  std::unique_lock lock(done_mu_);
  return done_cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                           [&] { return applied_ >= n; });
}

}  // namespace smetsmon::ingest
