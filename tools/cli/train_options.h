// The training options `sadanet train` and `sadanet protocol` share: each flag maps onto one
// TrainConfig field and is applied only when given, so that a preset's values and a resumed
// run's saved config are overridden by exactly what the user typed.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "sadanet/train/config.h"

namespace sadanet::cli {

class TrainOptions {
 public:
  // Adds the options to cmd. with_seed: --seed (protocol sets the seed per trial instead).
  void add(CLI::App* cmd, bool with_seed);
  // A new run's config: defaults, then the preset (--preset, default paper), then the given flags.
  train::TrainConfig make() const;
  // base with --preset (if given) and the given flags applied (resume: base = the saved config).
  train::TrainConfig apply(train::TrainConfig base) const;

 private:
  template <class T>
  CLI::Option* add_opt(CLI::App* cmd, const std::string& flag, const std::string& help,
                       std::function<void(train::TrainConfig&, const T&)> set);
  std::vector<std::pair<CLI::Option*, std::function<void(train::TrainConfig&)>>> items_;
  std::shared_ptr<std::string> preset_ = std::make_shared<std::string>("paper");
  CLI::Option* preset_opt_ = nullptr;
};

// Prints the target evaluation of a finished run and writes RUNDIR/test_metrics.json and
// RUNDIR/test_confusion.png; returns {f1_micro, f1_macro}.
std::pair<double, double> evaluate_run(const std::string& rundir, const train::TrainConfig& cfg, bool print);

// "700", "0750", ...: an octal mode of at most 0777; throws sadanet::Error otherwise.
unsigned parse_dir_mode(const std::string& text);

}  // namespace sadanet::cli
