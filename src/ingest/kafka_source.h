// Kafka ingestion: a librdkafka consumer-group consumer, a source of the pipeline.
//
// Threads: the poll thread (the caller of Run) consumes batches of messages and submits them to
// the pipeline (pipeline/pipeline.h), which routes them to its workers; the messages stay alive
// until the pipeline hands the batch back applied. A lock is taken per batch (thousands of
// events), never per event.
//
// Offsets, with checkpoints (the daemon's default: pipeline config checkpoint_path and
// KafkaConfig::checkpoint_interval_ms): exactly once in every count. Every interval the poll
// thread reaps every batch in flight, flushes the dead letters, has the pipeline write a
// checkpoint holding the state and the next offset of every partition it reflects, and only then
// commits those offsets (auto-commit is off). On assignment a partition starts at the restored
// checkpoint's offset when that is ahead of the group's committed one (a commit that did not
// happen before a SIGKILL), else at the committed one (another member moved it on). So after a
// crash the state and the position agree: nothing counted twice, nothing lost. On a revoke and at
// stop the poll thread checkpoints and commits synchronously before giving partitions up.
// Without checkpoints: at-least-once. Auto-commit commits only offsets explicitly stored, and a
// batch's offsets are stored once the pipeline hands it back applied, in batch order, after its
// rejected messages were produced to the dead-letter topic. On a revoke the poll thread first
// finishes every batch in flight, stores and commits synchronously, then gives the partitions
// up; lost partitions are not committed. Redeliveries after a rebalance or restart are absorbed
// by the workers' duplicate filter.
// Backpressure: at most `max_inflight_batches` batches are in flight; beyond that the consumer
// takes no more messages, so librdkafka's bounded local queue fills and its fetcher stops; if the
// workers make no progress for a second, it pauses its partitions and keeps serving rebalances
// until they catch up.
// Invalid messages are counted by reason and produced whole to the dead-letter topic with the
// reason and source topic/partition/offset in headers. Nothing rejected is dropped silently: a
// delivery report confirms each dead letter, and no offset is committed (or, without checkpoints,
// stored) past a rejected message before its record is delivered to the topic or made durable in
// the local dead-letter file. Before each checkpoint the producer is flushed for at most
// `dead_letter_flush_ms`; what the topic refused (a failed delivery report) or did not take within
// that bound (purged from the producer) is appended to `dead_letter_file` (JSON Lines, see
// dead_letter.h) and fsync'd before the checkpoint is written, so ingestion goes on while the
// topic is unavailable. Without a file those records are kept in memory and produced again before
// the next checkpoint, and checkpoints (and commits) wait until they are delivered: nothing is
// lost, but a restart reads more again. A record purged while in flight may also have reached the
// topic: at least once in the topic or the file, never neither.
// Time: processing time from the Clock only for the future-time check and idle window advance
// (asked of the pipeline when every assigned partition is read to its end).
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "base/fields.h"
#include "ingest/dead_letter.h"
#include "ingest/event_time_merge.h"
#include "ingest/kafka_client_probe.h"
#include "pipeline/pipeline.h"
#include "smetsmon/clock.h"

struct rd_kafka_s;
struct rd_kafka_queue_s;
struct rd_kafka_message_s;
struct rd_kafka_topic_partition_list_s;
struct rd_kafka_conf_s;

