// Exports checked outside sadanet. A tiny model trained for a few steps (TrainRun's synthetic
// data) and a random ResNet-50 with random batch-norm statistics are exported, then run
//   OnnxExport.*         in ONNX Runtime (tests/export/ort_run.py, in the virtual environment the
//                        ctest fixture onnx_venv makes: SADANET_ONNX_PYTHON names its python)
//   TorchvisionExport.*  in torchvision, loaded with torch.load(weights_only=True) and
//                        load_state_dict(strict=True) (tests/export/torch_run.py under Debian's
//                        /usr/bin/python3; skipped with the reason where torch does not import)
// on synthetic cell images written as PNG and JPEG files, decoded and preprocessed by
// train::preprocess_image, fresh each run (SADANET_TEST_SEED replays one). Their logits must match
// sadanet's within 1e-4 by the metric max_i |other_i - sadanet_i| / max_i |sadanet_i| over the
// whole [N, C] batch (a difference relative to the logits' scale, so that logits near zero do
// not count as large errors).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>

#include <nlohmann/json.hpp>

#include "data_fixtures.h"
#include "image_encoders.h"
#include "sadanet/data/dataset.h"
#include "sadanet/export/model_export.h"
#include "sadanet/io/pth.h"
#include "sadanet/io/safetensors.h"
#include "sadanet/models/resnet.h"
#include "sadanet/ops.h"
#include "sadanet/random.h"
#include "sadanet/train/model.h"
#include "sadanet/train/model_file.h"
#include "train_fixture.h"
#if SADANET_WITH_ONNX
#include "sadanet/export/onnx.h"
#endif

using namespace sadanet;

namespace {

constexpr double kTolerance = 1e-4;
const std::string kScripts = std::string(SADANET_TEST_DATA_DIR) + "/export/";

std::string shell_quote(const std::string& s) { return "'" + s + "'"; }

// Runs `cmd` with stderr joined to stdout; returns the exit status (-1 when it did not exit).
int run_command(const std::string& cmd, std::string& output) {
  output.clear();
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return -1;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) output.append(buf, n);
  const int st = pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

void write_f32(const std::string& path, const Tensor& t) {
  const std::vector<float> v = t.to_vector<float>();
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(float)));
  ASSERT_TRUE(f.good()) << path;
}
std::vector<float> read_f32(const std::string& path, size_t count) {
  const std::string bytes = test::read_file(path);
  EXPECT_EQ(bytes.size(), count * sizeof(float)) << path;
  std::vector<float> v(bytes.size() / sizeof(float));
  std::memcpy(v.data(), bytes.data(), v.size() * sizeof(float));
  return v;
}

// max_i |got_i - want_i| / max_i |want_i|; infinite when a value is NaN or infinite (which
// std::max would otherwise pass over, as every comparison with NaN is false).
double max_relative(const std::vector<float>& got, const std::vector<float>& want) {
  EXPECT_EQ(got.size(), want.size());
  double diff = 0, scale = 0;
  for (size_t i = 0; i < std::min(got.size(), want.size()); ++i) {
    if (!std::isfinite(got[i]) || !std::isfinite(want[i])) return INFINITY;
    diff = std::max(diff, std::abs(static_cast<double>(got[i]) - want[i]));
    scale = std::max(scale, std::abs(static_cast<double>(want[i])));
  }
  EXPECT_GT(scale, 0) << "sadanet's logits are all zero: nothing is compared";
  return diff / scale;
}
double max_magnitude(const Tensor& t) {
  double m = 0;
  for (float v : t.to_vector<float>()) m = std::max(m, std::abs(static_cast<double>(v)));
  return m;
}
double max_abs(const std::vector<float>& a, const std::vector<float>& b) {
  double d = 0;
  EXPECT_EQ(a.size(), b.size());
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    if (!std::isfinite(a[i]) || !std::isfinite(b[i])) return INFINITY;
    d = std::max(d, std::abs(static_cast<double>(a[i]) - b[i]));
  }
  return d;
}

// Synthetic cells of several sizes (one of them already S x S), alternately saved as PNG and
// JPEG files, decoded from those files and preprocessed as the model expects: [n, 3, S, S].
Tensor cell_images(const std::string& dir, const train::Preprocess& p, uint64_t seed, int n = 4) {
  std::mt19937_64 rng(seed);
  const int sizes[] = {40, p.size, 72, 100, 57};
  std::vector<Tensor> xs;
  for (int i = 0; i < n; ++i) {
    const data::SynthDomain dom = data::synth_domain(static_cast<int>(rng() % 4), rng());
    const data::Image img = data::synth_cell(dom, static_cast<int>(rng() % 5), sizes[i % 5], rng());
    const std::string path = dir + "/cell" + std::to_string(i) + (i % 2 ? ".jpg" : ".png");
    if (i % 2) {
      const std::vector<uint8_t> jpeg = test::encode_jpeg(img);
      test::write_file(path, std::string(jpeg.begin(), jpeg.end()));
    } else {
      data::save_png(path, img);
    }
    xs.push_back(train::preprocess_image(data::load_image(path), p));
  }
  return stack(xs, 0);
}

