#include "sadanet/train/evaluate.h"

#include <cmath>
#include <map>

#include "sadanet/runtime.h"
#include "sadanet/train/checkpoint.h"
#include "sadanet/train/model.h"

namespace sadanet::train {

std::unique_ptr<data::BatchLoader> make_eval_loader(const std::vector<data::Item>& items, int size, int batch,
                                                    int threads, bool cache, int64_t max_pixels) {
  data::LoaderOptions o;
  o.decode.max_pixels = max_pixels;
  o.mode = data::LoaderMode::eval;
  o.size = size;
  o.batch = batch;
  o.threads = threads;
  o.cache = cache;
  return std::make_unique<data::BatchLoader>(items, o);
}

Predictions predict(models::ResNet& model, data::BatchLoader& loader, Device device) {
  SADANET_CHECK(loader.options().mode == data::LoaderMode::eval, "predict: expected an eval-mode loader");
  model.set_batch_norm_mode(BatchNormMode::eval);
  NoGradGuard ng;
  Predictions p;
  loader.reset();
  while (auto b = loader.next()) {
    Tensor x = data::normalize_images(b->images).to(device);
    Tensor logits = model.forward(x).logits;
    SADANET_CHECK(logits.defined(), "predict: the model has no classifier");
    Tensor labels = b->labels.to(device);
    auto pred = argmax(logits, 1).cpu().to_vector<int64_t>();
    auto loss = cross_entropy(logits, labels, Tensor(), Reduction::none).cpu().to(DType::f64).to_vector<double>();
    auto truth = b->labels.to_vector<int64_t>();
    auto dom = b->domains.to_vector<int64_t>();
    for (size_t i = 0; i < pred.size(); ++i) {
      p.truth.push_back(truth[i]);
      p.predicted.push_back(pred[i]);
      p.domain.push_back(static_cast<int32_t>(dom[i]));
      p.loss.push_back(loss[i]);
    }
  }
  return p;
}

double domain_mean_loss(const Predictions& p) {
  SADANET_CHECK(!p.loss.empty(), "validation loss: no images were evaluated");
  std::map<int32_t, std::pair<double, int64_t>> per;
  for (size_t i = 0; i < p.loss.size(); ++i) {
    auto& [s, n] = per[p.domain[i]];
    s += p.loss[i];
    ++n;
  }
  double total = 0;
  for (auto& [d, sn] : per) total += sn.first / static_cast<double>(sn.second);
  return total / static_cast<double>(per.size());
}

EvalReport evaluate_model_file(const std::string& model_path, const std::string& data_root, const std::string& domain,
                               const std::string& split, int batch, const std::string& device, int loader_threads,
                               int64_t max_pixels, int size) {
  SADANET_CHECK(split == "test" || split == "all", "eval: --split: expected test or all, got '", split, "'");
  SADANET_CHECK(batch >= 1, "eval: expected batch >= 1, got ", batch);
  SADANET_CHECK(size == 0 || (size >= 32 && size <= 4096), "eval: expected size 0 (the file's) or 32..4096, got ",
                size);
  LoadedFile f = load_checkpoint_file(model_path);
  TrainConfig cfg = f.config;
  SADANET_CHECK(size > 0 || cfg.size <= kMaxEvalSizeFromFile, "eval: ", model_path, ": the file's image size ",
                cfg.size, " is over ", kMaxEvalSizeFromFile, "; pass --size N to evaluate at another (or that) size");
  if (size > 0) cfg.size = size;
  if (!device.empty()) cfg.device = device;
  const Device dev = Device::parse(require_device(cfg.device, "eval"));

  data::ScanOptions so;
  so.classes = f.classes;
  so.folder_classes = cfg.class_folders;  // the run's class map, if it had one
  data::Dataset ds = data::scan_dataset(data_root, so);
  const int d = ds.domain_index(domain);  // throws naming the domains present
  data::SplitOptions sp;
  sp.seed = cfg.seed;
  std::vector<data::Item> items;
  for (const auto& it : ds.items)
    if (it.domain == d && (split == "all" || data::split_part(it.rel, sp) == data::Part::test)) items.push_back(it);
  SADANET_CHECK(!items.empty(), "eval: domain '", domain, "' has no images in its ", split,
                " part (split seed ", cfg.seed, ")");

  // Only the backbone is needed; build it without heads.
  TrainConfig model_cfg = cfg;
  model_cfg.method = Method::erm;
  Networks net = build_networks(model_cfg, static_cast<int64_t>(f.classes.size()));
  load_network_tensors(net, f.file.tensors, /*with_heads=*/false);

  auto loader = make_eval_loader(items, cfg.size, batch, loader_threads, /*cache=*/false, max_pixels);
  EvalReport r;
  r.domain = domain;
  r.split = split;
  r.split_seed = cfg.seed;
  r.warnings = ds.warnings;
  r.files = static_cast<int64_t>(items.size());
  r.skipped = loader->bad_images();
  r.predictions = predict(*net.backbone, *loader, dev);
  r.images = static_cast<int64_t>(r.predictions.truth.size());
  r.metrics = eval::compute_metrics(r.predictions.truth, r.predictions.predicted, f.classes);
  return r;
}

}  // namespace sadanet::train
