// ResNet-50 against torchvision. The model (~100 MB) is not committed: ctest's fixture
// `resnet_golden` runs tools/golden/gen_resnet_golden.py (Debian's python3-torch) into the build
// folder first; where python3-torch is missing these tests skip and say so.
//
// Tolerance: the error of a whole tensor relative to its largest magnitude,
//   max|got - want| / max|want|.
// The reference is PyTorch in f64 on the file's f32 weights. Eval mode is checked in f32: outputs
// within 1e-4. Train mode (batch statistics over a 2x64x64 batch) is checked with the model in f64,
// outputs and running statistics within 1e-9 and every parameter gradient within 1e-8 (the
// issue asks 1e-4 and 1e-3): in f32, train-mode gradients of this random network are ill-conditioned — PyTorch's
// own f32 run differs from its f64 run by up to 0.11 (layer3.5.bn3.bias, measured), so an f32
// comparison would test rounding, not the maths. f32 train-mode logits are checked too.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>

#include "sadanet/io/safetensors.h"
#include "sadanet/io/weights.h"
#include "sadanet/models/resnet.h"

using namespace sadanet;

namespace {

const std::string kDir = SADANET_RESNET_GOLDEN_DIR;
// f64 train mode: far inside the 1e-4 (outputs) and 1e-3 (gradients).
constexpr double kTrainTol = 1e-9, kGradTol = 1e-8;

class ResNetParity : public testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(kDir + "/resnet50_golden.safetensors"))
      GTEST_SKIP() << "no ResNet-50 goldens in " << kDir
                   << ": install python3-torch python3-torchvision and run ctest (fixture resnet_golden)";
    for (auto& [k, v] : io::read_safetensors(kDir + "/resnet50_golden.safetensors").tensors) gold[k] = v;
  }
  double rel_err(const Tensor& got, const std::string& key) {
    EXPECT_TRUE(gold.count(key)) << key;
    auto g = got.to_vector<double>(), w = gold.at(key).to_vector<double>();
    EXPECT_EQ(got.shape(), gold.at(key).shape()) << key;
    double err = 0, scale = 0;
    for (size_t i = 0; i < g.size() && i < w.size(); ++i) {
      err = std::max(err, std::abs(g[i] - w[i]));
      scale = std::max(scale, std::abs(w[i]));
    }
    return scale > 0 ? err / scale : err;
  }
  std::shared_ptr<models::ResNet> load(const std::string& file) {
    auto m = models::resnet50(gold.at("eval.logits").size(1), /*seed=*/99);
    auto report = m->load_state_dict(io::load_weights(kDir + "/" + file).tensors, /*strict=*/true);
    EXPECT_TRUE(report.ok()) << report.str();
    return m;
  }
  std::map<std::string, Tensor> gold;
};

TEST_F(ResNetParity, ZipAndLegacyFilesLoadTheSameWeights) {
  auto a = io::load_weights(kDir + "/resnet50_zip.pth").tensors;
  auto b = io::load_weights(kDir + "/resnet50_legacy.pth").tensors;  // nested, 'module.' prefix
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(a.size(), 320u);  // torchvision state_dict: 161 parameters + 53 BNs x 3 buffers
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].first, b[i].first);
    EXPECT_EQ(a[i].second.to_vector<double>(), b[i].second.to_vector<double>()) << a[i].first;
  }
}

TEST_F(ResNetParity, EvalModeMatchesTorchvision) {
  auto m = load("resnet50_zip.pth");
  m->eval();
  NoGradGuard ng;
  auto out = m->forward(gold.at("input").to(DType::f32));
  EXPECT_LT(rel_err(out.logits, "eval.logits"), 1e-4);
  EXPECT_LT(rel_err(out.pooled, "eval.pooled"), 1e-4);
  EXPECT_LT(rel_err(out.feature_map, "eval.feature_map"), 1e-4);
}

TEST_F(ResNetParity, TrainModeLogitsMatchInF32) {
  auto m = load("resnet50_zip.pth");
  m->train();
  NoGradGuard ng;
  EXPECT_LT(rel_err(m->forward(gold.at("input").to(DType::f32)).logits, "train.logits"), 1e-4);
}

TEST_F(ResNetParity, TrainModeOutputsStatisticsAndGradientsMatchTorchvision) {
  auto m = load("resnet50_legacy.pth");
  m->to(DType::f64);
  m->train();
  auto out = m->forward(gold.at("input").to(DType::f64));
  EXPECT_LT(rel_err(out.logits, "train.logits"), kTrainTol);
  EXPECT_LT(rel_err(out.pooled, "train.pooled"), kTrainTol);
  EXPECT_LT(rel_err(out.feature_map, "train.feature_map"), kTrainTol);
  out.logits.backward(gold.at("train.grad_output").to(DType::f64));
  int checked = 0;
  for (auto& [name, t] : m->state_dict()) {
    if (name.find("running") != std::string::npos || name.find("num_batches") != std::string::npos) {
      EXPECT_LT(rel_err(t, "train.after." + name), kTrainTol) << name;
      ++checked;
    }
  }
  for (auto& [name, p] : m->named_parameters()) {
    ASSERT_TRUE(p.grad().defined()) << name;
    EXPECT_LT(rel_err(p.grad(), "grad." + name), kGradTol) << name;
    ++checked;
  }
  EXPECT_EQ(checked, 320);
}

}  // namespace
