// The trainer and its parts: TrainConfig's JSON, SWAD's averaging and loss-valley detector on
// hand-made loss sequences, and short runs of tiny models on a tiny synthetic dataset: the loss
// falls, checkpoints reload to identical outputs, resume is bit-exact, NaN/Inf stops the run,
// checkpoint write failures and SIGINT are handled, and eval's numbers equal a hand computation.
#include <gtest/gtest.h>

#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "data_fixtures.h"
#include "train_fixture.h"
#include "sadanet/data/dataset.h"
#include "sadanet/data/image.h"
#include "sadanet/data/synth.h"
#include "sadanet/io/safetensors.h"
#include "sadanet/train/checkpoint.h"
#include "sadanet/train/config.h"
#include "sadanet/train/evaluate.h"
#include "sadanet/train/model.h"
#include "sadanet/train/protocol.h"
#include "sadanet/train/swad.h"
#include "sadanet/train/trainer.h"

using namespace sadanet;
using namespace sadanet::train;
namespace fs = std::filesystem;
using sadanet::test::TrainRun;

namespace {

// ---- SWAD on hand-made sequences ---------------------------------------------------------------

// A "model" of one scalar whose value names the segment, so an average shows what it contains.
AveragedWeights segment(double value, int64_t start, int64_t end) {
  AveragedWeights w;
  w.params = {full({1}, value)};
  w.n_averaged = 1;
  w.start_step = start;
  w.end_step = end;
  return w;
}

double value_of(const AveragedWeights& w) { return w.params.at(0).to_vector<double>().at(0); }

}  // namespace

TEST(Swad, AveragedWeightsFollowsAveragedModel) {
  AveragedWeights w = AveragedWeights::copy_of({full({2}, 7.0)});
  EXPECT_EQ(w.n_averaged, 0);
  w.update({full({2}, 1.0)}, 5);  // the first update overwrites the copy, as swa_utils does
  EXPECT_DOUBLE_EQ(value_of(w), 1.0);
  EXPECT_EQ(w.start_step, 5);
  w.update({full({2}, 2.0)}, 6);
  w.update({full({2}, 6.0)}, 7);
  EXPECT_DOUBLE_EQ(value_of(w), 3.0);
  EXPECT_EQ(w.n_averaged, 3);
  EXPECT_EQ(w.start_step, 5);  // recorded on the first update only
  EXPECT_EQ(w.end_step, 7);
}

TEST(Swad, ValleyAveragesFromTheConvergedSegmentUntilTheLossLeavesTheValley) {
  // Converges at evaluation 6 (losses 1, 1.1, 1.2: the oldest is their minimum), so the valley
  // starts at segment 4 and threshold = 1.1 * 1.3 = 1.43. Segment i enters once the minimum over
  // i .. i+5 is <= 1.43: segments 4..10. At evaluation 16 the minimum over 11..16 is 2.0: dead.
  const std::vector<double> loss = {5.0, 4.0, 3.0, 2.0, 1.0, 1.1, 1.2, 1.05, 1.3,
                                    1.2, 1.4, 2.0, 2.1, 2.2, 2.3, 2.4, 2.5, 0.1};
  LossValley v(3, 6, 0.3);
  for (size_t i = 0; i < loss.size(); ++i) {
    v.update_and_evaluate(segment(static_cast<double>(i), static_cast<int64_t>(i), static_cast<int64_t>(i)), loss[i]);
    EXPECT_EQ(v.converged(), i >= 6) << "evaluation " << i;
    EXPECT_EQ(v.dead_valley(), i >= 16) << "evaluation " << i;
  }
  EXPECT_EQ(*v.converge_step(), 4);
  EXPECT_NEAR(v.threshold(), 1.1 * 1.3, 1e-12);
  std::string note;
  auto w = v.final_weights(&note);
  ASSERT_TRUE(w.has_value());
  EXPECT_NEAR(value_of(*w), 7.0, 1e-6);  // mean of 4..10
  EXPECT_EQ(w->n_averaged, 7);
  EXPECT_EQ(w->start_step, 4);
  EXPECT_EQ(w->end_step, 10);
  EXPECT_NE(note.find("valley ended"), std::string::npos) << note;
}

