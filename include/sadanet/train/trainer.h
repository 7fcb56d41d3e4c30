// The training loop of `sadanet train`: ERM (cross-entropy on the joint batch of the source
// domains) or SADA (stage 1: stain augmentation + domain-invariant contrastive + local alignment;
// stage 2: cross-entropy, classifier only or everything), SWAD over the last stage, checkpoints
// with bit-exact resume on the CPU, NaN/Inf detection, and SIGINT handling.
//
// RUNDIR after a completed run:
//   config.json               the TrainConfig
//   metrics.jsonl, val.jsonl  per logged step; per SWAD evaluation
//   ckpt-latest.safetensors   (ckpt-prev.safetensors) the last checkpoints
//   last.safetensors          the model after the last step
//   final.safetensors         the SWAD average (last.safetensors' weights when SWAD is off)
//
// Failure handling:
//  - a loss term that is NaN or Inf stops the run before its backward pass; nothing is written
//    for that step, the last good checkpoint stays, and the result says which step and term;
//  - a checkpoint that cannot be written (disk full, unwritable folder) is reported and training
//    goes on; ckpt-latest keeps the previous one;
//  - SIGINT (or request_stop()) finishes the current step, writes a checkpoint, and returns
//    TrainStatus::interrupted (`sadanet train` exits 130); a second SIGINT kills the process.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "sadanet/train/config.h"

namespace sadanet::train {

using LossTerms = std::vector<std::pair<std::string, double>>;  // "loss" (the total) first

struct TrainHooks {
  // Hooks get the step's 0-based index within its stage; messages and logs count steps done
  // (1-based). Sees (and may change) each step's loss values before the NaN/Inf check (tests
  // inject NaN).
  std::function<void(const std::string& stage, int64_t step, LossTerms& terms)> on_loss;
  // After each step (0-based), before its checkpoint; request_stop() here stops after this step.
  std::function<void(const std::string& stage, int64_t step)> on_step_end;
};

struct RunOptions {
  std::string out;            // RUNDIR (created)
  bool resume = false;        // continue from RUNDIR's checkpoint (a fresh start when it has none)
  std::ostream* log = nullptr;  // messages and progress; nullptr: std::cerr
  int progress_bar = -1;      // 1: \r bar, 0: log lines; -1: bar when logging to a terminal's stderr
  bool handle_sigint = true;  // install the SIGINT handler for the run
  TrainHooks hooks;
};

enum class TrainStatus { completed, interrupted, diverged };

struct TrainResult {
  TrainStatus status = TrainStatus::completed;
  std::string message;                 // diverged: which step and term; interrupted: where it stopped
  std::string rundir, final_path, last_path, checkpoint;
  TrainConfig config;                  // the one used (the saved one when resuming)
  std::vector<std::string> classes;
  std::map<std::string, std::vector<double>> losses;  // per stage, the total loss of each step run now
  int64_t steps_run = 0;
  double seconds = 0;
  std::string swad_note;
  std::vector<std::string> checkpoint_errors;
};

TrainResult run_training(const TrainConfig& cfg, const RunOptions& opts);

// What SIGINT does: the loop writes a checkpoint at the end of the current step and returns.
void request_stop();
bool stop_requested();

}  // namespace sadanet::train
