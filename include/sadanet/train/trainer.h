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
//  - RUNDIR is created with mode 0700 (RunOptions::dir_mode) and locked (flock on
//    RUNDIR/.sadanet.lock) for the whole run: a second process on the same folder fails at once,
//    naming the holder's pid. Symbolic links under the names above are refused; temporaries a
//    killed process left are removed;
//  - a loss term that is NaN or Inf stops the run before its backward pass; nothing is written
//    for that step, the last good checkpoint stays, and the result says which step and term;
//  - a checkpoint that cannot be written (disk full, unwritable folder) is retried once after
//    removing the run's own temporaries; if that fails too the run stops (TrainStatus::failed,
//    `sadanet train` exits 1) with ckpt-latest still the last good checkpoint. A failed append to
//    metrics.jsonl / val.jsonl, or a data loader that gives up (too many unreadable images), first
//    writes a checkpoint of the last completed step, then stops the same way;
//  - checkpoints are written every ckpt_every steps, every ckpt_minutes minutes, at the end of
//    each stage and when stopped;
//  - --resume takes ckpt-latest, or, when that is torn or fails its checksum, ckpt-next or
//    ckpt-prev, saying which and why; it refuses another compute-thread count or device than the
//    checkpoint's (bit-exactness depends on them) unless allow_nondeterministic_resume;
//  - SIGINT, SIGTERM and SIGHUP (or request_stop()) finish the current step, write a checkpoint,
//    and return TrainStatus::interrupted with the signal (`sadanet train` exits 128 + signal:
//    130, 143, 129); a second signal kills the process. Ignored signals (nohup) stay ignored.
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
  bool handle_signals = true;  // install the SIGINT/SIGTERM/SIGHUP handlers for the run
  bool take_lock = true;       // false: the caller holds a RunDirLock on `out` (see run_dir.h)
  unsigned dir_mode = 0700;    // mode of RUNDIR when this run creates it
  bool allow_nondeterministic_resume = false;  // resume with another thread count or device
  // A completed run removes its training checkpoints (ckpt-*.safetensors: the optimizer state and
  // SWAD's segment buffers, several times the model's size) unless this is set; the model files
  // stay. A finished run without checkpoints cannot be resumed (there is nothing left to train).
  bool keep_checkpoints = false;
  TrainHooks hooks;
};

// failed: a file of the run could not be written or the data could not be read (see message).
enum class TrainStatus { completed, interrupted, diverged, failed };

struct TrainResult {
  TrainStatus status = TrainStatus::completed;
  std::string message;                 // diverged: which step and term; interrupted: where it stopped
  int signal = 0;                      // interrupted by this signal (0: request_stop)
  std::string rundir, final_path, last_path, checkpoint;
  TrainConfig config;                  // the one used (the saved one when resuming)
  std::vector<std::string> classes;
  std::map<std::string, std::vector<double>> losses;  // per stage, the total loss of each step run now
  int64_t steps_run = 0;
  double seconds = 0;
  std::string swad_note;
  std::vector<std::string> checkpoint_errors;  // failed checkpoint writes (a retry may have succeeded)
  std::vector<std::string> warnings;           // resume fallbacks, removed temporaries, ...
};

TrainResult run_training(const TrainConfig& cfg, const RunOptions& opts);

// What SIGINT/SIGTERM/SIGHUP do: the loop writes a checkpoint at the end of the current step and returns.
void request_stop();
bool stop_requested();

}  // namespace sadanet::train