TEST(Swad, ValleyKeepsTheReferenceQuirksAtConvergenceAndAtTheEnd) {
  // Converges at evaluation 5 (0.9, 0.95, 0.97) on segment 3; threshold 0.94 * 1.3 = 1.222. No
  // loss of Q = segments 0..3 is above it, so the reference adds Q[1:] = 1, 2, 3 (skipping 0). The
  // run ends there: get_final_model adds segments 1..5 of the smoothing queue again, so 1, 2, 3
  // count twice: (1+2+3+1+2+3+4+5) / 8.
  const std::vector<double> loss = {1.2, 1.1, 1.0, 0.9, 0.95, 0.97};
  LossValley v(3, 6, 0.3);
  for (size_t i = 0; i < loss.size(); ++i)
    v.update_and_evaluate(segment(static_cast<double>(i), static_cast<int64_t>(i), static_cast<int64_t>(i)), loss[i]);
  ASSERT_TRUE(v.converged());
  EXPECT_EQ(*v.converge_step(), 3);
  auto w = v.final_weights();
  ASSERT_TRUE(w.has_value());
  EXPECT_NEAR(value_of(*w), 21.0 / 8.0, 1e-6);
  EXPECT_EQ(w->n_averaged, 8);
  EXPECT_EQ(w->start_step, 1);
  EXPECT_EQ(w->end_step, 5);
  // final_weights does not consume the queue: asking twice gives the same.
  EXPECT_NEAR(value_of(*v.final_weights()), 21.0 / 8.0, 1e-6);
}

TEST(Swad, NeverConvergedGivesTheLastSegmentAndNoEvaluationGivesNothing) {
  LossValley none(3, 6, 0.3);
  EXPECT_FALSE(none.final_weights().has_value());
  LossValley v(3, 6, 0.3);
  for (int i = 0; i < 5; ++i) v.update_and_evaluate(segment(i, i, i), 10.0 - i);  // still falling
  EXPECT_FALSE(v.converged());
  std::string note;
  auto w = v.final_weights(&note);
  ASSERT_TRUE(w.has_value());
  EXPECT_DOUBLE_EQ(value_of(*w), 4.0);
  EXPECT_NE(note.find("never converged"), std::string::npos);
}

TEST(Swad, TrackerAveragesEveryStepOfASegment) {
  // eval_every 2: segments {0}, {1, 2}, {3, 4}; with windows of 1 the valley starts at the first
  // segment (whose copy the next addition overwrites) and takes the others: mean(1.5, 3.5).
  SwadTracker t(1, 1, 0.3, 2);
  for (int64_t s = 0; s <= 4; ++s) {
    t.after_step({full({3}, static_cast<double>(s))}, s);
    if (t.should_evaluate(s)) t.evaluate(1.0);
  }
  auto w = t.valley().final_weights();
  ASSERT_TRUE(w.has_value());
  EXPECT_DOUBLE_EQ(value_of(*w), 2.5);
  EXPECT_EQ(w->start_step, 1);
  EXPECT_EQ(w->end_step, 4);
}

TEST(Swad, TrackerStateRoundTripsExactly) {
  auto drive = [](SwadTracker& t, int64_t from, int64_t to) {
    for (int64_t s = from; s < to; ++s) {
      t.after_step({full({2}, 0.1 * static_cast<double>(s * s % 7))}, s);
      if (t.should_evaluate(s)) t.evaluate(1.0 + 0.01 * static_cast<double>((s * 5) % 3));
    }
  };
  SwadTracker a(3, 6, 0.3, 3), b(3, 6, 0.3, 3);
  drive(a, 0, 40);
  // b: the first 20 steps in a, saved and loaded into b, then the rest.
  SwadTracker half(3, 6, 0.3, 3);
  drive(half, 0, 20);
  std::map<std::string, Tensor> tensors;
  for (auto& [k, v] : half.state_tensors()) tensors[k] = v.clone();
  b.load_state(half.state_json(), tensors);
  drive(b, 20, 40);
  EXPECT_EQ(a.state_json(), b.state_json());
  auto wa = a.valley().final_weights(), wb = b.valley().final_weights();
  ASSERT_TRUE(wa && wb);
  EXPECT_EQ(wa->params[0].to_vector<float>(), wb->params[0].to_vector<float>());
}

// ---- config ------------------------------------------------------------------------------------

