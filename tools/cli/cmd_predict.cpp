// `sadanet predict --weights W [--num-classes N] [--no-resize] [--json] IMAGE...`: top-5 classes
// of a ResNet-50 for each image (JPEG, PNG, BMP), resized to 224x224 and ImageNet-normalised.
#include <algorithm>
#include <iostream>
#include <numeric>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "sadanet/runtime.h"
#include "sadanet/data/image.h"
#include "sadanet/io/weights.h"
#include "sadanet/models/resnet.h"
#include "sadanet/train/model.h"

namespace sadanet::cli {
namespace {

struct PredictArgs {
  std::string weights, device = "cpu";
  int64_t num_classes = 0;
  int64_t max_pixels = data::kDefaultMaxPixels;
  bool no_resize = false, json = false;
  std::vector<std::string> images;
};

int64_t classes_in(const std::string& path) {
  for (auto& [name, t] : io::load_weights(path).tensors) {
    if (name != "fc.weight" || t.dim() != 2) continue;
    // An fc.weight of shape [N, 0] holds no bytes whatever N: the file cannot size the model alone.
    SADANET_CHECK(t.size(0) >= 1 && t.size(0) <= 10000, "predict: ", path, ": fc.weight has ", t.size(0),
                  " rows; expected 1..10000 classes (pass --num-classes to use more)");
    return t.size(0);
  }
  throw Error("predict: " + path + " has no fc.weight to take the class count from; pass --num-classes");
}

void run_predict(const PredictArgs& a) {
  Device dev = Device::parse(require_device(a.device, "predict"));
  const int64_t classes = a.num_classes > 0 ? a.num_classes : classes_in(a.weights);
  auto model = models::resnet50(classes);
  std::string msg = train::load_pretrained_backbone(*model, a.weights);
  std::cerr << msg << "\n";
  model->to(dev);
  model->eval();
  int failed = 0;
  for (const auto& path : a.images) {
    try {
      data::DecodeOptions d;
      d.max_pixels = a.max_pixels;
      if (!a.no_resize) d.hint_height = d.hint_width = 224;  // resized right after: may decode scaled
      data::Image img = data::load_image(path, d);
      if (!a.no_resize) img = data::resize_bilinear(img, 224, 224);
      SADANET_CHECK(img.height >= 32 && img.width >= 32, "predict: ", path, " is ", img.height, "x", img.width,
                    "; expected at least 32x32 (drop --no-resize)");
      NoGradGuard ng;
      Tensor logits = model->forward(data::to_tensor(img).unsqueeze(0).to(dev)).logits.squeeze(0);
      auto l = logits.to_vector<double>();
      auto p = softmax(logits, 0).to_vector<double>();
      if (a.json) {
        std::cout << nlohmann::json{{"image", path}, {"logits", l}, {"probs", p}}.dump() << "\n";
        continue;
      }
      std::vector<size_t> order(p.size());
      std::iota(order.begin(), order.end(), 0);
      size_t top = std::min<size_t>(5, order.size());
      std::partial_sort(order.begin(), order.begin() + top, order.end(), [&](size_t x, size_t y) { return p[x] > p[y]; });
      std::cout << path << "\n";
      for (size_t i = 0; i < top; ++i) std::printf("  class %4zu  p=%.4f  logit=%.4f\n", order[i], p[order[i]], l[order[i]]);
    } catch (const Error& e) {
      ++failed;
      std::cerr << "sadanet: error: " << e.what() << "\n";
    }
  }
  if (failed) throw CLI::RuntimeError(1);
}

}  // namespace

void register_predict(CLI::App& app) {
  auto a = std::make_shared<PredictArgs>();
  CLI::App* c = app.add_subcommand("predict", "Top-5 classes of a ResNet-50 for each image");
  c->add_option("--weights", a->weights, "Weights (.pth or .safetensors)")->required()->check(CLI::ExistingFile);
  c->add_option("--num-classes", a->num_classes, "Classes (default: from the weights' fc)")->check(CLI::Range(1, 1000000));
  c->add_option("--max-pixels", a->max_pixels, "Refuse image files whose header declares more pixels (default 64 MP)")
      ->check(positive());
  c->add_flag("--no-resize", a->no_resize, "Keep each image's own size (at least 32x32)");
  c->add_flag("--json", a->json, "One JSON object per image per line: {image, logits, probs}");
  c->add_option("--device", a->device, "cpu, cuda or cuda:N");
  c->add_option("images", a->images, "Image files (JPEG, PNG, BMP)")->required();
  c->callback([a] { run_predict(*a); });
}

}  // namespace sadanet::cli
