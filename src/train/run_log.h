// What a run reports while it trains (internal to the trainer): RUNDIR/metrics.jsonl (one line
// per logged step), RUNDIR/val.jsonl (one line per SWAD evaluation), and the human view on the
// log stream: a one-line progress bar redrawn with \r on a terminal, plain lines otherwise.
#pragma once
#include <chrono>
#include <cstdint>
#include <fstream>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "train/step.h"

namespace sadanet::train::internal {

// The checkpoint write hook (checkpoint.h), for the log appends.
void run_write_hook(const std::string& path);

struct StepRecord {
  std::string stage;
  int64_t step = 0;   // steps done in the stage (1-based)
  int64_t total = 0;  // the stage's steps
  std::vector<std::pair<std::string, double>> terms;  // "loss" first
  double lr = 0;
  int64_t images = 0;
  StepTimes times;
  double seconds = 0;  // wall time of the step
};

class RunLog {
 public:
  // stage_order: the run's stages, to compare positions when a resumed run drops the records
  // written after its checkpoint.
  RunLog(const std::string& rundir, std::ostream& out, bool progress_bar, int64_t log_every,
         std::vector<std::string> stage_order);
  // Resuming at (stage, step): records after that position are removed from the files.
  void truncate_after(const std::string& stage, int64_t step);
  void step(const StepRecord& r);
  void validation(const std::string& stage, int64_t step, double loss, const std::string& event);
  // A message on its own line (the progress bar, if drawn, is finished first).
  void message(const std::string& text);
  void end_stage();
  // Writes the steps since the last logged one (a run that stops between log points).
  void flush();

 private:
  void write_metrics(const StepRecord& last, int64_t steps);
  void draw(const StepRecord& r, bool line);
  size_t order(const std::string& stage) const;

  std::string metrics_path_, val_path_;
  std::ostream& out_;
  bool bar_;
  int64_t log_every_;
  std::vector<std::string> stage_order_;
  // The window since the last logged step.
  std::vector<std::pair<std::string, double>> sum_terms_;
  StepTimes sum_times_;
  double sum_seconds_ = 0, ema_step_s_ = 0;
  int64_t sum_images_ = 0, window_ = 0;
  bool bar_open_ = false;
  StepRecord last_;
};

}  // namespace sadanet::train::internal
