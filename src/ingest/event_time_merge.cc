#include "ingest/event_time_merge.h"

#include <algorithm>
namespace smetsmon::ingest {

void EventTimeMerge::Assign(int32_t partition, int64_t now_ns) {
  Partition& p = partitions_[partition];
  p.at_end = false;
  p.wait_from_ns = now_ns;
  p.passed_over = false;
}

void EventTimeMerge::Revoke(int32_t partition, const std::function<void(void*)>& drop) {
  const auto it = partitions_.find(partition);
  if (it == partitions_.end()) return;
  for (const Entry& e : it->second.items) {
    buffered_bytes_ -= e.item.bytes;
    --buffered_;
    drop(e.item.handle);
  }
  partitions_.erase(it);
  if (waiting_for_ == partition) waiting_for_ = -1;
}

void EventTimeMerge::Add(int32_t partition, Item item, int64_t now_ns) {
  Partition& p = partitions_[partition];
  // A message without a readable time keeps its place: ordered as the one before it.
  if (item.event_ms != 0) p.last_order_ms = item.event_ms;
  p.items.push_back({item, p.last_order_ms});
  p.at_end = false;
  p.wait_from_ns = now_ns;
  p.passed_over = false;
  ++buffered_;
  buffered_bytes_ += item.bytes;
}

void EventTimeMerge::RestartWaits(int64_t now_ns) {
  for (auto& [id, p] : partitions_) {
    p.wait_from_ns = now_ns;
    p.passed_over = false;
  }
}

void EventTimeMerge::AtEnd(int32_t partition, int64_t now_ns) {
  Partition& p = partitions_[partition];
  p.at_end = true;
  p.wait_from_ns = now_ns;
  p.passed_over = false;
}

bool EventTimeMerge::HoldsBack(int32_t id, Partition& p, int64_t now_ns,
                               const MayHaveMore& may_have_more) {
  if (p.at_end || !may_have_more(id)) return false;
  if (now_ns - p.wait_from_ns < max_wait_ns_) return true;
  if (!p.passed_over) {
    p.passed_over = true;
    ++passed_over_;
  }
  return false;
}

size_t EventTimeMerge::Take(size_t max, int64_t now_ns, const MayHaveMore& may_have_more,
                            std::vector<Item>* out) {
  waiting_for_ = -1;
  if (buffered_ == 0 || max == 0) return 0;
  const bool forced = buffered_bytes_ > max_buffered_bytes_;
  if (forced) ++forced_;
  heap_.clear();
  for (auto& [id, p] : partitions_) {
    if (!p.items.empty()) {
      heap_.push_back({p.items.front().order_ms, id, &p});
    } else if (!forced && HoldsBack(id, p, now_ns, may_have_more)) {
      waiting_for_ = id;
      ++waits_;
      return 0;
    }
  }
  std::make_heap(heap_.begin(), heap_.end());
  size_t taken = 0;
  while (taken < max && !heap_.empty()) {
    std::pop_heap(heap_.begin(), heap_.end());
    const int32_t id = heap_.back().id;
    Partition& p = *heap_.back().partition;
    heap_.pop_back();
    const Item item = p.items.front().item;
    p.items.pop_front();
    --buffered_;
    buffered_bytes_ -= item.bytes;
    out->push_back(item);
    ++taken;
    if (!p.items.empty()) {
      heap_.push_back({p.items.front().order_ms, id, &p});
      std::push_heap(heap_.begin(), heap_.end());
      continue;
    }
    p.wait_from_ns = now_ns;  // ran empty: its wait for the next fetch starts now
    if (!forced && HoldsBack(id, p, now_ns, may_have_more)) {
      waiting_for_ = id;
      ++waits_;
      break;
    }
  }
  return taken;
}

}  // namespace smetsmon::ingest