Tensor sadanet_logits(const train::InferenceModel& m, const Tensor& x) {
  NoGradGuard ng;
  return m.net->forward(x).logits.contiguous();
}

// A ResNet-50 with torchvision's names, random weights and random batch-norm affine parameters
// and running statistics (torchvision's init leaves them 1, 0, 0, 1, which would hide a swapped
// mean and variance), written as safetensors: load_inference_model reads it as a torchvision file.
std::string random_resnet50_file(const std::string& dir, int64_t classes, uint64_t seed) {
  auto net = models::resnet50(classes, seed);
  Generator gen(seed + 1);
  {
    NoGradGuard ng;
    for (auto& bn : train::batch_norms(*net)) {
      uniform_(bn->weight, 0.5, 1.5, &gen);
      normal_(bn->bias, 0.0, 0.1, &gen);
      normal_(bn->running_mean, 0.0, 0.1, &gen);
      uniform_(bn->running_var, 0.5, 2.0, &gen);
    }
  }
  const std::string path = dir + "/random-resnet50.safetensors";
  io::write_safetensors(path, net->state_dict());
  return path;
}

// TrainRun's tiny ERM run for a few steps, at 48 px so that every test image is resized but one.
class ExportRun : public test::TrainRun {
 protected:
  std::string trained_tiny_model() {
    train::TrainConfig c = short_erm(3);
    c.size = 48;
    train::TrainResult r = train::run_training(c, quiet(run_ / "run"));
    EXPECT_EQ(r.status, train::TrainStatus::completed) << r.message << log_.str();
    return run_ / "run/final.safetensors";
  }
  test::ScratchDir work_;
};

// ---- ONNX Runtime -----------------------------------------------------------------------------

class OnnxExport : public ExportRun {
 protected:
  void SetUp() override {
#if !SADANET_WITH_ONNX
    GTEST_SKIP() << "this build has no ONNX export (libonnx-dev and libprotobuf-dev were not found)";
#else
    const char* py = std::getenv("SADANET_ONNX_PYTHON");
    if (!py || !*py)
      GTEST_SKIP() << "SADANET_ONNX_PYTHON is not set: run through ctest, whose fixture onnx_venv installs "
                      "onnxruntime into build/onnx-venv";
    python_ = py;
#endif
  }

  void check_in_onnxruntime(const std::string& model_path, const char* what) {
#if SADANET_WITH_ONNX
    const uint64_t seed = test::fresh_seed(what);
    train::InferenceModel m = train::load_inference_model(model_path);
    const Tensor x = cell_images(work_.path(), m.info.preprocess, seed);
    const int64_t n = x.size(0), c = m.net->num_classes(), s = m.info.preprocess.size;
    const Tensor want = sadanet_logits(m, x);
    const std::string onnx = work_ / "model.onnx", in = work_ / "input.f32";
    exporter::write_onnx(m, onnx);
    write_f32(in, x);

    std::string out;
    const int rc = run_command(shell_quote(python_) + " " + shell_quote(kScripts + "ort_run.py") + " " + shell_quote(onnx) + " " +
                                   shell_quote(in) + " " + std::to_string(n) + " " + shell_quote(work_.path()),
                               out);
    ASSERT_EQ(rc, 0) << out;
    std::cout << out;
    const std::vector<float> ref = want.to_vector<float>();
    const double rel = max_relative(read_f32(work_ / "logits.f32", n * c), ref);
    const double rel1 = max_relative(read_f32(work_ / "logits1.f32", c), std::vector<float>(ref.begin(), ref.begin() + c));
    const double prob = max_abs(read_f32(work_ / "probabilities.f32", n * c), softmax(want, 1).to_vector<float>());
    std::cout << "[ measured ] " << what << ": logits max|ort - sadanet| / max|sadanet| = " << rel << " over [" << n
              << ", " << c << "] (max|sadanet| " << max_magnitude(want) << "); first image alone " << rel1
              << "; probabilities max abs difference " << prob << "\n";
    RecordProperty("max_relative_logits", std::to_string(rel));
    EXPECT_LE(rel, kTolerance);
    EXPECT_LE(rel1, kTolerance);
    EXPECT_LE(prob, kTolerance);

    // The metadata, input and outputs as ONNX Runtime reads them.
    const auto info = nlohmann::json::parse(test::read_file(work_ / "info.json"));
    EXPECT_EQ(info["producer"], "sadanet");
    const std::map<std::string, std::string> meta = info["metadata"];
    EXPECT_EQ(meta, exporter::model_metadata(m));
    EXPECT_EQ(nlohmann::json::parse(meta.at("classes")).get<std::vector<std::string>>(), m.info.classes);
    EXPECT_EQ(std::stoi(meta.at("input_size")), s);
    const auto mean = nlohmann::json::parse(meta.at("mean")).get<std::vector<float>>();
    const auto stdev = nlohmann::json::parse(meta.at("std")).get<std::vector<float>>();
    for (int i = 0; i < 3; ++i) {
      EXPECT_EQ(mean.at(i), m.info.preprocess.mean[i]);
      EXPECT_EQ(stdev.at(i), m.info.preprocess.std[i]);
    }
    EXPECT_EQ(meta.at("arch"), train::arch_name(m.info.arch));
    EXPECT_EQ(meta.at("source"), std::filesystem::path(model_path).filename().string());
    EXPECT_EQ(info["inputs"][0]["name"], "input");
    EXPECT_EQ(info["inputs"][0]["shape"], nlohmann::json::parse("[\"N\", 3, " + std::to_string(s) + ", " +
                                                                std::to_string(s) + "]"));
    const auto out_shape = nlohmann::json::parse("[\"N\", " + std::to_string(c) + "]");
    ASSERT_EQ(info["outputs"].size(), 2u);
    EXPECT_EQ(info["outputs"][0]["name"], "logits");
    EXPECT_EQ(info["outputs"][0]["shape"], out_shape);
    EXPECT_EQ(info["outputs"][1]["name"], "probabilities");
    EXPECT_EQ(info["outputs"][1]["shape"], out_shape);
#endif
  }
  std::string python_;
};

