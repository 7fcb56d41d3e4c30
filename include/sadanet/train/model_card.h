// What a trained model is, written beside it in its run folder: model.json for programs (labels,
// input size and normalisation, files, training data, evaluation) and model_card.md for people
// (the same, plus intended use and limitations). The trainer writes both when the model files
// are written; `sadanet train` adds the target evaluation once it has run.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "sadanet/data/dataset.h"
#include "sadanet/eval/metrics.h"
#include "sadanet/export.h"
#include "sadanet/train/config.h"

namespace sadanet::train {

struct SADANET_API ModelCardInput {
  TrainConfig config;
  std::vector<std::string> classes;
  std::vector<std::string> domains;  // the dataset's, indexed by Item::domain
  const data::LodoSplit* split = nullptr;
  int64_t parameters = 0;
  std::string swad_note;             // how final.safetensors came about
  std::string stage;                 // the last stage run, and its step
  int64_t step = 0;
};

// Writes RUNDIR/model.json and RUNDIR/model_card.md (atomically; the evaluation left empty).
SADANET_API void write_model_card(const std::string& rundir, const ModelCardInput& in);
// Adds an evaluation of final.safetensors to RUNDIR/model.json and rewrites model_card.md from
// it. `split` is "test" or "all" (of the domain's images).
SADANET_API void add_model_card_evaluation(const std::string& rundir, const std::string& domain,
                                           const std::string& split, const eval::Metrics& m);
// model_card.md's text from model.json's content (a JSON document as write_model_card wrote it).
SADANET_API std::string render_model_card(const std::string& model_json);

}  // namespace sadanet::train
