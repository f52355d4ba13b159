// The order a Kafka source hands its messages to the pipeline in: the partitions merged by event
// time, so that a backlog is read the same way whatever order librdkafka fetches it in.
//
// Reading a backlog, librdkafka hands over each partition in long runs (a fetch of one partition
// can hold hours of its event time), so in arrival order the stream time would race ahead with
// one partition and the others' events would come late for the windows, the dedup horizon and the
// rules; and which partition comes first changes from run to run. The merge follows Kafka
// Streams' rule (KIP-353, max.task.idle.ms): the next message is always the partition head with
// the smallest event time (ties: the lowest partition), and while a partition that may still have
// messages to read has none here, nothing is taken, since its next message could be the smallest.
// Within a partition the order never changes (offsets are stored in order). Over a fixed backlog
// the output is therefore one sequence, a function of the partitions' contents alone. Live, a
// partition read to its end holds nobody back: messages go on as they come.
//
// Two bounds keep the merge from stalling or growing without limit, both counted: a partition that
// holds the others back for `max_wait_ns` (counted from when it ran empty, or from the last
// RestartWaits) without delivering is passed over (a broker that does not answer for it), and
// past `max_buffered_bytes` the smallest head goes regardless.
//
// Thread-safety: one thread (the source's poll thread). Time domain: event time for the order;
// monotonic processing time, always an argument, for the wait bound.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <vector>

namespace smetsmon::ingest {

class EventTimeMerge {
 public:
  struct Item {
    void* handle = nullptr;  // the source's message
    // 0: not known; ordered as the item before it in its partition, so it keeps its place.
    int64_t event_ms = 0;
    uint64_t tag = 0;  // the source's (Kafka: the scanned device id), passed through
    uint32_t bytes = 0;
  };
  // Asked about a partition with nothing buffered that is not at its end: true when it has (or may
  // have) messages still to fetch, e.g. its high watermark is past its next offset or not known.
  using MayHaveMore = std::function<bool(int32_t partition)>;

  EventTimeMerge(int64_t max_wait_ns, size_t max_buffered_bytes)
      : max_wait_ns_(max_wait_ns), max_buffered_bytes_(max_buffered_bytes) {}

  // A partition starts to be read: it holds the others back until it delivers or is at its end.
  void Assign(int32_t partition, int64_t now_ns);
  // A partition goes (revoked or lost): its buffered items are handed to `drop`.
  void Revoke(int32_t partition, const std::function<void(void*)>& drop);
  // The next message of `partition`, in its order.
  void Add(int32_t partition, Item item, int64_t now_ns);
  // The partition is read to its end for now (an end-of-partition event).
  void AtEnd(int32_t partition, int64_t now_ns);
  // Every wait starts again now (fetching resumed after a pause, which dropped the prefetch).
  void RestartWaits(int64_t now_ns);

  // Appends up to `max` items in merged order to `out`; returns how many.
  size_t Take(size_t max, int64_t now_ns, const MayHaveMore& may_have_more, std::vector<Item>* out);

  bool empty() const { return buffered_ == 0; }
  size_t buffered() const { return buffered_; }
  size_t buffered_bytes() const { return buffered_bytes_; }
  // The partition the last Take stopped for, its next message not fetched yet (-1: none).
  int32_t waiting_for() const { return waiting_for_; }
  uint64_t waits() const { return waits_; }              // Takes stopped for a partition
  uint64_t passed_over() const { return passed_over_; }  // partitions passed over after max_wait
  uint64_t forced() const { return forced_; }            // Takes over the byte bound

 private:
  struct Entry {
    Item item;
    int64_t order_ms;  // the event time, or the one before it when not known
  };
  struct Partition {
    std::deque<Entry> items;
    bool at_end = false;
    // When its wait started: assigned, ran empty, delivered, at its end or RestartWaits.
    int64_t wait_from_ns = 0;
    int64_t last_order_ms = 0;  // of the last item added
    bool passed_over = false;   // counted once per wait
  };
  // Whether `p`, with nothing buffered, holds the others back now.
  bool HoldsBack(int32_t id, Partition& p, int64_t now_ns, const MayHaveMore& may_have_more);

  int64_t max_wait_ns_;
  size_t max_buffered_bytes_;
  std::map<int32_t, Partition> partitions_;
  size_t buffered_ = 0, buffered_bytes_ = 0;
  int32_t waiting_for_ = -1;
  uint64_t waits_ = 0, passed_over_ = 0, forced_ = 0;
  struct Head {
    int64_t event_ms;
    int32_t id;
    Partition* partition;
    // A min-heap on (time, partition id) with the standard max-heap algorithms.
    bool operator<(const Head& o) const {
      return event_ms != o.event_ms ? event_ms > o.event_ms : id > o.id;
    }
  };
  std::vector<Head> heap_;  // Take's scratch
};

}  // namespace smetsmon::ingest
