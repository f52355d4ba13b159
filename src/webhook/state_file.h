// Durable small files of the webhook outputs: the atomic write behind every spool file, and the
// sealed text files in which the dispatcher (`told.state`) and the Alertmanager sink keep what
// they told their receivers, so that a restarted daemon neither pages twice nor forgets a
// resolved notice.
//
// Atomic write: the content goes to `<dir>/.<name>.tmp`, is fsync'ed, renamed over `<dir>/<name>`
// and the directory is fsync'ed, so after a crash (even SIGKILL or power loss) the file is the old
// version or the new one, never a mix. A leftover `.<name>.tmp` is garbage (Spool::Load deletes
// those in the spool directory).
//
// A state file is text: a magic line naming its format and version, `key: value` lines (values
// escaped with EscapeValue so that any string fits on one line), and a last line
// `checksum: <32 hex of SHA-256 over everything before it>`. A file without its checksum line
// (truncated), with a wrong checksum or another magic line is refused as DataLoss; the caller
// logs it, sets it aside (SetAsideStateFile) and starts empty.
//
// Time domain: none. Thread-safety: free functions; concurrent writes of the same file must be
// serialised by the caller.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace smetsmon::webhook {

// Writes `content` to `dir/name` atomically and durably (see above).
absl::Status WriteFileAtomically(const std::string& dir, const std::string& name,
                                 std::string_view content);

// One `key: value` line of a state file (a bare `key` line has an empty value).
using StateLine = std::pair<std::string, std::string>;

// Writes `lines` under `magic` with the checksum line, atomically, to `path` (its directory must
// exist). Values are escaped here.
absl::Status WriteStateFile(const std::string& path, std::string_view magic,
                            const std::vector<StateLine>& lines);
// Reads a state file written by WriteStateFile with the same `magic`; values come back unescaped.
// NotFound when there is no file; DataLoss when it is not such a file, truncated or corrupt.
absl::StatusOr<std::vector<StateLine>> ReadStateFile(const std::string& path,
                                                     std::string_view magic);
// Renames a refused state file to `<path>.corrupt` (replacing an older one) so that it can be
// inspected and does not stop the next write; returns the new path.
absl::StatusOr<std::string> SetAsideStateFile(const std::string& path);

// `\` -> `\\`, newline -> `\n`, carriage return -> `\r`: any string as one line.
std::string EscapeValue(std::string_view v);
// The inverse; false on a dangling or unknown escape.
bool UnescapeValue(std::string_view v, std::string* out);

}  // namespace smetsmon::webhook
