# Sourced by scripts/sanitize.sh and scripts/fuzz.sh: how build-asan/ is configured. One clang
# tree serves both the ASan+UBSan suite and the libFuzzer targets (SMETSMON_FUZZ=ON instruments
# every library for coverage as well; the tests link no libFuzzer main and run as usual).
# Warnings are errors in the GCC trees; clang-14 warns differently, so not here.
asan_cmake_args=(-DCMAKE_BUILD_TYPE=None "-DCMAKE_CXX_FLAGS=-O1 -gline-tables-only"
  -DSMETSMON_FUZZ=ON -DSMETSMON_WERROR=OFF -DSMETSMON_BUILD_BENCH=OFF)
