// Devices map to kVirtualShards virtual shards by a stable hash of their id; a worker owns the
// shards s with s % workers == its index. Every capacity that decides what is kept (the device
// table, the duplicate filter, the noisy devices' code tallies, the outage signals) is a quota per
// virtual shard, so what is kept or refused does not depend on the number of workers.
// Thread-safety: pure functions.
#pragma once

#include <cstddef>

#include "base/flat_u64_map.h"
#include "smetsmon/types.h"

namespace smetsmon::aggregate {

// Fixed: the duplicate filter and the checkpoint's shard sections are laid out per shard, so it
// cannot change without a new checkpoint layout.
inline constexpr size_t kVirtualShards = 64;
inline size_t VirtualShardOf(DeviceId id) {
  return static_cast<size_t>(FastRange(Mix64(id.value ^ 0x5bd1e9955bd1e995ULL), kVirtualShards));
}
// How many shards worker `index` of `workers` owns (those with shard % workers == index).
inline constexpr size_t ShardsOwnedBy(size_t index, size_t workers) {
  return (kVirtualShards - index + workers - 1) / workers;
}
// A fleet-wide capacity's quota per virtual shard (rounded up, at least 1).
inline constexpr size_t PerShardQuota(size_t total) {
  return total == 0 ? 1 : (total + kVirtualShards - 1) / kVirtualShards;
}

}  // namespace smetsmon::aggregate
