// The release version (CMake's project version) and the source revision (`git describe`, with
// "-dirty" for uncommitted changes; "unknown" outside a git checkout), both fixed at build time.
// Shown by `smetsmon --version` and in the smetsmon_build_info metric's labels.
#pragma once

namespace smetsmon {

extern const char kVersion[];
extern const char kRevision[];

}  // namespace smetsmon
