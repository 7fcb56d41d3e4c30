// load_inference_model: sadanet model files through load_checkpoint_file (metadata checked and
// bounded), anything else as torchvision weights (strict: every backbone tensor and an fc).
#include "sadanet/train/model_file.h"

#include <sstream>

#include "sadanet/data/loader.h"
#include "sadanet/error.h"
#include "sadanet/io/weights.h"
#include "sadanet/runtime.h"
#include "sadanet/train/checkpoint.h"
#include "sadanet/train/evaluate.h"
#include "sadanet/train/model.h"

namespace sadanet::train {
namespace {

// A safetensors file written by `sadanet train` says so in its metadata; load_checkpoint_file
// then checks the rest. Anything else (torchvision .pth, imported safetensors) has no such mark.
bool is_sadanet_file(const io::TensorFile& f) {
  auto it = f.metadata.find("format");
  return it != f.metadata.end() && (it->second == kModelFormat || it->second == kCheckpointFormat);
}

InferenceModel from_sadanet_file(const std::string& path, const Device& dev) {
  LoadedFile f = load_checkpoint_file(path);
  SADANET_CHECK(f.config.size <= kMaxEvalSizeFromFile, path, ": the file's image size ", f.config.size, " is over ",
                kMaxEvalSizeFromFile, " (a doctored file?)");
  InferenceModel m;
  m.info.path = path;
  m.info.format = f.format;
  m.info.arch = f.config.arch;
  m.info.preprocess.size = f.config.size;
  m.info.classes = f.classes;
  m.info.config = f.config;
  m.info.has_config = true;
  TrainConfig model_cfg = f.config;
  model_cfg.method = Method::erm;  // the backbone alone: the SADA heads are not needed to classify
  model_cfg.device = "cpu";
  Networks net = build_networks(model_cfg, static_cast<int64_t>(f.classes.size()));
  load_network_tensors(net, f.file.tensors, /*with_heads=*/false);
  m.net = net.backbone;
  m.net->to(dev);
  m.net->eval();
  return m;
}

InferenceModel from_torchvision_file(const std::string& path, io::TensorFile f, const Device& dev,
                                     int64_t num_classes) {
  int64_t classes = 0;
  for (auto& [name, t] : f.tensors) {
    if (name == "fc.weight") {
      SADANET_CHECK(t.dim() == 2 && t.size(0) >= 1 && t.size(0) <= kMaxFileClasses, path,
                    ": fc.weight: expected [classes, 2048] with 1..", kMaxFileClasses, " classes, got ",
                    shape_str(t.shape()));
      classes = t.size(0);
    }
    if (is_floating(t.dtype()) && t.dtype() != DType::f32) t = t.to(DType::f32);  // bf16/f16 imports
  }
  if (classes == 0) {
    // A sadanet run's tensors under "model." without sadanet's metadata: say what the file is.
    for (const auto& [name, t] : f.tensors)
      SADANET_CHECK(name.rfind("model.", 0) != 0, path, ": holds a sadanet run's tensors ('", name,
                    "') but no sadanet metadata; expected final.safetensors or last.safetensors as `sadanet train` "
                    "wrote it");
    SADANET_CHECK(num_classes > 0, path, ": has no fc.weight (a backbone without its classifier?); expected a "
                  "classifier, or pass the class count to size a random one");
    classes = num_classes;
  }
  models::ResNetOptions o;
  o.num_classes = classes;
  auto net = std::make_shared<models::ResNet>(o);
  nn::LoadReport r = net->load_state_dict(f.tensors, /*strict=*/false);
  std::vector<std::string> missing;
  for (const auto& name : r.missing)
    if (!name.ends_with("num_batches_tracked") && !(num_classes > 0 && name.rfind("fc.", 0) == 0))
      missing.push_back(name);
  if (!missing.empty() || !r.mismatched.empty() || !r.unexpected.empty()) {
    std::ostringstream os;
    os << path << ": not a sadanet model file, and it does not fit a torchvision ResNet-50 with " << classes
       << " classes: " << missing.size() << " tensors missing, " << r.mismatched.size() << " of another shape, "
       << r.unexpected.size() << " unexpected";
    const std::string& first = !missing.empty() ? missing[0] : !r.mismatched.empty() ? r.mismatched[0] : r.unexpected[0];
    os << " (first: " << first << "); expected a run's final.safetensors or a torchvision resnet50 state dict";
    throw Error(os.str());
  }
  InferenceModel m;
  m.info.path = path;
  m.info.format = "torchvision";
  m.info.arch = Arch::resnet50;
  for (int64_t c = 0; c < classes; ++c) m.info.classes.push_back(std::to_string(c));
  m.net = net;
  m.net->to(dev);
  m.net->eval();
  return m;
}

}  // namespace

InferenceModel load_inference_model(const std::string& path, const std::string& device, int64_t num_classes) {
  const Device dev = Device::parse(require_device(device, "model"));
  io::TensorFile f = io::load_weights(path);
  if (is_sadanet_file(f)) return from_sadanet_file(path, dev);
  return from_torchvision_file(path, std::move(f), dev, num_classes);
}

Tensor preprocess_image(const data::Image& img, const Preprocess& p) {
  SADANET_CHECK(img.height > 0 && img.width > 0 && img.rgb.size() == static_cast<size_t>(img.height) * img.width * 3,
                "preprocess: expected a decoded RGB image, got ", img.height, "x", img.width, " with ",
                img.rgb.size(), " bytes");
  const data::Image sized =
      img.height == p.size && img.width == p.size ? img : data::resize_bilinear(img, p.size, p.size);
  // As training and eval normalise (normalize_images), to the last bit; to_tensor rounds otherwise.
  return data::normalize_images(data::to_u8_tensor(sized), p.mean.data(), p.std.data());
}

}  // namespace sadanet::train
