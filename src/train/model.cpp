#include "sadanet/train/model.h"

#include <set>
#include <sstream>
#include <string_view>
#include <unordered_map>

#include "sadanet/io/weights.h"
#include "sadanet/train/checkpoint.h"

namespace sadanet::train {
namespace {

void collect_bn(const nn::Module& m, std::vector<std::shared_ptr<nn::BatchNorm2d>>& out) {
  for (const auto& [name, child] : m.children()) {
    if (auto bn = std::dynamic_pointer_cast<nn::BatchNorm2d>(child)) out.push_back(bn);
    collect_bn(*child, out);
  }
}

void add_prefixed(nn::NamedTensors& out, const std::string& prefix, const nn::Module& m) {
  for (auto& [name, t] : m.state_dict()) out.emplace_back(prefix + name, t);
}

nn::NamedTensors strip_prefix(const nn::NamedTensors& in, const std::string& prefix) {
  nn::NamedTensors out;
  for (const auto& [name, t] : in)
    if (name.compare(0, prefix.size(), prefix) == 0) out.emplace_back(name.substr(prefix.size()), t);
  return out;
}

}  // namespace

models::ResNetOptions backbone_options(const TrainConfig& cfg, int64_t num_classes) {
  models::ResNetOptions o;
  o.num_classes = num_classes;
  o.seed = cfg.seed;
  o.layers = cfg.arch == Arch::resnet50 ? std::vector<int64_t>{3, 4, 6, 3} : std::vector<int64_t>{1, 1, 1, 1};
  return o;
}

Networks build_networks(const TrainConfig& cfg, int64_t num_classes) {
  SADANET_CHECK(num_classes >= 2, "build_networks: expected at least 2 classes, got ", num_classes);
  Networks n;
  n.backbone = std::make_shared<models::ResNet>(backbone_options(cfg, num_classes));
  if (cfg.method == Method::sada) {
    n.la = std::make_shared<models::LocalAlignmentHead>(kFeatureChannels, cfg.la_hidden, cfg.la_out, cfg.seed + 1);
    n.projector = std::make_shared<models::ProjectionHead>(
        kFeatureChannels, cfg.proj_dim, cfg.projector == Projector::mlp ? cfg.proj_hidden : 0, cfg.seed + 2);
  }
  const Device dev = Device::parse(cfg.device);
  n.backbone->to(dev);
  if (n.la) n.la->to(dev);
  if (n.projector) n.projector->to(dev);
  return n;
}

nn::NamedTensors network_tensors(const Networks& n, bool with_heads) {
  nn::NamedTensors out;
  add_prefixed(out, "model.", *n.backbone);
  if (with_heads && n.la) add_prefixed(out, "la.", *n.la);
  if (with_heads && n.projector) add_prefixed(out, "proj.", *n.projector);
  return out;
}

void load_network_tensors(Networks& n, const nn::NamedTensors& tensors, bool with_heads) {
  // Strict per module: a missing or reshaped tensor means the file belongs to another model.
  auto load = [&](nn::Module& m, const std::string& prefix) {
    nn::NamedTensors part = strip_prefix(tensors, prefix);
    SADANET_CHECK(!part.empty(), "load: no '", prefix, "*' tensors in the file (expected the ", prefix.substr(0, prefix.size() - 1),
                  " weights)");
    m.load_state_dict(part, /*strict=*/true);
  };
  load(*n.backbone, "model.");
  if (with_heads && n.la) load(*n.la, "la.");
  if (with_heads && n.projector) load(*n.projector, "proj.");
}

std::string load_initial_weights(models::ResNet& backbone, const std::string& path,
                                 const std::vector<std::string>& classes) {
  {
    io::TensorFile probe = io::load_weights(path);
    auto it = probe.metadata.find("format");
    if (it == probe.metadata.end() || (it->second != kModelFormat && it->second != kCheckpointFormat))
      return load_pretrained_backbone(backbone, path);
  }
  LoadedFile f = load_checkpoint_file(path);
  nn::NamedTensors keep;
  const bool same_labels = f.classes == classes;
  for (const auto& [name, t] : strip_prefix(f.file.tensors, "model.")) {
    if (!same_labels && (name == "fc.weight" || name == "fc.bias")) continue;
    keep.emplace_back(name, t);
  }
  nn::LoadReport r = backbone.load_state_dict(keep, /*strict=*/false);
  std::vector<std::string> missing;
  for (const auto& m : r.missing)
    if (!m.ends_with("num_batches_tracked") && (same_labels || (m != "fc.weight" && m != "fc.bias"))) missing.push_back(m);
  if (!missing.empty() || !r.mismatched.empty() || !r.unexpected.empty()) {
    std::ostringstream os;
    os << "--initial-checkpoint " << path << ": a " << arch_name(f.config.arch) << " model does not fit this run's "
       << backbone.num_parameters() << "-parameter backbone (pass the same --arch as the model's): "
       << missing.size() << " missing, " << r.mismatched.size() << " of another shape, " << r.unexpected.size()
       << " unexpected";
    throw Error(os.str());
  }
  std::ostringstream os;
  os << "loaded " << keep.size() << " tensors of the " << arch_name(f.config.arch) << " model " << path << " (trained on "
     << f.config.data << " without " << f.config.target << ")";
  if (same_labels) {
    os << "; its classifier is kept (the same " << classes.size() << " classes)";
  } else {
    os << "; its classifier is dropped (its classes";
    for (size_t i = 0; i < f.classes.size(); ++i) os << (i ? ", " : " ") << f.classes[i];
    os << " are not this run's): the " << backbone.num_classes() << "-class fc starts from random";
  }
  return os.str();
}

std::string load_pretrained_backbone(models::ResNet& backbone, const std::string& path) {
  io::TensorFile f = io::load_weights(path);
  nn::NamedTensors keep;
  std::vector<std::string> dropped;
  const auto mine = backbone.state_dict();
  std::unordered_map<std::string_view, const Shape*> shapes;  // a file may name millions of tensors
  for (const auto& [name, t] : mine) shapes.emplace(name, &t.shape());
  auto shape_of = [&](const std::string& n) -> const Shape* {
    auto it = shapes.find(n);
    return it == shapes.end() ? nullptr : it->second;
  };
  for (auto& [name, t] : f.tensors) {
    const bool is_fc = name == "fc.weight" || name == "fc.bias";
    const Shape* s = shape_of(name);
    if (is_fc && (!s || *s != t.shape())) {
      dropped.push_back(name + " " + shape_str(t.shape()));  // the ImageNet classifier: retrained here
      continue;
    }
    keep.emplace_back(name, t);
  }
  nn::LoadReport r = backbone.load_state_dict(keep, /*strict=*/false);
  std::vector<std::string> missing;
  for (const auto& m : r.missing) {
    const bool ok = m.ends_with("num_batches_tracked") || m == "fc.weight" || m == "fc.bias";
    if (!ok) missing.push_back(m);
  }
  if (!missing.empty() || !r.mismatched.empty()) {
    std::ostringstream os;
    os << "--weights " << path << ": the file does not fit the " << backbone.num_parameters()
       << "-parameter backbone (is it a torchvision ResNet-50, and is --arch resnet50?)\n";
    for (const auto& m : missing) os << "  missing " << m << "\n";
    for (const auto& m : r.mismatched) os << "  shape mismatch " << m << "\n";
    throw Error(os.str());
  }
  std::ostringstream os;
  os << "loaded " << keep.size() << " tensors from " << path;
  if (!dropped.empty()) {
    os << "; dropped the pretrained classifier (";
    for (size_t i = 0; i < dropped.size(); ++i) os << (i ? ", " : "") << dropped[i];
    os << "): the " << backbone.num_classes() << "-class fc starts from its random initialisation";
  }
  if (!r.unexpected.empty()) os << "; ignored " << r.unexpected.size() << " tensors the model does not have";
  return os.str();
}

std::vector<std::shared_ptr<nn::BatchNorm2d>> batch_norms(const nn::Module& m) {
  std::vector<std::shared_ptr<nn::BatchNorm2d>> out;
  collect_bn(m, out);
  return out;
}

void recompute_bn_statistics(models::ResNet& model, int64_t steps, const std::function<Tensor()>& next_images) {
  auto bns = batch_norms(model);
  if (bns.empty() || steps <= 0) return;
  std::vector<double> momenta;
  {
    NoGradGuard ng;
    for (auto& bn : bns) {
      momenta.push_back(bn->momentum);
      bn->running_mean.fill_(0.0);
      bn->running_var.fill_(1.0);
      bn->num_batches_tracked.fill_(0.0);
    }
  }
  model.set_batch_norm_mode(BatchNormMode::train);
  NoGradGuard ng;
  for (int64_t t = 0; t < steps; ++t) {
    // momentum None in PyTorch: running = running + (batch - running) / (t + 1), a plain mean.
    for (auto& bn : bns) bn->momentum = 1.0 / static_cast<double>(t + 1);
    model.forward(next_images());
  }
  for (size_t i = 0; i < bns.size(); ++i) bns[i]->momentum = momenta[i];
  model.set_batch_norm_mode(BatchNormMode::eval);
}

}  // namespace sadanet::train
