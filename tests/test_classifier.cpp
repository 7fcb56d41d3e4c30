// sadanet::Classifier (classifier.h) on the models users have: a run's final.safetensors and
// checkpoint, and a torchvision ResNet-50 file; its answers against `sadanet eval`'s path, over
// files, RGB buffers and a batch with bad files in it, from two threads.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "image_encoders.h"
#include "sadanet/autograd.h"
#include "sadanet/classifier.h"
#include "sadanet/data/dataset.h"
#include "sadanet/data/loader.h"
#include "sadanet/io/safetensors.h"
#include "sadanet/models/resnet.h"
#include "sadanet/ops.h"
#include "sadanet/train/evaluate.h"
#include "sadanet/train/model_file.h"
#include "train_fixture.h"

namespace sadanet::test {
namespace {

namespace fs = std::filesystem;

void write_bytes(const std::string& path, const std::vector<uint8_t>& b) {
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

class ClassifierRun : public TrainRun {
 protected:
  // One short ERM run, shared by the tests of this suite.
  const std::string& model() {
    if (model_.empty()) {
      static ScratchDir* dir = new ScratchDir();  // lives for the process: the suite reuses it
      TrainConfig c = short_erm(3);
      train::TrainResult r = train::run_training(c, quiet(*dir / "run"));
      EXPECT_EQ(r.status, train::TrainStatus::completed) << r.message;
      model_ = *dir / "run/final.safetensors";
    }
    return model_;
  }
  std::vector<std::string> target_images() {
    std::vector<std::string> out;
    for (const auto& e : fs::recursive_directory_iterator(data_->path() + "/synthC"))
      if (e.is_regular_file()) out.push_back(e.path().string());
    std::sort(out.begin(), out.end());
    return out;
  }
  static std::string model_;
};
std::string ClassifierRun::model_;

TEST_F(ClassifierRun, ClassifierTakesTheRunsClassesSizeAndArchitectureAndAgreesWithEval) {
  const Classifier clf = Classifier::load(model());
  EXPECT_EQ(clf.classes(), data::default_classes());
  EXPECT_EQ(clf.input_size(), 32);
  EXPECT_EQ(clf.architecture(), "resnet-tiny");
  EXPECT_EQ(clf.model_format(), "sadanet-model");
  EXPECT_EQ(clf.device(), "cpu");

  // The same images through `sadanet eval`'s loader and model: the same class for each.
  train::EvalReport r = train::evaluate_model_file(model(), data_->path(), "synthC", "all", 8, "cpu", 1);
  data::ScanOptions so;
  data::Dataset ds = data::scan_dataset(data_->path(), so);
  std::vector<std::string> paths;
  for (const auto& it : ds.items)
    if (it.domain == ds.domain_index("synthC")) paths.push_back(data_->path() + "/" + it.rel);
  ASSERT_EQ(paths.size(), r.predictions.predicted.size());
  for (size_t i = 0; i < paths.size(); ++i) {
    const Prediction p = clf.predict(paths[i]);
    EXPECT_EQ(p.index, r.predictions.predicted[i]) << paths[i];
    EXPECT_EQ(p.label, clf.classes()[static_cast<size_t>(p.index)]);
    double sum = 0;
    for (float q : p.probabilities) sum += q;
    EXPECT_NEAR(sum, 1.0, 1e-5);
    EXPECT_EQ(p.probability, p.probabilities[static_cast<size_t>(p.index)]);
    const auto top = p.top(3);
    ASSERT_EQ(top.size(), 3u);
    EXPECT_EQ(top[0].index, p.index);
    EXPECT_GE(top[0].probability, top[1].probability);
    EXPECT_GE(top[1].probability, top[2].probability);
    EXPECT_EQ(p.top(100).size(), clf.classes().size());
  }
}

// Images of other sizes than the model's (non-square, JPEG and PNG): resized as eval resizes.
TEST_F(ClassifierRun, ClassifierResizesAsEvalDoes) {
  const Classifier clf = Classifier::load(model());
  ScratchDir root;
  std::mt19937 rng(std::random_device{}());
  std::vector<std::string> paths;
  for (size_t c = 0; c < clf.classes().size(); ++c) {
    fs::create_directories(root / ("lab/" + clf.classes()[c]));
    for (int i = 0; i < 2; ++i) {
      data::Image img = test_picture(40 + static_cast<int>(rng() % 60), 40 + static_cast<int>(rng() % 60));
      const std::string name = "lab/" + clf.classes()[c] + "/" + std::to_string(i) + (i ? ".jpg" : ".png");
      write_bytes(root / name, i ? encode_jpeg(img) : encode_png(img, 2));
      paths.push_back(name);
    }
  }
  train::EvalReport r = train::evaluate_model_file(model(), root.path(), "lab", "all", 4, "cpu", 1);
  data::Dataset ds = data::scan_dataset(root.path(), data::ScanOptions{});
  ASSERT_EQ(ds.items.size(), r.predictions.predicted.size());
  for (size_t i = 0; i < ds.items.size(); ++i)
    EXPECT_EQ(clf.predict(root / ds.items[i].rel).index, r.predictions.predicted[i]) << ds.items[i].rel;
  // A briefly trained model may give most images one class; the inputs themselves must match
  // eval's loader bit for bit.
  auto loader = train::make_eval_loader(ds.items, clf.input_size(), 64, 1, false);
  Tensor want = data::normalize_images(loader->next()->images);
  const train::InferenceModel m = train::load_inference_model(model());
  for (size_t i = 0; i < ds.items.size(); ++i) {
    data::DecodeOptions d;
    d.hint_height = d.hint_width = clf.input_size();
    Tensor got = train::preprocess_image(data::load_image(root / ds.items[i].rel, d), m.info.preprocess);
    EXPECT_EQ(got.to_vector<float>(), want.select(0, static_cast<int64_t>(i)).contiguous().to_vector<float>())
        << ds.items[i].rel;
  }
}

TEST_F(ClassifierRun, ClassifierOnRgbPixelsWithAStrideEqualsThePngFileOfThem) {
  const Classifier clf = Classifier::load(model());
  std::mt19937 rng(std::random_device{}());
  const int w = 37 + static_cast<int>(rng() % 20), h = 29 + static_cast<int>(rng() % 20);
  data::Image img = test_picture(h, w);
  ScratchDir dir;
  write_bytes(dir / "cell.png", encode_png(img, /*color_type=*/2));
  const size_t stride = static_cast<size_t>(w) * 3 + 5;
  std::vector<uint8_t> padded(stride * h);
  for (auto& b : padded) b = static_cast<uint8_t>(rng());  // the padding must not be read
  for (int y = 0; y < h; ++y) std::copy_n(img.at(y, 0), w * 3, padded.data() + y * stride);
  const Prediction a = clf.predict(dir / "cell.png");
  const Prediction b = clf.predict_rgb(padded.data(), w, h, stride);
  EXPECT_EQ(a.logits, b.logits);
  EXPECT_THROW(clf.predict_rgb(padded.data(), w, h, static_cast<size_t>(w) * 3 - 1), Error);
  EXPECT_THROW(clf.predict_rgb(nullptr, w, h), Error);
  EXPECT_THROW(clf.predict_rgb(padded.data(), 0, h), Error);
}

TEST_F(ClassifierRun, ClassifierBatchCarriesOnPastBadFilesInOrder) {
  const Classifier clf = Classifier::load(model());
  ScratchDir dir;
  std::ofstream(dir / "notes.png") << "not an image";
  fs::create_directories(dir / "folder.jpg");
  const auto imgs = target_images();
  const std::vector<std::string> paths{imgs[0], dir / "notes.png", dir / "missing.jpg", dir / "folder.jpg", imgs[1]};
  const auto rs = clf.predict_files(paths);
  ASSERT_EQ(rs.size(), paths.size());
  for (size_t i = 0; i < rs.size(); ++i) EXPECT_EQ(rs[i].path, paths[i]);
  EXPECT_TRUE(rs[0].ok);
  EXPECT_TRUE(rs[4].ok);
  for (size_t i : {1, 2, 3}) {
    EXPECT_FALSE(rs[i].ok) << paths[i];
    EXPECT_NE(rs[i].error.find(paths[i]), std::string::npos) << rs[i].error;  // names the file
  }
  // A batch gives each image what it gets alone (batch norm in eval mode: no cross-talk), to
  // float rounding of the batched GEMM.
  for (size_t i : {0, 4}) {
    const Prediction alone = clf.predict(paths[i]);
    EXPECT_EQ(rs[i].prediction.index, alone.index);
    for (size_t c = 0; c < alone.logits.size(); ++c)
      EXPECT_NEAR(rs[i].prediction.logits[c], alone.logits[c], 1e-4 * (1 + std::abs(alone.logits[c])));
  }
}

TEST_F(ClassifierRun, ClassifierFromTwoThreadsGivesWhatOneGives) {
  const Classifier clf = Classifier::load(model());
  const auto imgs = target_images();
  std::vector<std::vector<float>> want;
  for (const auto& p : imgs) want.push_back(clf.predict(p).logits);
  std::vector<int> mismatches(2, 0);
  auto work = [&](int t) {
    Classifier mine = clf;  // copies share the network
    for (int round = 0; round < 3; ++round)
      for (size_t i = 0; i < imgs.size(); ++i)
        if (mine.predict(imgs[i]).logits != want[i]) ++mismatches[t];
  };
  std::thread a(work, 0), b(work, 1);
  a.join();
  b.join();
  EXPECT_EQ(mismatches[0] + mismatches[1], 0);
}

TEST_F(ClassifierRun, ClassifierLoadsACheckpointAndSaysWhatIsWrongWithOtherFiles) {
  const fs::path run = fs::path(model()).parent_path();
  const Classifier ck = Classifier::load((run / "ckpt-latest.safetensors").string());
  EXPECT_EQ(ck.model_format(), "sadanet-checkpoint");
  EXPECT_EQ(ck.classes(), data::default_classes());

  ScratchDir dir;
  // A run's tensors without sadanet's metadata (e.g. re-saved by another tool).
  io::TensorFile f = io::read_safetensors(model());
  io::write_safetensors(dir / "stripped.safetensors", f.tensors, {});
  try {
    Classifier::load(dir / "stripped.safetensors");
    ADD_FAILURE() << "loaded a file without metadata";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no sadanet metadata"), std::string::npos) << e.what();
  }
  std::ofstream(dir / "cell.jpg") << "\xff\xd8\xff not really";
  EXPECT_THROW(Classifier::load(dir / "cell.jpg"), Error);
  EXPECT_THROW(Classifier::load(dir / "missing.safetensors"), Error);
  ClassifierOptions gpu;
  gpu.device = "gpu";
  EXPECT_THROW(Classifier::load(model(), gpu), Error);
}

// A torchvision ResNet-50 state dict (no sadanet metadata): 224 px, ImageNet normalisation,
// classes named by index, and exactly the network's own logits.
TEST(Classifier, ClassifierReadsATorchvisionResNet50File) {
  const uint64_t seed = std::random_device{}();
  auto net = models::resnet50(7, seed);
  net->eval();
  ScratchDir dir;
  io::write_safetensors(dir / "resnet50.safetensors", net->state_dict(), {});
  const Classifier clf = Classifier::load(dir / "resnet50.safetensors");
  EXPECT_EQ(clf.model_format(), "torchvision");
  EXPECT_EQ(clf.input_size(), 224);
  EXPECT_EQ(clf.classes(), (std::vector<std::string>{"0", "1", "2", "3", "4", "5", "6"}));
  data::Image img = test_picture(64, 80);
  write_bytes(dir / "cell.bmp", encode_bmp_bytes(img));
  const Prediction p = clf.predict(dir / "cell.bmp");
  train::Preprocess pre;
  NoGradGuard ng;
  Tensor want = net->forward(train::preprocess_image(img, pre).unsqueeze(0)).logits.squeeze(0);
  EXPECT_EQ(p.logits, want.to_vector<float>()) << "seed " << seed;

  // Without its classifier the file cannot say how many classes there are.
  nn::NamedTensors no_fc;
  for (const auto& [name, t] : net->state_dict())
    if (name.rfind("fc.", 0) != 0) no_fc.emplace_back(name, t);
  io::write_safetensors(dir / "backbone.safetensors", no_fc, {});
  try {
    Classifier::load(dir / "backbone.safetensors");
    ADD_FAILURE() << "loaded a backbone without fc";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no fc.weight"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace sadanet::test