TEST(TrainConfig, JsonRoundTripsAndRejectsUnknownKeys) {
  TrainConfig c;
  c.data = "/d";
  c.target = "bccd";
  c.method = Method::erm;
  c.arch = Arch::resnet_tiny;
  apply_preset(c, "reference-code");
  c.seed = 12345678901234ull;
  c.swad.eval_every = 7;
  c.lr = 1.25e-4;
  TrainConfig d = config_from_json(config_to_json(c));
  EXPECT_EQ(config_to_json(c), config_to_json(d));
  EXPECT_TRUE(c.identity_diff(d).empty());
  EXPECT_EQ(d.beta, 0.0);
  EXPECT_EQ(d.anchor, sada::ContrastiveAnchor::each_sample);
  EXPECT_EQ(d.stage2, Stage2::full);
  EXPECT_EQ(d.bn, BatchNormMode::frozen);
  EXPECT_EQ(d.stain, stain::StainVariant::reference_code);

  try {
    config_from_json(R"({"stpes1": 3})");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown key 'stpes1'"), std::string::npos) << e.what();
  }
  EXPECT_THROW(config_from_json(R"({"method": "dann"})"), Error);
  EXPECT_THROW(apply_preset(c, "papr"), Error);

  d.device = "cuda";  // where a run executes is not part of its identity
  d.steps2 = 1;
  auto diff = c.identity_diff(d);
  ASSERT_EQ(diff.size(), 1u);
  EXPECT_EQ(diff[0].rfind("steps2", 0), 0u);

  TrainConfig bad = c;
  bad.size = 16;
  try {
    bad.validate();
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("got 16"), std::string::npos) << e.what();
  }
}

TEST(Protocol, TableHasMeanAndStdPerTargetAndTheAverage) {
  std::vector<RunScore> runs = {
      {"erm", "a", 0, 0.5, 0.4, true}, {"erm", "a", 1, 0.7, 0.6, true},
      {"erm", "b", 0, 0.9, 0.8, true}, {"erm", "b", 1, 0.9, 0.8, true},
  };
  ProtocolTables t = summarize_protocol(runs, {"erm"}, {"a", "b"});
  // a: 60 ± 14.14; b: 90 ± 0; average per trial (70, 80): 75 ± 7.07.
  EXPECT_NE(t.markdown.find("| ERM | 60.00 ± 14.14 | 50.00 ± 14.14 | 90.00 ± 0.00 | 80.00 ± 0.00 | 75.00 ± 7.07 | 65.00 ± 7.07 |"),
            std::string::npos)
      << t.markdown;
  EXPECT_NE(t.csv.find("erm,average,2,0.750000,"), std::string::npos) << t.csv;
  EXPECT_EQ(protocol_rundir("o", "sada", "bccd", 2), "o/sada/bccd/trial2");
}

// ---- short training runs -------------------------------------------------------------------------

namespace {


// Every tensor of a safetensors file as raw bytes, by name.
std::map<std::string, std::string> tensor_bytes(const std::string& path) {
  std::map<std::string, std::string> out;
  for (auto& [name, t] : io::read_safetensors(path).tensors) {
    Tensor c = t.contiguous();
    out[name] = std::string(static_cast<const char*>(c.raw_data()), c.nbytes());
  }
  return out;
}

}  // namespace

TEST_F(TrainRun, ErmLossFallsAndTheRunFolderIsComplete) {
  TrainConfig c = tiny(Method::erm);
  c.steps1 = 10;
  c.steps2 = 0;
  c.batch = 4;  // with 2 per domain, batch-norm noise hides the trend in 10 steps
  c.lr = 3e-4;
  c.swad.enabled = false;
  TrainResult r = run_training(c, quiet(run_ / "erm"));
  ASSERT_EQ(r.status, TrainStatus::completed) << r.message << log_.str();
  const auto& l = r.losses.at("erm");
  ASSERT_EQ(l.size(), 10u);
  EXPECT_LT(mean(l, 7, 10), mean(l, 0, 3)) << log_.str();
  for (const char* f : {"config.json", "metrics.jsonl", "ckpt-latest.safetensors", "last.safetensors", "final.safetensors"})
    EXPECT_TRUE(fs::exists(run_ / ("erm/" + std::string(f)))) << f;
  std::ifstream m(run_ / "erm/metrics.jsonl");
  int lines = 0;
  for (std::string line; std::getline(m, line); ++lines) {
    EXPECT_NE(line.find("\"images_per_s\""), std::string::npos);
    EXPECT_NE(line.find("\"backward\""), std::string::npos);
  }
  EXPECT_EQ(lines, 5);  // every 2 of 10 steps
  // A new run may not overwrite it.
  EXPECT_THROW(run_training(c, quiet(run_ / "erm")), Error);
}

