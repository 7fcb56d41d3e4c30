// What a finished run leaves beside its model (model.json, model_card.md), and fine-tuning from a
// sadanet model (--initial-checkpoint): the classifier kept for the same labels, dropped for others.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "sadanet/io/safetensors.h"
#include "sadanet/train/model_card.h"
#include "train_fixture.h"

namespace sadanet::test {
namespace {

namespace fs = std::filesystem;

std::string slurp(const std::string& path) {
  std::ifstream f(path);
  std::ostringstream os;
  os << f.rdbuf();
  return os.str();
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  auto x = a.to(DType::f64).to_vector<double>(), y = b.to(DType::f64).to_vector<double>();
  EXPECT_EQ(x.size(), y.size());
  double m = 0;
  for (size_t i = 0; i < x.size() && i < y.size(); ++i) m = std::max(m, std::abs(x[i] - y[i]));
  return m;
}

Tensor tensor_named(const io::TensorFile& f, const std::string& name) {
  for (const auto& [n, t] : f.tensors)
    if (n == name) return t;
  ADD_FAILURE() << "no " << name;
  return {};
}

class ModelCard : public TrainRun {};

TEST_F(ModelCard, AFinishedRunDescribesItsModel) {
  TrainConfig c = short_erm(2);
  train::TrainResult r = train::run_training(c, quiet(run_ / "run"));
  ASSERT_EQ(r.status, train::TrainStatus::completed) << r.message;
  const auto j = nlohmann::json::parse(slurp(run_ / "run/model.json"));
  EXPECT_EQ(j["labels"].get<std::vector<std::string>>(), r.classes);
  EXPECT_EQ(j["architecture"], "resnet-tiny");
  EXPECT_EQ(j["input"]["size"], 32);
  EXPECT_EQ(j["input"]["mean"][0], 0.485);
  EXPECT_EQ(j["input"]["std"][2], 0.225);
  EXPECT_EQ(j["training"]["held_out_domain"], "synthC");
  // The sources' training images, by domain and class: the target is not among them.
  int64_t total = 0;
  for (const auto& [domain, per] : j["training"]["train_images"].items()) {
    EXPECT_NE(domain, "synthC");
    for (const auto& [cls, n] : per.items()) total += n.get<int64_t>();
  }
  EXPECT_GT(total, 0);
  EXPECT_TRUE(j["evaluation"].empty());
  const std::string card = slurp(run_ / "run/model_card.md");
  EXPECT_NE(card.find("not a medical device"), std::string::npos);
  for (const auto& cls : r.classes) EXPECT_NE(card.find(cls), std::string::npos) << cls;
  EXPECT_NE(card.find("None recorded"), std::string::npos);

  // The target evaluation, once added, is in both.
  eval::Metrics m = eval::compute_metrics({0, 1, 1, 2}, {0, 1, 0, 2}, r.classes);
  train::add_model_card_evaluation(run_ / "run", "synthC", "all", m);
  const auto j2 = nlohmann::json::parse(slurp(run_ / "run/model.json"));
  ASSERT_EQ(j2["evaluation"].size(), 1u);
  EXPECT_EQ(j2["evaluation"][0]["images"], 4);
  EXPECT_DOUBLE_EQ(j2["evaluation"][0]["f1_micro"].get<double>(), 0.75);
  EXPECT_NE(slurp(run_ / "run/model_card.md").find("F1-micro 75.00%"), std::string::npos);
}

TEST_F(ModelCard, InitialCheckpointKeepsTheClassifierOnlyForTheSameLabels) {
  TrainConfig a = short_erm(3);
  a.lr = 1e-3;
  train::TrainResult ra = train::run_training(a, quiet(run_ / "a"));
  ASSERT_EQ(ra.status, train::TrainStatus::completed) << ra.message;
  const io::TensorFile fa = io::read_safetensors(run_ / "a/final.safetensors");

  // Same labels: one step at a vanishing learning rate leaves A's weights, classifier included.
  TrainConfig b = short_erm(1);
  b.seed = 77;
  b.lr = 1e-12;
  b.weights = run_ / "a/final.safetensors";
  log_.str("");
  train::TrainResult rb = train::run_training(b, quiet(run_ / "b"));
  ASSERT_EQ(rb.status, train::TrainStatus::completed) << rb.message;
  EXPECT_NE(log_.str().find("its classifier is kept"), std::string::npos) << log_.str();
  const io::TensorFile fb = io::read_safetensors(run_ / "b/final.safetensors");
  for (const char* n : {"model.conv1.weight", "model.fc.weight", "model.fc.bias"})
    EXPECT_LT(max_abs_diff(tensor_named(fa, n), tensor_named(fb, n)), 1e-9) << n;

  // The same file claiming other labels: the backbone is kept, the classifier starts afresh.
  io::TensorFile other = io::read_safetensors(run_ / "a/final.safetensors");
  auto classes = nlohmann::json::parse(other.metadata.at("classes")).get<std::vector<std::string>>();
  std::swap(classes[0], classes[1]);
  other.metadata["classes"] = nlohmann::json(classes).dump();
  io::write_safetensors(run_ / "relabelled.safetensors", other.tensors, other.metadata);
  b.weights = run_ / "relabelled.safetensors";
  log_.str("");
  train::TrainResult rc = train::run_training(b, quiet(run_ / "c"));
  ASSERT_EQ(rc.status, train::TrainStatus::completed) << rc.message;
  EXPECT_NE(log_.str().find("its classifier is dropped"), std::string::npos) << log_.str();
  const io::TensorFile fc = io::read_safetensors(run_ / "c/final.safetensors");
  EXPECT_LT(max_abs_diff(tensor_named(fa, "model.conv1.weight"), tensor_named(fc, "model.conv1.weight")), 1e-9);
  EXPECT_GT(max_abs_diff(tensor_named(fa, "model.fc.weight"), tensor_named(fc, "model.fc.weight")), 1e-3);

  // Another architecture: refused, naming both.
  TrainConfig d = short_erm(1);
  d.arch = Arch::resnet50;
  d.weights = run_ / "a/final.safetensors";
  train::TrainResult rd;
  try {
    rd = train::run_training(d, quiet(run_ / "d"));
    FAIL() << "a resnet-tiny model loaded into a resnet50 run: " << rd.message;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("resnet-tiny model does not fit"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace sadanet::test
