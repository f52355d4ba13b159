#include "webhook/spool.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "smetsmon/status.h"
#include "webhook/state_file.h"

namespace smetsmon::webhook {
namespace {

namespace fs = std::filesystem;

constexpr char kMagic[] = "smetsmon-webhook-spool 1";
constexpr char kSuffix[] = ".ntf";
constexpr size_t kSuffixLen = sizeof kSuffix - 1;
constexpr size_t kMaxFileBytes = 16 << 20;

absl::Status Errno(const char* what, const std::string& path) {
  return absl::InternalError(absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

bool IsKey(std::string_view key) {
  return key.size() >= 8 && key.size() <= 64 && std::all_of(key.begin(), key.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

template <typename T>
bool ParseInt(std::string_view s, T* out) {
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && end == s.data() + s.size();
}

}  // namespace

namespace {

// Everything before the blank line.
std::string EncodeHeader(const Notification& n, std::string_view dead_reason) {
  std::string out;
  absl::StrAppend(&out, kMagic, "\n");
  absl::StrAppend(&out, "receiver: ", n.receiver, "\n");
  absl::StrAppend(&out, "finding: ", n.finding_id, "\n");
  absl::StrAppend(&out, "status: ", n.resolved ? "resolved" : "firing", "\n");
  if (n.final_tally || n.counting) {
    absl::StrAppend(&out, "tally: ", n.final_tally ? "final" : "counting", "\n");
  }
  absl::StrAppend(&out, "firing_number: ", n.firing_number, "\n");
  absl::StrAppend(&out, "priority: ", n.priority, "\n");
  absl::StrAppend(&out, "created_ms: ", n.created_ms, "\n");
  absl::StrAppend(&out, "next_attempt_ms: ", n.next_attempt_ms, "\n");
  absl::StrAppend(&out, "attempts: ", n.attempts, "\n");
  absl::StrAppend(&out, "key: ", n.key, "\n");
  absl::StrAppend(&out, "body_length: ", n.body.size(), "\n");
  if (!dead_reason.empty()) {
    std::string reason(dead_reason.data(), dead_reason.size());
    std::replace(reason.begin(), reason.end(), '\n', ' ');
    absl::StrAppend(&out, "reason: ", reason, "\n");
  }
  return out;
}

}  // namespace

std::string EncodeNotification(const Notification& n, std::string_view dead_reason) {
  std::string out = EncodeHeader(n, dead_reason);
  absl::StrAppend(&out, "\n", n.body);
  return out;
}

size_t EncodedSize(const Notification& n) { return EncodeHeader(n, "").size() + 1 + n.body.size(); }

absl::StatusOr<Notification> DecodeNotification(std::string_view text) {
  const size_t header_end = text.find("\n\n");
  if (header_end == std::string_view::npos) return absl::DataLossError("no header end");
  std::string_view header = text.substr(0, header_end + 1);
  const std::string_view body = text.substr(header_end + 2);
  Notification n;
  bool magic = false;
  int64_t body_length = -1;
  int seen = 0;  // bit per required field
  while (!header.empty()) {
    const size_t nl = header.find('\n');
    const std::string_view line = header.substr(0, nl);
    header.remove_prefix(nl + 1);
    if (!magic) {
      if (line != kMagic) return absl::DataLossError("not a smetsmon webhook spool file");
      magic = true;
      continue;
    }
    const size_t colon = line.find(": ");
    if (colon == std::string_view::npos) {
      return absl::DataLossError(absl::StrCat("bad header line '", std::string(line), "'"));
    }
    const std::string_view k = line.substr(0, colon);
    const std::string_view v = line.substr(colon + 2);
    bool ok = true;
    if (k == "receiver") {
      n.receiver = std::string(v);
      seen |= 1;
    } else if (k == "finding") {
      n.finding_id = std::string(v);
      seen |= 2;
    } else if (k == "status") {
      ok = v == "firing" || v == "resolved";
      n.resolved = v == "resolved";
      seen |= 4;
    } else if (k == "tally") {  // optional: resolved notifications of a finding with a tally
      ok = v == "counting" || v == "final";
      n.counting = v == "counting";
      n.final_tally = v == "final";
    } else if (k == "firing_number") {  // optional: absent in files written before it
      ok = ParseInt(v, &n.firing_number);
    } else if (k == "priority") {
      ok = ParseInt(v, &n.priority) && n.priority >= 0 && n.priority <= 2;
      seen |= 8;
    } else if (k == "created_ms") {
      ok = ParseInt(v, &n.created_ms);
      seen |= 16;
    } else if (k == "next_attempt_ms") {
      ok = ParseInt(v, &n.next_attempt_ms);
      seen |= 32;
    } else if (k == "attempts") {
      ok = ParseInt(v, &n.attempts);
      seen |= 64;
    } else if (k == "key") {
      n.key = std::string(v);
      ok = IsKey(n.key);
      seen |= 128;
    } else if (k == "body_length") {
      ok = ParseInt(v, &body_length) && body_length >= 0;
      seen |= 256;
    }  // other keys (reason) are informational
    if (!ok) return absl::DataLossError(absl::StrCat("bad value in '", std::string(line), "'"));
  }
  if (!magic) return absl::DataLossError("empty header");
  if (seen != 511) return absl::DataLossError("missing header fields");
  if (n.receiver.empty()) return absl::DataLossError("empty receiver");
  if ((n.counting || n.final_tally) && !n.resolved) {
    return absl::DataLossError("a tally on a firing notification");
  }
  if (static_cast<size_t>(body_length) != body.size()) {
    return absl::DataLossError(absl::StrCat("body is ", body.size(), " bytes, header says ",
                                            body_length, " (truncated?)"));
  }
  n.body = std::string(body);
  return n;
}

absl::StatusOr<Spool> Spool::Open(const std::string& dir) {
  if (dir.empty()) return absl::InvalidArgumentError("webhook spool_dir is empty");
  std::error_code ec;
  fs::create_directories(fs::path(dir) / "dead", ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("webhook spool ", dir, ": cannot create: ", ec.message()));
  }
  if (::access(dir.c_str(), R_OK | W_OK | X_OK) != 0) {
    return Errno("webhook spool not writable:", dir);
  }
  return Spool(dir);
}

std::string Spool::PendingPath(const Notification& n) const {
  return absl::StrCat(dir_, "/", n.key, kSuffix);
}

std::string Spool::DeadPath(const Notification& n) const {
  return absl::StrCat(dir_, "/dead/", n.key, kSuffix);
}

absl::Status Spool::Save(const Notification& n) const {
  SMETSMON_CHECK(IsKey(n.key));
  return WriteFileAtomically(dir_, absl::StrCat(n.key, kSuffix), EncodeNotification(n));
}

absl::Status Spool::Remove(const Notification& n) const {
  const std::string path = PendingPath(n);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return Errno("delete", path);
  return absl::OkStatus();
}

absl::Status Spool::DeadLetter(const Notification& n, std::string_view reason) const {
  // Keys name notifications, not attempts: the same notification can be dead-lettered again
  // (spooled anew after a restart, say). Each dead letter keeps a file of its own.
  const std::string dead_dir = absl::StrCat(dir_, "/dead");
  std::string name = absl::StrCat(n.key, kSuffix);
  for (int i = 1; ::access(absl::StrCat(dead_dir, "/", name).c_str(), F_OK) == 0; ++i) {
    name = absl::StrCat(n.key, ".", i, kSuffix);
  }
  SMETSMON_RETURN_IF_ERROR(WriteFileAtomically(dead_dir, name, EncodeNotification(n, reason)));
  return Remove(n);
}

absl::StatusOr<size_t> Spool::PruneDead(int64_t now_ms, int64_t max_age_ms) const {
  const fs::path dead = fs::path(dir_) / "dead";
  size_t removed = 0;
  std::error_code ec;
  for (fs::directory_iterator it(dead, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    std::error_code file_ec;
    if (!it->is_regular_file(file_ec) || name.size() <= kSuffixLen ||
        name.compare(name.size() - kSuffixLen, kSuffixLen, kSuffix) != 0) {
      continue;
    }
    const fs::file_time_type written = fs::last_write_time(it->path(), file_ec);
    if (file_ec) continue;
    const int64_t written_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::file_clock::to_sys(written).time_since_epoch())
                                   .count();
    if (now_ms - written_ms <= max_age_ms) continue;
    if (fs::remove(it->path(), file_ec)) ++removed;
  }
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("webhook spool ", dead.string(), ": ", ec.message()));
  }
  return removed;
}

absl::StatusOr<Spool::Loaded> Spool::Load() const {
  Loaded out;
  std::error_code ec;
  std::vector<fs::path> files;
  for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::path& p = it->path();
    const std::string name = p.filename().string();
    if (!name.empty() && name.front() == '.' && name.size() > 4 &&
        name.compare(name.size() - 4, 4, ".tmp") == 0) {
      fs::remove(p, ec);  // a write a crash interrupted: its notification was never enqueued
      ec.clear();
      continue;
    }
    std::error_code type_ec;
    if (!it->is_regular_file(type_ec)) continue;
    if (name.size() <= kSuffixLen ||
        name.compare(name.size() - kSuffixLen, kSuffixLen, kSuffix) != 0) {
      continue;
    }
    files.push_back(p);
  }
  if (ec) {
    return absl::UnavailableError(absl::StrCat("webhook spool ", dir_, ": ", ec.message()));
  }
  std::sort(files.begin(), files.end());
  for (const fs::path& p : files) {
    const std::string name = p.filename().string();
    std::string text;
    absl::Status why;
    std::ifstream in(p, std::ios::binary);
    if (!in) {
      why = absl::DataLossError("cannot open");
    } else {
      std::ostringstream ss;
      ss << in.rdbuf();
      text = ss.str();
      if (text.size() > kMaxFileBytes) why = absl::DataLossError("too large");
    }
    absl::StatusOr<Notification> n =
        why.ok() ? DecodeNotification(text) : absl::StatusOr<Notification>(why);
    if (n.ok() && absl::StrCat(n->key, kSuffix) != name) {
      n = absl::DataLossError("file name does not match its key");
    }
    if (!n.ok()) {
      out.bad.push_back(absl::StrCat(name, ": ", n.status().message()));
      fs::rename(p, fs::path(dir_) / "dead" / name, ec);
      if (ec) out.bad.back().append(absl::StrCat(" (left in place: ", ec.message(), ")"));
      ec.clear();
      continue;
    }
    out.pending.push_back(*std::move(n));
  }
  return out;
}

}  // namespace smetsmon::webhook
