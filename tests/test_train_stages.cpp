// How SADA's two stages hand over (issue "SADA must beat ERM where the paper says it does"): one
// Adam state across both stages unless told otherwise, k from the number of source domains,
// SWAD's average shipped only when it spans a stated share of the stage, and old checkpoints
// refused with a reason.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <regex>
#include <string>

#include "sadanet/io/safetensors.h"
#include "sadanet/train/model.h"
#include "train_fixture.h"

using namespace sadanet;
using namespace sadanet::train;
using sadanet::test::TrainRun;
namespace fs = std::filesystem;

namespace {

// The Adam step count the checkpoint holds for backbone parameter `name`.
int64_t adam_steps(const std::string& ckpt, const TrainConfig& cfg, const std::string& name) {
  Networks net = build_networks(cfg, 5);
  size_t index = 0;
  for (const auto& [n, t] : net.backbone->named_parameters()) {
    if (n == name) break;
    ++index;
  }
  const std::string key = "optim.state.0." + std::to_string(index) + ".step";
  for (const auto& [n, t] : io::read_safetensors(ckpt).tensors)
    if (n == key) return static_cast<int64_t>(t.item());
  return -1;  // no state: the parameter never had a gradient
}

bool same_tensors(const std::string& a, const std::string& b) {
  auto x = io::read_safetensors(a).tensors, y = io::read_safetensors(b).tensors;
  if (x.size() != y.size()) return false;
  for (size_t i = 0; i < x.size(); ++i) {
    Tensor p = x[i].second.contiguous(), q = y[i].second.contiguous();
    if (x[i].first != y[i].first || p.nbytes() != q.nbytes() ||
        std::memcmp(p.raw_data(), q.raw_data(), p.nbytes()) != 0)
      return false;
  }
  return true;
}

}  // namespace

class TrainStages : public TrainRun {};

TEST_F(TrainStages, StageTwoContinuesStageOnesAdamStateUnlessFreshIsAsked) {
  TrainConfig c = tiny(Method::sada);
  c.steps1 = 3;
  c.steps2 = 2;
  c.stage2 = Stage2::full;
  c.swad.enabled = false;
  ASSERT_EQ(run_training(c, quiet(run_ / "carry")).status, TrainStatus::completed) << log_.str();
  const std::string ck = checkpoint_path(run_ / "carry");
  EXPECT_EQ(adam_steps(ck, c, "conv1.weight"), 5);  // 3 in stage 1, 2 in stage 2: one state
  EXPECT_EQ(adam_steps(ck, c, "fc.weight"), 2);     // not in stage 1's loss: untouched there

  c.stage2_fresh_optimizer = true;
  ASSERT_EQ(run_training(c, quiet(run_ / "fresh")).status, TrainStatus::completed);
  EXPECT_EQ(adam_steps(checkpoint_path(run_ / "fresh"), c, "conv1.weight"), 2);

  // Stage 2 "classifier": the frozen backbone keeps stage 1's state and weights.
  c.stage2 = Stage2::classifier;
  c.stage2_fresh_optimizer = false;
  ASSERT_EQ(run_training(c, quiet(run_ / "cls")).status, TrainStatus::completed);
  EXPECT_EQ(adam_steps(checkpoint_path(run_ / "cls"), c, "conv1.weight"), 3);
  EXPECT_EQ(adam_steps(checkpoint_path(run_ / "cls"), c, "fc.weight"), 2);
}

TEST_F(TrainStages, KAutoIsTheNumberOfSourceDomains) {
  TrainConfig c = tiny(Method::sada);
  c.k = 0;
  c.steps1 = 1;
  c.steps2 = 1;
  c.swad.enabled = false;
  ASSERT_EQ(run_training(c, quiet(run_ / "k")).status, TrainStatus::completed);
  EXPECT_NE(log_.str().find("stain clusters: k = 2 (auto: one per source domain)"), std::string::npos) << log_.str();
  c.k = 1;
  EXPECT_THROW(c.validate(), Error);
}

TEST_F(TrainStages, TheSwadAverageIsShippedOnlyWhenItSpansTheMinimumShare) {
  TrainConfig c = tiny(Method::erm);
  c.steps1 = 10;
  c.steps2 = 0;
  c.swad.eval_every = 1;
  c.swad.early_stop = false;
  c.swad.min_share = 0;
  TrainResult a = run_training(c, quiet(run_ / "a"));
  ASSERT_EQ(a.status, TrainStatus::completed) << a.message;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(a.swad_note, m, std::regex("steps (\\d+)-(\\d+)"))) << a.swad_note;
  const int64_t span = std::stoll(m[2]) - std::stoll(m[1]) + 1;
  ASSERT_GT(span, 0);
  ASSERT_LT(span, 10) << "the averaged range covers the whole stage; the test needs a shorter one: " << a.swad_note;
  EXPECT_FALSE(same_tensors(run_ / "a/final.safetensors", run_ / "a/last.safetensors"));

  // The same run (bit-exact) with the share just above the span: the last model is shipped.
  c.swad.min_share = (static_cast<double>(span) + 0.5) / 10.0;
  TrainResult b = run_training(c, quiet(run_ / "b"));
  ASSERT_EQ(b.status, TrainStatus::completed) << b.message;
  EXPECT_NE(b.swad_note.find("minimum (--swad-min-share): final.safetensors = the last model"), std::string::npos)
      << b.swad_note;
  EXPECT_TRUE(same_tensors(run_ / "b/final.safetensors", run_ / "b/last.safetensors"));
  // And at exactly the span, the average again.
  c.swad.min_share = static_cast<double>(span) / 10.0;
  TrainResult d = run_training(c, quiet(run_ / "d"));
  EXPECT_EQ(d.swad_note.find("the last model"), std::string::npos) << d.swad_note;
}

TEST_F(TrainStages, AVersionOneCheckpointIsRefusedWithTheReason) {
  TrainConfig c = tiny(Method::erm);
  c.steps1 = 2;
  c.steps2 = 0;
  RunOptions o = quiet(run_ / "v1");
  o.hooks.on_step_end = [](const std::string&, int64_t) { request_stop(); };
  ASSERT_EQ(run_training(c, o).status, TrainStatus::interrupted);
  const std::string ck = checkpoint_path(run_ / "v1");
  io::TensorFile f = io::read_safetensors(ck);
  f.metadata["version"] = "1";
  f.metadata.erase("sadanet.xxh3");  // if the writer adds a checksum, the doctored file must not fail it
  io::write_safetensors(ck, f.tensors, f.metadata);
  o.hooks = {};
  o.resume = true;
  try {
    run_training(c, o);
    FAIL() << "expected the old checkpoint to be refused";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("one optimizer per stage; it cannot be resumed"), std::string::npos) << e.what();
  }
}
