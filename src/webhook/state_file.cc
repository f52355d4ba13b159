#include "webhook/state_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "webhook/payload.h"

namespace smetsmon::webhook {
namespace {

constexpr std::string_view kChecksumKey = "checksum: ";
constexpr size_t kChecksumHex = 32;
// State files hold a few thousand ids at most; anything far larger is not one of ours.
constexpr size_t kMaxStateFileBytes = 64 << 20;

absl::Status Errno(const char* what, const std::string& path) {
  return absl::InternalError(absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

absl::Status FsyncDir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Errno("open directory", dir);
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return Errno("fsync directory", dir);
  return absl::OkStatus();
}

std::string Checksum(std::string_view sealed_part) {
  return Sha256Hex(sealed_part).substr(0, kChecksumHex);
}

std::pair<std::string, std::string> SplitPath(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return {".", path};
  if (slash == 0) return {"/", path.substr(1)};
  return {path.substr(0, slash), path.substr(slash + 1)};
}

}  // namespace

absl::Status WriteFileAtomically(const std::string& dir, const std::string& name,
                                 std::string_view content) {
  const std::string tmp = absl::StrCat(dir, "/.", name, ".tmp");
  const std::string final_path = absl::StrCat(dir, "/", name);
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Errno("create", tmp);
  size_t done = 0;
  while (done < content.size()) {
    const ssize_t w = ::write(fd, content.data() + done, content.size() - done);
    if (w < 0) {
      if (errno == EINTR) continue;
      absl::Status s = Errno("write", tmp);
      ::close(fd);
      ::unlink(tmp.c_str());
      return s;
    }
    done += static_cast<size_t>(w);
  }
  if (::fsync(fd) != 0) {
    absl::Status s = Errno("fsync", tmp);
    ::close(fd);
    ::unlink(tmp.c_str());
    return s;
  }
  if (::close(fd) != 0) {
    ::unlink(tmp.c_str());
    return Errno("close", tmp);
  }
  if (::rename(tmp.c_str(), final_path.c_str()) != 0) {
    absl::Status s = Errno("rename", tmp);
    ::unlink(tmp.c_str());
    return s;
  }
  return FsyncDir(dir);
}

std::string EscapeValue(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    switch (c) {
      case '\\':
        out.append("\\\\");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\r':
        out.append("\\r");
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

bool UnescapeValue(std::string_view v, std::string* out) {
  out->clear();
  out->reserve(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] != '\\') {
      out->push_back(v[i]);
      continue;
    }
    if (++i == v.size()) return false;
    switch (v[i]) {
      case '\\':
        out->push_back('\\');
        break;
      case 'n':
        out->push_back('\n');
        break;
      case 'r':
        out->push_back('\r');
        break;
      default:
        return false;
    }
  }
  return true;
}

absl::Status WriteStateFile(const std::string& path, std::string_view magic,
                            const std::vector<StateLine>& lines) {
  std::string content(magic);
  content.push_back('\n');
  for (const auto& [key, value] : lines) {
    if (value.empty()) {
      absl::StrAppend(&content, key, "\n");
    } else {
      absl::StrAppend(&content, key, ": ", EscapeValue(value), "\n");
    }
  }
  const std::string sum = Checksum(content);  // over everything before the checksum line
  content.append(kChecksumKey).append(sum).push_back('\n');
  const auto [dir, name] = SplitPath(path);
  return WriteFileAtomically(dir, name, content);
}

absl::StatusOr<std::vector<StateLine>> ReadStateFile(const std::string& path,
                                                     std::string_view magic) {
  if (::access(path.c_str(), F_OK) != 0 && errno == ENOENT) {
    return absl::NotFoundError(absl::StrCat(path, ": no such file"));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::DataLossError("cannot open");
  std::ostringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  if (text.size() > kMaxStateFileBytes) return absl::DataLossError("too large");
  // The checksum line is the last one; everything before it is what it covers.
  if (text.empty() || text.back() != '\n') return absl::DataLossError("truncated (no last line)");
  const size_t last = text.rfind('\n', text.size() - 2);
  const size_t sealed_end = last == std::string::npos ? 0 : last + 1;
  const std::string_view sum_line =
      std::string_view(text).substr(sealed_end, text.size() - 1 - sealed_end);
  if (sum_line.substr(0, kChecksumKey.size()) != kChecksumKey) {
    return absl::DataLossError("truncated (no checksum line)");
  }
  const std::string_view sealed = std::string_view(text).substr(0, sealed_end);
  if (sum_line.substr(kChecksumKey.size()) != Checksum(sealed)) {
    return absl::DataLossError("checksum mismatch");
  }
  std::vector<StateLine> out;
  std::string_view rest = sealed;
  bool first = true;
  while (!rest.empty()) {
    const size_t nl = rest.find('\n');
    const std::string_view line = rest.substr(0, nl);
    rest.remove_prefix(nl + 1);
    if (first) {
      if (line != magic) {
        return absl::DataLossError(absl::StrCat("not a '", std::string(magic), "' file"));
      }
      first = false;
      continue;
    }
    const size_t colon = line.find(": ");
    StateLine l;
    l.first = std::string(line.substr(0, colon));
    if (colon != std::string_view::npos && !UnescapeValue(line.substr(colon + 2), &l.second)) {
      return absl::DataLossError(absl::StrCat("bad escape in '", std::string(line), "'"));
    }
    out.push_back(std::move(l));
  }
  if (first) return absl::DataLossError("no magic line");
  return out;
}

absl::StatusOr<std::string> SetAsideStateFile(const std::string& path) {
  const std::string aside = absl::StrCat(path, ".corrupt");
  if (std::rename(path.c_str(), aside.c_str()) != 0) return Errno("rename", path);
  return aside;
}

}  // namespace smetsmon::webhook
