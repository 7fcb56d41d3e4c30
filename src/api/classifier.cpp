// The facade over train::load_inference_model: one network per loaded file, shared by copies of
// the Classifier, used under a mutex (forward passes reuse module state and the autograd mode).
#include "sadanet/classifier.h"

#include <algorithm>
#include <mutex>
#include <numeric>

#include "sadanet/autograd.h"
#include "sadanet/data/image.h"
#include "sadanet/error.h"
#include "sadanet/ops.h"
#include "sadanet/train/model_file.h"

namespace sadanet {

struct Classifier::Impl {
  train::InferenceModel model;
  std::shared_ptr<const std::vector<std::string>> names;
  Device device;
  int64_t max_pixels = 0;
  mutable std::mutex mu;

  data::Image decode(const std::string& path) const {
    data::DecodeOptions d;
    d.max_pixels = max_pixels;
    d.hint_height = d.hint_width = model.info.preprocess.size;  // resized right after: may decode scaled
    return data::load_image(path, d);
  }

  std::vector<Prediction> run(const std::vector<Tensor>& inputs) const {
    Tensor batch = stack(inputs, 0).to(device);
    Tensor logits;
    {
      std::lock_guard<std::mutex> lock(mu);
      NoGradGuard ng;
      logits = model.net->forward(batch).logits.to(kCPU).contiguous();
    }
    Tensor probs = softmax(logits, 1).contiguous();
    const int64_t n = logits.size(0), c = logits.size(1);
    const float* l = logits.data<float>();
    const float* p = probs.data<float>();
    std::vector<Prediction> out(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      Prediction& r = out[static_cast<size_t>(i)];
      r.logits.assign(l + i * c, l + (i + 1) * c);
      r.probabilities.assign(p + i * c, p + (i + 1) * c);
      r.index = std::max_element(r.probabilities.begin(), r.probabilities.end()) - r.probabilities.begin();
      r.probability = r.probabilities[static_cast<size_t>(r.index)];
      r.label = (*names)[static_cast<size_t>(r.index)];
      r.names_ = names;
    }
    return out;
  }
};

std::vector<ClassScore> Prediction::top(size_t k) const {
  std::vector<size_t> order(probabilities.size());
  std::iota(order.begin(), order.end(), 0);
  k = std::min(k, order.size());
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k), order.end(),
                    [&](size_t a, size_t b) { return probabilities[a] > probabilities[b] || (probabilities[a] == probabilities[b] && a < b); });
  std::vector<ClassScore> out;
  for (size_t i = 0; i < k; ++i) {
    ClassScore s;
    s.index = static_cast<int64_t>(order[i]);
    s.label = names_ && order[i] < names_->size() ? (*names_)[order[i]] : std::to_string(order[i]);
    s.probability = probabilities[order[i]];
    out.push_back(std::move(s));
  }
  return out;
}

Classifier Classifier::load(const std::string& model_path, const ClassifierOptions& options) {
  SADANET_CHECK(!model_path.empty(), "Classifier::load: expected a model file path, got an empty string");
  SADANET_CHECK(options.max_pixels > 0, "Classifier::load: expected max_pixels > 0, got ", options.max_pixels);
  auto impl = std::make_shared<Impl>();
  impl->model = train::load_inference_model(model_path, options.device);
  impl->names = std::make_shared<const std::vector<std::string>>(impl->model.info.classes);
  impl->device = Device::parse(options.device);
  impl->max_pixels = options.max_pixels;
  return Classifier(std::move(impl));
}

Prediction Classifier::predict(const std::string& image_path) const {
  return impl_->run({train::preprocess_image(impl_->decode(image_path), impl_->model.info.preprocess)})[0];
}

Prediction Classifier::predict_rgb(const uint8_t* rgb, int width, int height, size_t stride) const {
  SADANET_CHECK(rgb != nullptr, "Classifier::predict_rgb: expected pixels, got a null pointer");
  SADANET_CHECK(width >= 1 && height >= 1 && static_cast<int64_t>(width) * height <= impl_->max_pixels,
                "Classifier::predict_rgb: expected 1..", impl_->max_pixels, " pixels, got ", width, "x", height);
  if (stride == 0) stride = static_cast<size_t>(width) * 3;
  SADANET_CHECK(stride >= static_cast<size_t>(width) * 3, "Classifier::predict_rgb: expected a row stride of at least ",
                static_cast<size_t>(width) * 3, " bytes (3 x width), got ", stride);
  data::Image img;
  img.width = width;
  img.height = height;
  img.rgb.resize(static_cast<size_t>(width) * height * 3);
  for (int y = 0; y < height; ++y)
    std::copy_n(rgb + static_cast<size_t>(y) * stride, static_cast<size_t>(width) * 3,
                img.rgb.data() + static_cast<size_t>(y) * width * 3);
  return impl_->run({train::preprocess_image(img, impl_->model.info.preprocess)})[0];
}

std::vector<Classifier::FileResult> Classifier::predict_files(const std::vector<std::string>& image_paths) const {
  std::vector<FileResult> out(image_paths.size());
  std::vector<Tensor> inputs;
  std::vector<size_t> where;
  for (size_t i = 0; i < image_paths.size(); ++i) {
    out[i].path = image_paths[i];
    try {
      inputs.push_back(train::preprocess_image(impl_->decode(image_paths[i]), impl_->model.info.preprocess));
      where.push_back(i);
    } catch (const std::exception& e) {  // sadanet::Error, or bad_alloc on a huge image
      out[i].error = e.what();
    }
  }
  if (inputs.empty()) return out;
  std::vector<Prediction> preds = impl_->run(inputs);
  for (size_t j = 0; j < where.size(); ++j) {
    out[where[j]].ok = true;
    out[where[j]].prediction = std::move(preds[j]);
  }
  return out;
}

const std::vector<std::string>& Classifier::classes() const { return *impl_->names; }
int Classifier::input_size() const { return impl_->model.info.preprocess.size; }
std::string Classifier::architecture() const { return train::arch_name(impl_->model.info.arch); }
std::string Classifier::device() const { return impl_->device.str(); }
std::string Classifier::model_format() const { return impl_->model.info.format; }
const std::string& Classifier::model_path() const { return impl_->model.info.path; }

}  // namespace sadanet
