// Fuzzes the checkpoint loader (pipeline/checkpoint.h ReadCheckpoint) into a fresh engine of the
// shipped configuration (one worker, dedup capacity 4096, no rules). The input is the checkpoint
// without its CRC-32 trailer: the target appends the right one, so mutations reach the parser
// behind the check instead of all failing it. Any input is restored or refused with a Status.
//
// With SMETSMON_FUZZ_WRITE_SEED defined this file is instead a program that writes the seed
// (fuzz/corpus/checkpoint/): a checkpoint of the contract's sample events, trailer removed.
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "aggregate/engine.h"
#include "fuzz_util.h"
#include "pipeline/checkpoint.h"

namespace smetsmon::fuzz {
namespace {

aggregate::EngineConfig FuzzEngineConfig() {
  aggregate::EngineConfig c;
  c.workers = 1;
  c.dedup_capacity = 4096;
  c.expected_devices = 64;
  return c;
}

}  // namespace
}  // namespace smetsmon::fuzz

#ifndef SMETSMON_FUZZ_WRITE_SEED
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace smetsmon;
  // A fresh reference (its symbol tables are restored from the checkpoint) and engine per input.
  catalog::ReferenceOptions options;
  options.config_dir = fuzz::ConfigDir();
  auto ref = catalog::LoadReferenceConfig(options);
  if (!ref.ok()) std::abort();
  aggregate::Engine engine(*ref, fuzz::FuzzEngineConfig());
  std::string bytes(reinterpret_cast<const char*>(data), size);
  const uint32_t crc = static_cast<uint32_t>(
      crc32_z(crc32(0, nullptr, 0), reinterpret_cast<const Bytef*>(bytes.data()), bytes.size()));
  bytes.append(reinterpret_cast<const char*>(&crc), sizeof crc);  // little-endian, as written
  (void)pipeline::ReadCheckpoint(fuzz::WriteScratch(bytes, ".ckpt"), engine);
  return 0;
}
#else
#include "decode/decoder.h"

// checkpoint_seed <events.jsonl> <out>: applies the decodable lines to an engine and writes its
// checkpoint without the CRC trailer to <out>.
int main(int argc, char** argv) {
  using namespace smetsmon;
  if (argc != 3) {
    std::fprintf(stderr, "usage: checkpoint_seed <events.jsonl> <out>\n");
    return 2;
  }
  const catalog::ReferenceData& ref = fuzz::Reference();
  aggregate::Engine engine(ref, fuzz::FuzzEngineConfig());
  decode::Decoder decoder(
      decode::DecoderRefs{ref.areas.get(), ref.dmcs.get(), ref.cohorts.get(), nullptr});
  std::ifstream in(argv[1]);
  std::string line;
  std::vector<AlertEvent> events;
  while (std::getline(in, line)) {
    AlertEvent e;
    if (decoder.Decode(line, ProcessingTime{1687867200000}, &e) == RejectReason::kNone) {
      events.push_back(e);
    }
  }
  for (const AlertEvent& e : events) engine.WorkerFor(e.device).ApplyBatch({&e, 1});
  pipeline::CheckpointExtras extras;
  extras.offsets = {{"smets.alerts", 0, static_cast<int64_t>(events.size())}};
  const std::string tmp = std::string(argv[2]) + ".full";
  auto written = pipeline::WriteCheckpoint(tmp, engine, extras);
  if (!written.ok()) {
    std::fprintf(stderr, "%s\n", std::string(written.status().message()).c_str());
    return 1;
  }
  std::ifstream full(tmp, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(full)), {});
  std::remove(tmp.c_str());
  std::ofstream(argv[2], std::ios::binary)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size() - sizeof(uint32_t)));
  std::printf("%zu events, %zu bytes\n", events.size(), bytes.size() - sizeof(uint32_t));
  return 0;
}
#endif