namespace smetsmon::ingest {

// Sets each librdkafka property on `conf`; the first refused one is an error naming the key, and
// for a secret key (base/secrets.h: sasl.password, ssl.key.password, sasl.jaas.config...) its
// value shows as <redacted>, also where librdkafka's own message quotes it.
absl::Status SetKafkaProperties(rd_kafka_conf_s* conf,
                                const std::map<std::string, std::string>& props);

struct KafkaConfig {
  std::string topic = "smets.alerts";
  std::string dead_letter_topic = "smets.alerts.dlq";  // empty: rejected messages only counted
  // Where dead letters the topic did not take go (appended, JSON Lines); empty: none (see above).
  std::string dead_letter_file;
  // How long a checkpoint waits for the dead-letter topic to acknowledge what was produced.
  int64_t dead_letter_flush_ms = 5000;
  // librdkafka properties, as kcat -X users write them (bootstrap.servers, security.protocol...).
  std::map<std::string, std::string> properties;
  size_t batch_size = 4096;
  size_t max_inflight_batches = 8;
  int poll_timeout_ms = 100;
  int64_t idle_advance_ms = 1000;  // the stream time advances this often while idle
  // Windows advance with processing time only when the stream is idle: every assigned partition
  // read to its end (an end-of-partition event), or no partition assigned for this long (longer
  // than a group join, so that a backlog read after a restart is not made late by the wait for the
  // assignment; an instance left without partitions still ages its windows out).
  int64_t idle_advance_unassigned_ms = 60'000;
  // The partitions are merged in event-time order (ingest/event_time_merge.h): a partition with
  // messages still to fetch holds the others back for at most this long (processing time)
  // without delivering, and past this many bytes held for the merge the smallest head goes
  // regardless.
  int64_t merge_max_wait_ms = 10'000;
  size_t merge_max_buffered_bytes = size_t{256} << 20;
  // Checkpoint every this long (processing time) when the pipeline has a checkpoint path; 0: no
  // checkpoints (offsets are then committed as batches are applied).
  int64_t checkpoint_interval_ms = 0;
};

struct KafkaStats {
  uint64_t consumed = 0;              // messages taken from Kafka
  uint64_t applied = 0;               // messages whose batch every worker has finished
  uint64_t dead_lettered = 0;         // delivered to the dead-letter topic (acknowledged)
  uint64_t dead_letter_fallback = 0;  // written to the dead-letter file instead
  // Dead letters the topic did not take or the file could not keep, by DeadLetterError.
  std::array<uint64_t, 4> dead_letter_errors{};
  // Dead letters neither delivered nor durable yet (in the producer or held in memory).
  uint64_t dead_letter_pending = 0;
  uint64_t rebalances = 0;
  uint64_t paused = 0;  // times fetching was paused for backpressure
  // The event-time merge: messages held for it, times it waited for a partition's next fetch,
  // partitions passed over after merge_max_wait_ms, takes over the byte bound.
  uint64_t merge_buffered = 0;
  uint64_t merge_waits = 0, merge_passed_over = 0, merge_forced = 0;
  size_t assigned_partitions = 0;
  // With checkpoints: seconds since offsets were last committed with a checkpoint while messages
  // were applied after it (0 when nothing waits): what a restart would read again.
  double commit_held_back_s = 0;
};

// Why a dead letter did not reach the topic (the label of smetsmon_dead_letter_errors_total).
enum class DeadLetterError : uint8_t {
  kDelivery = 0,  // the broker refused it (a failed delivery report)
  kTimeout = 1,   // not acknowledged within dead_letter_flush_ms (purged from the producer)
  kEnqueue = 2,   // the producer did not take it (its local queue full)
  kFile = 3,      // the dead-letter file write or fsync failed (kept in memory, retried)
};
inline constexpr std::array<const char*, 4> kDeadLetterErrorNames = {"delivery", "timeout",
                                                                     "enqueue", "file"};

struct PartitionLag {
  int32_t partition = 0;
  int64_t messages = 0;  // high watermark - consumed position (-1 when not known yet)
  // now - event time of the last event consumed from the partition; 0 when the partition is read
  // to its end (messages == 0), so a quiet partition is not lagging.
  double seconds = 0;
};

class KafkaIngest {
 public:
  static absl::StatusOr<std::unique_ptr<KafkaIngest>> Create(pipeline::Pipeline& pipeline,
                                                             const KafkaConfig& config,
                                                             const Clock& clock);
  ~KafkaIngest();
  KafkaIngest(const KafkaIngest&) = delete;
  KafkaIngest& operator=(const KafkaIngest&) = delete;

