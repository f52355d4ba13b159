// Builds the pipeline (the system's composition root) for tests, on the project's config.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "pipeline/pipeline.h"
#include "testing/fixtures.h"

namespace smetsmon::testing {

// A batch owning its messages, received at `received_at` (processing time).
struct OwnedBatch : pipeline::SourceBatch {
  OwnedBatch(ProcessingTime received_at, std::vector<std::string> lines)
      : storage(std::move(lines)) {
    for (const std::string& s : storage) messages.emplace_back(s);
    received = received_at;
  }
  std::vector<std::string> storage;
};

inline pipeline::PipelineConfig TestPipelineConfig(bool rules = false) {
  pipeline::PipelineConfig c;
  c.reference.config_dir = ConfigDir();
  c.rules = rules;
  return c;
}

inline std::unique_ptr<pipeline::Pipeline> MakePipeline(const pipeline::PipelineConfig& config,
                                                        const Clock& clock) {
  auto p = pipeline::Pipeline::Create(config, clock);
  if (!p.ok()) {
    ADD_FAILURE() << p.status();
    return nullptr;
  }
  return std::move(*p);
}

}  // namespace smetsmon::testing