TEST_F(TrainRun, SadaStageOneLossFalls) {
  TrainConfig c = tiny(Method::sada);
  c.steps1 = 10;
  c.steps2 = 1;
  c.lr = 1e-3;
  c.swad.enabled = false;
  TrainResult r = run_training(c, quiet(run_ / "sada"));
  ASSERT_EQ(r.status, TrainStatus::completed) << r.message << log_.str();
  const auto& l = r.losses.at("stage1");
  ASSERT_EQ(l.size(), 10u);
  EXPECT_LT(mean(l, 7, 10), mean(l, 0, 3)) << log_.str();
  EXPECT_EQ(r.losses.at("stage2").size(), 1u);
}

TEST_F(TrainRun, CheckpointAndModelFilesReloadToIdenticalOutputs) {
  TrainConfig c = tiny(Method::sada);
  c.steps1 = 1;
  c.steps2 = 2;
  TrainResult r = run_training(c, quiet(run_ / "r"));
  ASSERT_EQ(r.status, TrainStatus::completed) << r.message;
  LoadedFile ck = load_checkpoint_file(checkpoint_path(run_ / "r"));
  LoadedFile last = load_checkpoint_file(run_ / "r/last.safetensors");
  EXPECT_EQ(ck.meta("stage"), "stage2");
  EXPECT_EQ(ck.meta("step"), "2");
  EXPECT_EQ(last.classes, data::default_classes());
  Networks a = build_networks(ck.config, 5), b = build_networks(last.config, 5);
  load_network_tensors(a, ck.file.tensors, /*with_heads=*/true);
  load_network_tensors(b, last.file.tensors, /*with_heads=*/false);
  a.backbone->eval();
  b.backbone->eval();
  a.backbone->set_batch_norm_mode(BatchNormMode::eval);
  b.backbone->set_batch_norm_mode(BatchNormMode::eval);
  Generator g(9);
  Tensor x = randn({3, 3, 32, 32}, {}, &g);
  NoGradGuard ng;
  EXPECT_EQ(a.backbone->forward(x).logits.to_vector<float>(), b.backbone->forward(x).logits.to_vector<float>());
}

TEST_F(TrainRun, ResumeIsBitExact) {
  // Straight: stage 1 (2 steps) and stage 2 (2 steps, SWAD evaluating every step, BN trained).
  TrainConfig c = tiny(Method::sada);
  c.steps1 = 2;
  c.steps2 = 2;
  c.stage2 = Stage2::full;
  c.log_every = 1;
  TrainResult a = run_training(c, quiet(run_ / "a"));
  ASSERT_EQ(a.status, TrainStatus::completed) << a.message;

  // Interrupted after the first step of each stage, resumed each time.
  auto stop_at = [](const std::string& stage, int64_t step) {
    TrainHooks h;
    h.on_step_end = [stage, step](const std::string& s, int64_t i) {
      if (s == stage && i == step) request_stop();
    };
    return h;
  };
  RunOptions o = quiet(run_ / "b");
  o.hooks = stop_at("stage1", 0);
  TrainResult b1 = run_training(c, o);
  ASSERT_EQ(b1.status, TrainStatus::interrupted) << b1.message;
  EXPECT_NE(b1.message.find("interrupted after stage1 step 1/2"), std::string::npos) << b1.message;
  o.resume = true;
  o.hooks = stop_at("stage2", 0);
  TrainResult b2 = run_training(c, o);
  ASSERT_EQ(b2.status, TrainStatus::interrupted) << b2.message;
  o.hooks = {};
  TrainResult b3 = run_training(c, o);
  ASSERT_EQ(b3.status, TrainStatus::completed) << b3.message;
  EXPECT_EQ(b3.steps_run, 1);  // stage 2's last step

  for (const char* f : {"last.safetensors", "final.safetensors", "ckpt-latest.safetensors"}) {
    auto x = tensor_bytes(run_ / ("a/" + std::string(f))), y = tensor_bytes(run_ / ("b/" + std::string(f)));
    ASSERT_EQ(x.size(), y.size()) << f;
    for (auto& [name, bytes] : x) EXPECT_TRUE(bytes == y.at(name)) << f << ": " << name << " differs";
  }
  // The resumed run's metrics log has each logged step once.
  std::ifstream ma(run_ / "a/metrics.jsonl"), mb(run_ / "b/metrics.jsonl");
  std::string la, lb, line;
  while (std::getline(ma, line)) la += line.substr(0, line.find("\"lr\"")) + "\n";
  while (std::getline(mb, line)) lb += line.substr(0, line.find("\"lr\"")) + "\n";
  EXPECT_EQ(la, lb);
}