  // The poll loop; returns after Stop() once everything in flight is applied, offsets are
  // committed and the consumer is closed.
  void Run();
  // Release, paired with the loop's acquire: whatever the stopping thread did before (a test's
  // client, a signal handler's thread) happens before what follows Run() on the running thread,
  // which may then destroy what the stopping thread was using.
  void Stop() { stop_.store(true, std::memory_order_release); }
  // Turns of the poll loop so far (any thread): a watchdog sees the loop alive when it grows.
  uint64_t loop_turns() const { return loop_turns_.load(std::memory_order_relaxed); }

  KafkaStats stats() const;
  // What librdkafka reported about the consumer and the dead-letter producer (errors, brokers'
  // states, the fetch queue); any thread.
  KafkaClientSnapshot consumer_client() const { return consumer_probe_.Snapshot(); }
  KafkaClientSnapshot dead_letter_client() const { return producer_probe_.Snapshot(); }
  // librdkafka's callbacks find the probe of the client they were called for here.
  KafkaClientProbe& ProbeOf(const rd_kafka_s* rk);
  // Lag of each assigned partition; any thread.
  std::vector<PartitionLag> Lag(ProcessingTime now) const;
  // Assigned and caught up: every assigned partition within `max_lag_messages`.
  bool Ready(int64_t max_lag_messages) const;
  // librdkafka's rebalance callback lands here (on the poll thread); not for other callers.
  void OnRebalance(int err, rd_kafka_topic_partition_list_s* partitions);
  // The dead-letter producer's delivery reports land here (on the poll thread, which alone polls
  // and flushes the producer); not for other callers.
  void OnDeliveryReport(const rd_kafka_message_s* message);
  // Blocks until `applied` reaches n or the timeout passes; true if reached.
  bool WaitForApplied(uint64_t n, int64_t timeout_ms) const;

 private:
  struct Batch;

  KafkaIngest(pipeline::Pipeline& pipeline, KafkaConfig config, const Clock& clock);
  absl::Status Init();
  // Dead-letters the rejects and stores the offsets of the batches the pipeline has applied, in
  // order; with `wait`, first waits until all are applied.
  void Reap(bool wait);
  void Finished(std::unique_ptr<pipeline::SourceBatch> batch);
  void SetPaused(bool paused);
  // Reaps everything in flight, flushes dead letters and checkpoints; once the checkpoint is
  // written, commits its offsets. With `sync` (a revoke, the stop) all of it before returning;
  // otherwise the write goes on in the background and PollPendingCheckpoint commits.
  void TakeCheckpoint(bool sync);
  void PollPendingCheckpoint();
  void CheckpointDone(const pipeline::CheckpointOutcome& out, bool sync);
  // Cheap reads for the poll loop (stats() also asks librdkafka for the assignment).
  uint64_t Applied() const;
  double CommitHeldBackS() const;
  // On assignment: each partition starts at the restored checkpoint's offset when that is ahead
  // of the committed one.
  void SeekToRestored(rd_kafka_topic_partition_list_s* parts);
  // A dead letter while it is neither delivered nor durable: the producer's message opaque.
  struct DeadRecord {
    RejectReason reason;
    std::string topic;
    int32_t partition;
    int64_t offset;
    std::string raw;
  };
  void DeadLetter(const void* payload, size_t len, RejectReason reason, const char* topic,
                  int32_t partition, int64_t offset);
  void Produce(std::unique_ptr<DeadRecord> record);
  // A dead letter the topic did not take: to the file, or kept for the next flush.
  void Fallback(std::unique_ptr<DeadRecord> record, DeadLetterError why);
  void CountError(DeadLetterError why);
  // Flushes the producer (bounded), falls back for what it did not deliver and syncs the file.
  // True when every dead letter so far is delivered or durable: offsets past them may be
  // committed.
  bool SettleDeadLetters();

