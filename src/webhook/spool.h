// The durable queue behind webhook delivery: one file per pending notification in `spool_dir`,
// so nothing pending is lost across a restart or a crash.
//
// A pending file is named after the notification's Idempotency-Key (`<key>.ntf`). The key is
// derived from what the notification says and where it stands in its finding's history
// (receiver, finding, status, severity, and n: the number of the firing notification of that
// finding to that receiver, 0 for resolved; see IdempotencyKey in dispatcher.h). It never comes
// from a clock: a severity that flips back and forth gets a new key each time (n grows), and a
// replay of the same traffic from the same told state gets the same keys. One file stands for one
// notification and the dispatcher keeps at most one pending notification per key. A file is
// written atomically (state_file.h: temporary name, fsync, rename, fsync of the directory) and
// deleted once delivered. n is in the file (`firing_number`), so a restarted dispatcher knows how
// far the numbering had gone even when the notification was spooled after told.state was last
// written; a file without the line (written before n existed) reads as 0.
// Notifications past their max age or rejected by the receiver go to `spool_dir/dead/` (with the
// reason) for an operator to inspect; PruneDead deletes those dead-lettered longer ago than a
// maximum age (the file's modification time: when it was dead-lettered). A notification
// dead-lettered again under the same key gets `<key>.1.ntf`, `<key>.2.ntf`, ... so no dead letter
// is replaced. The dispatcher keeps its `told.state` (what each receiver was told, with each
// finding's n per receiver) in the same directory; Load reads `*.ntf` files only. File format (text
// header, blank line, body of exactly body_length bytes):
//
//   smetsmon-webhook-spool 1
//   receiver: ukpn
//   finding: power_outage:area=Eastern:1709287200000
//   status: firing
//   [tally: counting|final]            (resolved only: see Notification)
//   firing_number: 1                   (n of the key; 0 when resolved)
//   priority: 2
//   created_ms: 1709287260000
//   next_attempt_ms: 1709287261000
//   attempts: 1
//   key: 3f0c...
//   body_length: 1234
//   [reason: ...]                      (dead letters only)
//
//   {"version":"4",...}
//
// Time domain: created/next attempt are processing time (the dispatcher's Clock).
// Thread-safety: a Spool holds only its directory name; calls for different notifications may run
// concurrently, calls for the same notification must be serialised by the caller.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace smetsmon::webhook {

struct Notification {
  std::string receiver;         // ReceiverConfig::name
  std::string finding_id;       // the finding it reports
  bool resolved = false;        // "resolved" or "firing"
  uint32_t firing_number = 0;   // n of the key: 1, 2, ... per firing; 0 when resolved
  int priority = 0;             // the finding's severity: 2 critical, 1 warning, 0 info
  int64_t created_ms = 0;       // processing time it was enqueued (max age counts from here)
  int64_t next_attempt_ms = 0;  // not sent before this
  uint32_t attempts = 0;        // failed attempts so far
  std::string key;              // Idempotency-Key: 32 hex digits, also the file name
  std::string body;             // the JSON payload, fixed at enqueue time
  // Resolved only. counting: sent while the finding's figures still count late data (a power
  // outage's final tally), so a final-tally update follows; final_tally: that update.
  bool counting = false;
  bool final_tally = false;
};

std::string EncodeNotification(const Notification& n, std::string_view dead_reason = "");
// EncodeNotification(n).size(), the size of n's pending file, without copying the body.
size_t EncodedSize(const Notification& n);
absl::StatusOr<Notification> DecodeNotification(std::string_view text);

class Spool {
 public:
  // Creates `dir` and `dir/dead` when missing.
  static absl::StatusOr<Spool> Open(const std::string& dir);

  // Writes (or rewrites) the pending file of `n` atomically and durably.
  absl::Status Save(const Notification& n) const;
  // Deletes the pending file of `n` (no error when already gone).
  absl::Status Remove(const Notification& n) const;
  // Writes `n` with `reason` to dead/ (under a name of its own, see above) and deletes its
  // pending file.
  absl::Status DeadLetter(const Notification& n, std::string_view reason) const;

  // Deletes the files in dead/ (`*.ntf`) last modified more than `max_age_ms` before `now_ms`
  // (processing time, milliseconds since the epoch: the caller's Clock) and returns how many.
  // A file that cannot be read or deleted is skipped (the next call tries again).
  absl::StatusOr<size_t> PruneDead(int64_t now_ms, int64_t max_age_ms) const;

  struct Loaded {
    std::vector<Notification> pending;  // in file-name order
    std::vector<std::string> bad;       // "file: why" for files moved to dead/ unread
  };
  // Reads every pending file. Unreadable or malformed ones are moved to dead/ (listed in `bad`);
  // temporary files left by a crash are deleted.
  absl::StatusOr<Loaded> Load() const;

  const std::string& dir() const { return dir_; }
  std::string PendingPath(const Notification& n) const;
  // Where the first dead letter of `n`'s key goes.
  std::string DeadPath(const Notification& n) const;

 private:
  explicit Spool(std::string dir) : dir_(std::move(dir)) {}

  std::string dir_;
};

}  // namespace smetsmon::webhook