TEST_F(OnnxExport, TrainedTinyModelMatchesSadanetInOnnxRuntime) {
  const std::string model = trained_tiny_model();
  check_in_onnxruntime(model, "tiny model images");
}

TEST_F(OnnxExport, RandomResNet50MatchesSadanetInOnnxRuntime) {
  const std::string model = random_resnet50_file(work_.path(), 7, test::fresh_seed("resnet50 weights"));
  check_in_onnxruntime(model, "resnet50 images");
}

// ---- torchvision ------------------------------------------------------------------------------

class TorchvisionExport : public ExportRun {
 protected:
  void check_in_torchvision(const std::string& model_path, const char* depths, const char* what) {
    const uint64_t seed = test::fresh_seed(what);
    train::InferenceModel m = train::load_inference_model(model_path);
    const Tensor x = cell_images(work_.path(), m.info.preprocess, seed);
    const int64_t n = x.size(0), c = m.net->num_classes(), s = m.info.preprocess.size;
    const Tensor want = sadanet_logits(m, x);
    const std::string pth = work_ / "model.pth", in = work_ / "input.f32";
    exporter::write_torchvision(m, pth);
    write_f32(in, x);

    std::string out;
    const int rc = run_command("/usr/bin/python3 " + shell_quote(kScripts + "torch_run.py") + " " + shell_quote(pth) + " " +
                                   depths + " " + std::to_string(c) + " " + shell_quote(in) + " " + std::to_string(n) +
                                   " " + std::to_string(s) + " " + shell_quote(work_.path()),
                               out);
    if (rc == 77 || !std::filesystem::exists("/usr/bin/python3")) GTEST_SKIP() << out;
    ASSERT_EQ(rc, 0) << out;
    std::cout << out;
    const double rel = max_relative(read_f32(work_ / "logits.f32", n * c), want.to_vector<float>());
    std::cout << "[ measured ] " << what << ": logits max|torchvision - sadanet| / max|sadanet| = " << rel << " over ["
              << n << ", " << c << "] (max|sadanet| " << max_magnitude(want) << ")\n";
    RecordProperty("max_relative_logits", std::to_string(rel));
    EXPECT_LE(rel, kTolerance);

    const auto desc = nlohmann::json::parse(test::read_file(work_ / "sadanet.json"));
    EXPECT_EQ(desc["classes"].get<std::vector<std::string>>(), m.info.classes);
    EXPECT_EQ(desc["input_size"], std::to_string(s));
    EXPECT_EQ(desc["torchvision"], exporter::torchvision_constructor(m));
  }
};

TEST_F(TorchvisionExport, TrainedTinyModelLoadsStrictlyAndMatches) {
  const std::string model = trained_tiny_model();
  check_in_torchvision(model, "1,1,1,1", "tiny model images");
}

TEST_F(TorchvisionExport, RandomResNet50LoadsStrictlyIntoResnet50AndMatches) {
  const std::string model = random_resnet50_file(work_.path(), 7, test::fresh_seed("resnet50 weights"));
  check_in_torchvision(model, "3,4,6,3", "resnet50 images");
  EXPECT_EQ(exporter::torchvision_constructor(train::load_inference_model(model)),
            "torchvision.models.resnet50(num_classes=7)");
}

}  // namespace