  pipeline::Pipeline* pipeline_;
  KafkaConfig config_;
  const Clock* clock_;
  rd_kafka_s* consumer_ = nullptr;
  rd_kafka_queue_s* consumer_queue_ = nullptr;  // the consumer's queue, for batch reads
  rd_kafka_s* producer_ = nullptr;              // dead letters
  KafkaClientProbe consumer_probe_{"consumer"};
  KafkaClientProbe producer_probe_{"dead_letter_producer"};
  // Dead letters, poll thread only: the fallback file, records written to it since its last
  // sync (produced again if the sync fails), records waiting for the next flush (no file, or
  // the file failed), and offsets held back while dead letters are unsettled (no checkpoints).
  std::unique_ptr<FileDeadLetterSink> dead_file_;
  std::vector<std::unique_ptr<DeadRecord>> unsynced_;
  std::vector<std::unique_ptr<DeadRecord>> unsent_;
  std::map<int32_t, int64_t> held_offsets_;
  std::atomic<uint64_t> in_producer_{0};
  std::atomic<uint64_t> dead_fallback_{0};
  std::array<std::atomic<uint64_t>, 4> dead_errors_{};
  std::atomic<uint64_t> held_records_{0};  // unsynced_ + unsent_, for stats()
  int64_t last_idle_advance_ns_ = 0;       // poll thread only
  // Messages polled, before they go to the merge; a revoke drops those of revoked partitions, in
  // here and in the merge (their next owner starts at our committed offset). Poll thread only.
  std::vector<rd_kafka_message_s*> filling_;
  std::vector<rd_kafka_message_s*> poll_scratch_;
  // Partition id -> its index in the batch being built (kNoSlot: not in it); reset per batch.
  static constexpr uint32_t kNoSlot = ~uint32_t{0};
  std::vector<uint32_t> batch_slot_;
  std::set<int32_t> owned_;  // the partitions assigned to us
  EventTimeMerge merge_;
  std::map<int32_t, int64_t> polled_next_;  // partition -> last offset polled + 1
  Rfc3339DateCache scan_dates_;
  // Hands what was polled to the merge (end-of-partition events mark the partition at its end).
  void ToMerge();
  // Whether a partition with nothing in the merge may have messages still to fetch.
  bool MayHaveMore(int32_t partition);
  // Merge stats, written by the poll thread for stats().
  std::atomic<uint64_t> merge_buffered_{0}, merge_waits_{0}, merge_passed_over_{0},
      merge_forced_{0};
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> loop_turns_{0};  // single writer: the poll thread
  bool paused_ = false;                  // all partitions paused for backpressure
  // Partitions read to their end (an end-of-partition event and no message since).
  std::set<int32_t> at_end_;

  // Checkpoints (poll thread only, but for the atomics).
  bool checkpointing_ = false;
  std::map<int32_t, int64_t> applied_next_;   // partition -> next offset, applied and reaped
  std::map<int32_t, int64_t> restored_next_;  // from the restored checkpoint, until assigned
  int64_t last_checkpoint_ns_ = 0;            // monotonic, last attempt
  bool checkpoint_pending_ = false;           // being written
  std::vector<pipeline::SourceOffset> checkpoint_offsets_;  // of the last one begun
  uint64_t checkpoint_applied_ = 0;                         // applied_ when it began
  std::atomic<uint64_t> applied_at_commit_{0};              // applied_ at the last commit
  // Monotonic ns when the first message after the last commit was applied (0: none waits).
  std::atomic<int64_t> uncommitted_since_ns_{0};
  int64_t held_back_logged_ns_ = 0;

  mutable std::mutex done_mu_;
  mutable std::condition_variable done_cv_;
  uint64_t applied_ = 0;  // guarded by done_mu_

  mutable std::mutex lag_mu_;
  std::map<int32_t, int64_t> last_event_ms_;  // guarded by lag_mu_; updated once per batch

  std::atomic<uint64_t> consumed_{0};
  std::atomic<uint64_t> dead_lettered_{0};
  std::atomic<uint64_t> rebalances_{0};
  std::atomic<uint64_t> pauses_{0};
  std::atomic<size_t> assigned_{0};
  // Monotonic ns since when no partition is assigned (set at start and when the last one goes).
  std::atomic<int64_t> unassigned_since_ns_{0};
  std::atomic<size_t> partitions_at_end_{0};  // at_end_.size(), for the workers
  // True if the stream time may advance with processing time (see KafkaConfig).
  bool StreamIdle() const;
};

}  // namespace smetsmon::ingest