TEST_F(TrainRun, ResumeRefusesOptionsThatChangeTheRun) {
  TrainConfig c = tiny(Method::erm);
  c.steps1 = 2;
  c.steps2 = 0;
  RunOptions o = quiet(run_ / "r");
  o.hooks.on_step_end = [](const std::string&, int64_t) { request_stop(); };
  ASSERT_EQ(run_training(c, o).status, TrainStatus::interrupted);
  o.hooks = {};
  o.resume = true;
  TrainConfig changed = c;
  changed.lr = 1e-3;
  try {
    run_training(changed, o);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("lr"), std::string::npos) << e.what();
  }
  changed = c;
  changed.log_every = 1;  // how a run reports is not its identity
  EXPECT_EQ(run_training(changed, o).status, TrainStatus::completed);
}

TEST_F(TrainRun, NonFiniteLossStopsTheRunAndNamesStepAndTerm) {
  TrainConfig c = tiny(Method::sada);
  c.ckpt_every = 1;
  RunOptions o = quiet(run_ / "nan");
  o.hooks.on_loss = [](const std::string& stage, int64_t step, LossTerms& terms) {
    if (stage == "stage1" && step == 2)
      for (auto& [name, v] : terms)
        if (name == "la") v = std::numeric_limits<double>::quiet_NaN();
  };
  TrainResult r = run_training(c, o);
  ASSERT_EQ(r.status, TrainStatus::diverged);
  EXPECT_NE(r.message.find("stage1 step 3/4: loss term 'la' is nan"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("Last good checkpoint: after stage1 step 2"), std::string::npos) << r.message;
  EXPECT_FALSE(fs::exists(run_ / "nan/final.safetensors"));
  LoadedFile ck = load_checkpoint_file(checkpoint_path(run_ / "nan"));
  EXPECT_EQ(ck.meta("step"), "2");  // steps 0 and 1 done; step 2 never applied
}

TEST_F(TrainRun, FailedCheckpointWriteIsRetriedOnceThenTheRunStopsWithTheLastGoodOne) {
  TrainConfig c = short_erm(3);
  c.ckpt_every = 1;
  int writes = 0;
  set_checkpoint_write_hook([&writes](const std::string& path) {
    if (path.find("ckpt-") != std::string::npos && ++writes >= 2) throw Error("No space left on device (simulated)");
  });
  TrainResult r = run_training(c, quiet(run_ / "full"));
  ASSERT_EQ(r.status, TrainStatus::failed) << r.message;
  ASSERT_EQ(r.checkpoint_errors.size(), 2u);  // the write and its retry
  EXPECT_NE(r.checkpoint_errors[0].find("No space left on device"), std::string::npos);
  EXPECT_NE(r.message.find("after erm step 2 could not be written"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("last good checkpoint is after erm step 1"), std::string::npos) << r.message;
  EXPECT_EQ(load_checkpoint_file(checkpoint_path(run_ / "full")).meta("step"), "1");
  EXPECT_FALSE(fs::exists(run_ / "full/final.safetensors"));  // it did not train on unsaved
  EXPECT_EQ(r.steps_run, 2);
}

TEST_F(TrainRun, ACheckpointThatFailsOnceIsRetriedAndTheRunGoesOn) {
  TrainConfig c = short_erm(3);
  c.ckpt_every = 1;
  int writes = 0;
  set_checkpoint_write_hook([&writes](const std::string& path) {
    if (path.find("ckpt-") != std::string::npos && ++writes == 2) throw Error("No space left on device (simulated)");
  });
  TrainResult r = run_training(c, quiet(run_ / "once"));
  ASSERT_EQ(r.status, TrainStatus::completed) << r.message;
  ASSERT_EQ(r.checkpoint_errors.size(), 1u);
  EXPECT_EQ(load_checkpoint_file(checkpoint_path(run_ / "once")).meta("step"), "3");
  EXPECT_TRUE(fs::exists(run_ / "once/final.safetensors"));
}

TEST_F(TrainRun, SigintFinishesTheStepAndWritesACheckpoint) {
  TrainConfig c = tiny(Method::erm);
  c.steps1 = 4;
  c.steps2 = 0;
  c.swad.enabled = false;
  RunOptions o = quiet(run_ / "int");
  o.handle_signals = true;
  o.hooks.on_step_end = [](const std::string&, int64_t step) {
    if (step == 1) std::raise(SIGINT);  // the handler only sets the flag
  };
  TrainResult r = run_training(c, o);
  ASSERT_EQ(r.status, TrainStatus::interrupted) << r.message;
  EXPECT_EQ(load_checkpoint_file(checkpoint_path(run_ / "int")).meta("step"), "2");
}

TEST_F(TrainRun, EvalNumbersEqualAHandComputation) {
  TrainConfig c = tiny(Method::erm);
  c.steps1 = 2;
  c.steps2 = 0;
  TrainResult r = run_training(c, quiet(run_ / "ev"));
  ASSERT_EQ(r.status, TrainStatus::completed) << r.message;
  EvalReport rep = evaluate_model_file(run_ / "ev/final.safetensors", data_->path(), "synthC", "test", 5);

  // By hand: the test part of synthC under the run's seed, one image at a time.
  data::Dataset ds = data::scan_dataset(data_->path());
  data::SplitOptions so;
  so.seed = c.seed;
  LoadedFile f = load_checkpoint_file(run_ / "ev/final.safetensors");
  Networks net = build_networks(f.config, 5);
  load_network_tensors(net, f.file.tensors, false);
  net.backbone->set_batch_norm_mode(BatchNormMode::eval);
  std::vector<int64_t> truth, pred;
  NoGradGuard ng;
  for (const auto& it : ds.items) {
    if (ds.domains[it.domain] != "synthC" || data::split_part(it.rel, so) != data::Part::test) continue;
    data::Image img = data::resize_bilinear(data::load_image(it.path), 32, 32);
    Tensor logits = net.backbone->forward(data::to_tensor(img).unsqueeze(0)).logits;
    pred.push_back(static_cast<int64_t>(argmax(logits, 1).item()));
    truth.push_back(it.label);
  }
  ASSERT_FALSE(truth.empty());
  EXPECT_EQ(rep.predictions.truth, truth);
  EXPECT_EQ(rep.predictions.predicted, pred);
  // F1 by hand: micro = accuracy; macro over the classes with support.
  int64_t correct = 0;
  for (size_t i = 0; i < truth.size(); ++i) correct += truth[i] == pred[i];
  double macro = 0;
  int present = 0;
  for (int64_t k = 0; k < 5; ++k) {
    int64_t tp = 0, fp = 0, fn = 0;
    for (size_t i = 0; i < truth.size(); ++i) {
      tp += truth[i] == k && pred[i] == k;
      fp += truth[i] != k && pred[i] == k;
      fn += truth[i] == k && pred[i] != k;
    }
    if (tp + fn == 0) continue;
    ++present;
    const double p = tp + fp ? static_cast<double>(tp) / static_cast<double>(tp + fp) : 0.0;
    const double rc = static_cast<double>(tp) / static_cast<double>(tp + fn);
    macro += p + rc > 0 ? 2 * p * rc / (p + rc) : 0.0;
  }
  EXPECT_NEAR(rep.metrics.f1_micro, static_cast<double>(correct) / static_cast<double>(truth.size()), 1e-12);
  EXPECT_NEAR(rep.metrics.f1_macro, macro / present, 1e-12);
  EXPECT_EQ(static_cast<int>(rep.metrics.macro_over.size()), present);

  EXPECT_THROW(evaluate_model_file(run_ / "ev/final.safetensors", data_->path(), "synthZ"), Error);
}
