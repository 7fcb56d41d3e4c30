// The fixture of the short training runs (test_train.cpp, test_run_hygiene.cpp): a tiny
// synthetic dataset written once per suite and the smallest run configuration that exercises
// every part of the trainer.
#pragma once
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "data_fixtures.h"
#include "sadanet/data/synth.h"
#include "sadanet/train/config.h"
#include "sadanet/train/checkpoint.h"
#include "sadanet/train/trainer.h"

namespace sadanet::test {

using train::Method;
using train::RunOptions;
using train::TrainConfig;
using train::set_checkpoint_write_hook;
using train::Arch;

// Three synthetic domains, 6 images per class each, 32 x 32: written once for the suite.
class TrainRun : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    data_ = new ScratchDir();
    data::SynthOptions o;
    o.domains = 3;
    o.per_class = 6;
    o.size = 32;
    o.seed = 3;
    o.threads = 2;
    data::write_synth_dataset(data_->path(), o);
  }
  static void TearDownTestSuite() {
    delete data_;
    data_ = nullptr;
  }
  void TearDown() override { set_checkpoint_write_hook({}); }

  // The smallest run that exercises everything: resnet-tiny, 2 images per domain, narrow heads.
  static TrainConfig tiny(Method m) {
    TrainConfig c;
    c.data = data_->path();
    c.target = "synthC";
    c.method = m;
    c.arch = Arch::resnet_tiny;
    c.steps1 = 4;
    c.steps2 = 4;
    c.batch = 2;
    c.size = 32;
    c.k = 2;
    c.la_hidden = 32;
    c.la_out = 16;
    c.proj_dim = 16;
    c.seed = 1;
    c.loader_threads = 1;
    c.eval_batch = 32;
    c.swad.eval_every = 1;
    c.swad.n_converge = 2;
    c.swad.n_tolerance = 3;
    c.swad.bn_steps = 2;
    c.log_every = 2;
    return c;
  }

  // ERM for `steps` steps without SWAD, logging every step.
  static TrainConfig short_erm(int64_t steps) {
    TrainConfig c = tiny(Method::erm);
    c.steps1 = steps;
    c.steps2 = 0;
    c.swad.enabled = false;
    c.log_every = 1;
    return c;
  }

  RunOptions quiet(const std::string& out) {
    RunOptions r;
    r.out = out;
    r.log = &log_;
    r.progress_bar = 0;
    r.handle_signals = false;
    r.keep_checkpoints = true;  // the tests look at them after the run (RunHygiene tests removal)
    return r;
  }

  static double mean(const std::vector<double>& v, size_t from, size_t to) {
    double s = 0;
    for (size_t i = from; i < to; ++i) s += v.at(i);
    return s / static_cast<double>(to - from);
  }

  static ScratchDir* data_;
  ScratchDir run_;
  std::ostringstream log_;
};

}  // namespace sadanet::test
