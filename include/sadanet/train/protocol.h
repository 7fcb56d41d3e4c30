// The leave-one-domain-out protocol's bookkeeping: where each (method, target, trial) run lives
// and the results table in the paper's format (F1-micro and F1-macro in percent, mean ± std over
// trials per target, and their average over targets).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace sadanet::train {

struct RunScore {
  std::string method, target;
  int trial = 0;
  double f1_micro = 0, f1_macro = 0;  // fractions in [0, 1]
  bool ok = false;                    // false: the run failed (diverged); left out of the means
};

// <out>/<method>/<target>/trial<trial>
std::string protocol_rundir(const std::string& out, const std::string& method, const std::string& target, int trial);

struct ProtocolTables {
  std::string markdown;  // results.md
  std::string csv;       // results.csv: method,target,trials,f1_micro_mean,f1_micro_std,f1_macro_mean,f1_macro_std
  std::string runs_csv;  // runs.csv: method,target,trial,f1_micro,f1_macro,ok
};

// Std is the sample standard deviation (n - 1), 0 for a single trial. The average column is, per
// trial, the mean over targets, then mean ± std over the trials that have every target.
ProtocolTables summarize_protocol(const std::vector<RunScore>& runs, const std::vector<std::string>& methods,
                                  const std::vector<std::string>& targets);

}  // namespace sadanet::train
