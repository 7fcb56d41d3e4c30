#include "sadanet/train/trainer.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "io/atomic_file.h"
#include "sadanet/data/dataset.h"
#include "sadanet/data/loader.h"
#include "sadanet/optim.h"
#include "sadanet/parse_number.h"
#include "sadanet/runtime.h"
#include "sadanet/train/checkpoint.h"
#include "sadanet/train/evaluate.h"
#include "sadanet/train/model.h"
#include "sadanet/train/swad.h"
#include "train/run_log.h"
#include "train/step.h"
#include "train/stop.h"

namespace sadanet::train {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

struct StageSpec {
  std::string name;
  int64_t steps = 0;
  bool contrastive = false;      // SADA stage 1
  bool frozen_backbone = false;  // SADA stage 2 "classifier": only fc trains, BN in eval mode
  bool averaged = false;         // SWAD runs over this stage
};

std::vector<StageSpec> stages_of(const TrainConfig& c) {
  if (c.method == Method::erm) return {{"erm", c.erm_steps(), false, false, true}};
  return {{"stage1", c.steps1, true, false, false},
          {"stage2", c.steps2, false, c.stage2 == Stage2::classifier, true}};
}

void write_text_atomic(const std::string& path, const std::string& text) {
  io::AtomicFileWriter w(path);
  w.write(text.data(), text.size());
  w.commit();
}

class Trainer {
 public:
  Trainer(TrainConfig cfg, RunOptions opts) : cfg_(std::move(cfg)), opts_(std::move(opts)) {
    out_ = opts_.log ? opts_.log : &std::cerr;
  }
  TrainResult run();

 private:
  void prepare_rundir();
  std::optional<LoadedFile> load_resume_checkpoint();
  void setup_data();
  void enter_stage(size_t idx);
  void apply_mode();
  void restore(const LoadedFile& f);
  void save_checkpoint_now();
  bool run_stage();  // false: the run stops (interrupted or diverged)
  void finish();
  const StageSpec& stage() const { return stages_[stage_idx_]; }
  bool valley_closed() const {
    return swad_ && cfg_.swad.early_stop && swad_->valley().dead_valley();
  }
  std::map<std::string, std::string> metadata(const std::string& format) const {
    return base_metadata(format, cfg_, classes_, split_.split_hash);
  }

  TrainConfig cfg_;
  RunOptions opts_;
  std::ostream* out_;
  std::unique_ptr<internal::RunLog> log_;
  TrainResult result_;
  Device dev_;

  data::Dataset ds_;
  data::LodoSplit split_;
  std::vector<std::string> classes_;
  std::unique_ptr<data::BatchLoader> loader_, val_loader_;
  Networks net_;
  Generator aug_gen_;
  stain::StainAugmentOptions aug_opts_;

  std::vector<StageSpec> stages_;
  size_t stage_idx_ = 0;
  int64_t step_ = 0;  // steps done in the current stage
  std::unique_ptr<optim::Adam> opt_;
  std::vector<Tensor> swad_params_;
  std::unique_ptr<SwadTracker> swad_;
  std::string last_good_ = "none (no checkpoint written yet)";
};

void Trainer::prepare_rundir() {
  SADANET_CHECK(!opts_.out.empty(), "train: expected an output folder (--out RUNDIR), got an empty path");
  std::error_code ec;
  fs::create_directories(opts_.out, ec);
  SADANET_CHECK(!ec && fs::is_directory(opts_.out), "train: cannot create the output folder '", opts_.out,
                "': ", ec ? ec.message() : "it exists and is not a folder");
  if (!opts_.resume) {
    // Never overwrite a run: its checkpoints and models are someone's hours of compute.
    for (const char* f : {"ckpt-latest.safetensors", "ckpt-prev.safetensors", "ckpt-next.safetensors",
                          "final.safetensors", "last.safetensors"})
      SADANET_CHECK(!fs::exists(fs::path(opts_.out) / f), "train: '", opts_.out, "' already holds a run (", f,
                    "); pass --resume to continue it, or choose another --out");
  }
}

std::optional<LoadedFile> Trainer::load_resume_checkpoint() {
  if (!opts_.resume) return std::nullopt;
  const std::string path = find_checkpoint(opts_.out);
  if (path.empty()) {
    *out_ << "resume: no checkpoint in " << opts_.out << "; starting from step 0\n";
    return std::nullopt;
  }
  LoadedFile f = load_checkpoint_file(path);
  SADANET_CHECK(f.format == kCheckpointFormat, "resume: '", path, "' is a model file, not a training checkpoint");
  std::vector<std::string> diff = f.config.identity_diff(cfg_);
  if (!diff.empty()) {
    std::string msg = "resume: the options differ from the run's saved config (saved vs given):";
    for (const auto& d : diff) msg += "\n  " + d;
    throw Error(msg + "\nresume without those options, or start a new run in another folder");
  }
  // Keep the saved run's identity; take where it runs (device, threads, data path...) from now.
  TrainConfig merged = f.config;
  merged.data = cfg_.data;
  merged.device = cfg_.device;
  merged.threads = cfg_.threads;
  merged.loader_threads = cfg_.loader_threads;
  merged.cache = cfg_.cache;
  merged.eval_batch = cfg_.eval_batch;
  merged.log_every = cfg_.log_every;
  merged.ckpt_every = cfg_.ckpt_every;
  cfg_ = merged;
  result_.checkpoint = path;
  return f;
}

void Trainer::setup_data() {
  ds_ = data::scan_dataset(cfg_.data);
  for (const auto& w : ds_.warnings) *out_ << "data: warning: " << w << "\n";
  data::SplitOptions so;
  so.seed = cfg_.seed;
  split_ = data::make_lodo_split(ds_, cfg_.target, so, data::target_eval_from_name(cfg_.target_eval));
  classes_ = ds_.classes;

  data::LoaderOptions lo;
  lo.mode = data::LoaderMode::train;
  lo.batch = cfg_.batch;
  lo.size = cfg_.size;
  lo.per_domain = true;
  lo.seed = cfg_.seed;
  lo.threads = cfg_.loader_threads;
  lo.cache = cfg_.cache;
  loader_ = std::make_unique<data::BatchLoader>(split_.source_train, lo);
  for (const auto& p : loader_->bad_paths()) *out_ << "data: skipping unreadable image " << p << "\n";
  if (cfg_.swad.enabled && !split_.source_val.empty())
    val_loader_ = make_eval_loader(split_.source_val, cfg_.size, cfg_.eval_batch, cfg_.loader_threads, cfg_.cache);

  std::ostringstream os;
  os << "data: " << cfg_.data << ", target " << cfg_.target << ", sources";
  for (int d : split_.source_domains) os << " " << ds_.domains[d];
  os << "\n  source train " << split_.source_train.size() << " (" << data::describe_counts(split_.source_train, classes_)
     << ")\n  source val " << split_.source_val.size() << ", target " << cfg_.target_eval << " "
     << split_.target_test.size() << " (" << data::describe_counts(split_.target_test, classes_) << ")";
  log_->message(os.str());
}

void Trainer::apply_mode() {
  const StageSpec& s = stage();
  net_.backbone->train(true);
  if (s.frozen_backbone) net_.backbone->set_batch_norm_mode(BatchNormMode::eval);
  else net_.backbone->set_batch_norm_mode(cfg_.bn);
  for (nn::Module* head : {static_cast<nn::Module*>(net_.la.get()), static_cast<nn::Module*>(net_.projector.get())})
    if (head) head->train(s.contrastive);
}

void Trainer::enter_stage(size_t idx) {
  stage_idx_ = idx;
  step_ = 0;
  const StageSpec& s = stage();
  std::vector<Tensor> params;
  if (s.contrastive) {
    net_.backbone->set_requires_grad(true);
    // fc is not in stage 1's loss; leaving it out keeps its Adam state empty for stage 2.
    for (auto& [name, t] : net_.backbone->named_parameters())
      if (name.rfind("fc.", 0) != 0) params.push_back(t);
    for (auto* head : {static_cast<nn::Module*>(net_.la.get()), static_cast<nn::Module*>(net_.projector.get())}) {
      head->set_requires_grad(true);
      for (auto& t : head->parameters()) params.push_back(t);
    }
  } else {
    net_.backbone->set_requires_grad(!s.frozen_backbone);
    net_.backbone->fc->set_requires_grad(true);
    params = s.frozen_backbone ? net_.backbone->fc->parameters() : net_.backbone->parameters();
    if (net_.la) net_.la->set_requires_grad(false);
    if (net_.projector) net_.projector->set_requires_grad(false);
  }
  optim::AdamOptions ao;
  ao.lr = cfg_.lr;
  opt_ = std::make_unique<optim::Adam>(params, ao);
  swad_.reset();
  swad_params_.clear();
  if (s.averaged && cfg_.swad.enabled) {
    if (!val_loader_) {
      log_->message("SWAD: off (the source domains have no validation images); final = last model");
    } else {
      // The stage's trainable parameters: frozen ones are constant, so averaging them is the identity.
      swad_params_ = params;
      const int64_t every = cfg_.swad.eval_every > 0 ? cfg_.swad.eval_every : std::max<int64_t>(1, s.steps / 40);
      swad_ = std::make_unique<SwadTracker>(cfg_.swad.n_converge, cfg_.swad.n_tolerance, cfg_.swad.tolerance_ratio,
                                            every);
    }
  }
  apply_mode();
}

void Trainer::restore(const LoadedFile& f) {
  const std::string& stage_name = f.meta("stage");
  const int64_t step = parse_i64(f.meta("step"), "resume: checkpoint metadata 'step'", 0, kMaxFileSteps);
  SADANET_CHECK(stage_name == stage().name, "resume: checkpoint stage '", stage_name, "' but the run is in '",
                stage().name, "'");
  SADANET_CHECK(step >= 0 && step <= stage().steps, "resume: checkpoint step ", step, " outside 0..", stage().steps);
  load_network_tensors(net_, f.file.tensors, /*with_heads=*/true);
  optim::StateDict sd;
  std::map<std::string, Tensor> swad_tensors;
  for (const auto& [name, t] : f.file.tensors) {
    if (name.rfind("optim.", 0) == 0) sd[name.substr(6)] = t;
    if (name.rfind("swad.", 0) == 0) swad_tensors[name] = t.to(dev_);
  }
  opt_->load_state_dict(sd);
  loader_->restore(data::LoaderState::from_json(f.meta("loader_state")));
  {
    std::istringstream is(f.meta("aug_rng"));
    uint64_t seed = 0, offset = 0;
    SADANET_CHECK(static_cast<bool>(is >> seed >> offset), "resume: malformed aug_rng '", f.meta("aug_rng"), "'");
    aug_gen_.set_state(seed, offset);
  }
  if (swad_) {
    auto it = f.file.metadata.find("swad");
    SADANET_CHECK(it != f.file.metadata.end(), "resume: the checkpoint has no SWAD state but this stage averages");
    swad_->load_state(it->second, swad_tensors);
  }
  step_ = step;
  last_good_ = "after " + f.meta("stage") + " step " + f.meta("step");
}

void Trainer::save_checkpoint_now() {
  io::NamedTensors tensors = network_tensors(net_, /*with_heads=*/true);
  for (auto& [k, t] : opt_->state_dict()) tensors.emplace_back("optim." + k, t);
  auto meta = metadata(kCheckpointFormat);
  meta["stage"] = stage().name;
  meta["step"] = std::to_string(step_);
  meta["loader_state"] = loader_->state().to_json();
  meta["aug_rng"] = std::to_string(aug_gen_.seed()) + " " + std::to_string(aug_gen_.offset());
  if (swad_) {
    for (auto& st : swad_->state_tensors()) tensors.push_back(st);
    meta["swad"] = swad_->state_json();
  }
  const std::string where = "after " + stage().name + " step " + std::to_string(step_);
  try {
    save_checkpoint(opts_.out, tensors, meta);
    last_good_ = where;
    result_.checkpoint = checkpoint_path(opts_.out);
  } catch (const Error& e) {
    const std::string msg = "the checkpoint " + where + " could not be written: " + e.what() +
                            "; the previous checkpoint (" + last_good_ + ") is kept";
    result_.checkpoint_errors.push_back(msg);
    log_->message("warning: " + msg);
  }
}

bool Trainer::run_stage() {
  const StageSpec& s = stage();
  while (step_ < s.steps && !valley_closed()) {
    const int64_t step = step_;
    internal::StepTimes t;
    const auto t_step = Clock::now();
    auto t0 = Clock::now();
    std::optional<data::Batch> batch = loader_->next();
    SADANET_CHECK(batch.has_value(), "train: the training loader ran dry");
    t.load = since(t0);

    internal::StepOutput o = s.contrastive ? internal::sada_stage1_step(net_, *batch, cfg_, aug_opts_, aug_gen_, dev_, t)
                                           : internal::cross_entropy_step(net_, *batch, dev_, t);
    LossTerms terms{{"loss", o.loss.item()}};
    for (auto& [name, v] : o.terms) terms.emplace_back(name, v.item());
    if (opts_.hooks.on_loss) opts_.hooks.on_loss(s.name, step, terms);
    for (const auto& [name, v] : terms)
      if (!std::isfinite(v)) {
        result_.status = TrainStatus::diverged;
        result_.message = detail::concat(s.name, " step ", step + 1, "/", s.steps, ": loss term '", name, "' is ", v,
                                         "; training stopped before this step's update. Last good checkpoint: ",
                                         last_good_, last_good_.rfind("none", 0) == 0 ? "" : " in " + checkpoint_path(opts_.out));
        log_->flush();
        log_->message("error: " + result_.message);
        return false;
      }

    t0 = Clock::now();
    o.loss.backward();
    t.backward = since(t0);
    t0 = Clock::now();
    opt_->step();
    opt_->zero_grad();
    if (swad_) swad_->after_step(swad_params_, step);
    t.optimizer = since(t0);

    result_.losses[s.name].push_back(terms.front().second);
    ++result_.steps_run;
    step_ = step + 1;
    internal::StepRecord rec;
    rec.stage = s.name;
    rec.step = step_;
    rec.total = s.steps;
    rec.terms = terms;
    rec.lr = cfg_.lr;
    rec.images = batch->images.size(0);
    rec.times = t;
    rec.seconds = since(t_step);
    log_->step(rec);

    if (swad_ && swad_->should_evaluate(step)) {
      const double vl = domain_mean_loss(predict(*net_.backbone, *val_loader_, dev_));
      swad_->evaluate(vl);
      apply_mode();
      log_->validation(s.name, step_, vl, swad_->valley().last_event());
    }
    if (opts_.hooks.on_step_end) opts_.hooks.on_step_end(s.name, step);
    const bool stage_end = step_ == s.steps || valley_closed();
    if (stop_requested() || stage_end || step_ % cfg_.ckpt_every == 0) save_checkpoint_now();
    if (stop_requested()) {
      result_.status = TrainStatus::interrupted;
      result_.message = "interrupted after " + s.name + " step " + std::to_string(step_) + "/" +
                        std::to_string(s.steps) + "; latest checkpoint: " + last_good_ + " in " +
                        checkpoint_path(opts_.out) + " (continue with --resume)";
      log_->flush();
      log_->message(result_.message);
      return false;
    }
  }
  if (valley_closed() && step_ < s.steps)
    log_->message("SWAD: the loss valley ended; " + s.name + " stops early at step " + std::to_string(step_) +
                  " (the reference's early stop)");
  log_->end_stage();
  return true;
}

void Trainer::finish() {
  const std::string last = opts_.out + "/last.safetensors", fin = opts_.out + "/final.safetensors";
  auto meta = metadata(kModelFormat);
  meta["stage"] = stage().name;
  meta["step"] = std::to_string(step_);
  meta["kind"] = "last";
  save_model_file(last, network_tensors(net_, false), meta);

  std::string note = "SWAD off: final.safetensors = last.safetensors";
  if (swad_) {
    std::optional<AveragedWeights> w = swad_->valley().final_weights(&note);
    if (w) {
      NoGradGuard ng;
      for (size_t i = 0; i < swad_params_.size(); ++i) swad_params_[i].copy_(w->params[i]);
      const bool bn_trained = !stage().frozen_backbone && cfg_.bn == BatchNormMode::train;
      const int64_t bn_steps = std::min(cfg_.swad.bn_steps, stage().steps);
      if (bn_trained && bn_steps > 0) {
        recompute_bn_statistics(*net_.backbone, bn_steps, [&] {
          auto b = loader_->next();
          return data::normalize_images(b->images).to(dev_);
        });
        note += "; BN statistics re-estimated over " + std::to_string(bn_steps) + " training batches";
      } else {
        note += "; BN statistics kept (BN was not in train mode during the averaged stage)";
      }
    }
  }
  log_->message(note);
  meta["kind"] = "final";
  meta["swad"] = note;
  save_model_file(fin, network_tensors(net_, false), meta);
  result_.swad_note = note;
  result_.final_path = fin;
  result_.last_path = last;
}

TrainResult Trainer::run() {
  const auto t_start = Clock::now();
  prepare_rundir();
  std::optional<LoadedFile> ckpt = load_resume_checkpoint();
  cfg_.validate();
  if (cfg_.threads > 0) set_num_threads(cfg_.threads);
  dev_ = Device::parse(cfg_.device);
  stages_ = stages_of(cfg_);
  std::vector<std::string> names;
  for (const auto& s : stages_) names.push_back(s.name);
  const bool bar = opts_.progress_bar == 1 ||
                   (opts_.progress_bar == -1 && out_ == &std::cerr && ::isatty(STDERR_FILENO));
  log_ = std::make_unique<internal::RunLog>(opts_.out, *out_, bar, cfg_.log_every, names);

  setup_data();
  if (ckpt) {
    SADANET_CHECK(ckpt->split_hash == split_.split_hash, "resume: the dataset's split differs from the run's (split hash ",
                  data::hex64(split_.split_hash), " vs saved ", data::hex64(ckpt->split_hash),
                  "): images were added, removed or renamed under ", cfg_.data);
    SADANET_CHECK(ckpt->classes == classes_, "resume: the dataset's classes differ from the run's");
  }
  write_text_atomic(opts_.out + "/config.json", config_to_json(cfg_) + "\n");

  net_ = build_networks(cfg_, static_cast<int64_t>(classes_.size()));
  if (!cfg_.weights.empty() && !ckpt) log_->message("weights: " + load_pretrained_backbone(*net_.backbone, cfg_.weights));
  aug_opts_ = stain::StainAugmentOptions::for_variant(cfg_.stain);
  aug_opts_.k = cfg_.k;
  aug_gen_.manual_seed(cfg_.seed + 0x5ADA);  // the augmentation's own stream, apart from init and loader

  size_t start_stage = 0;
  if (ckpt) {
    const std::string& st = ckpt->meta("stage");
    auto it = std::find(names.begin(), names.end(), st);
    SADANET_CHECK(it != names.end(), "resume: the checkpoint is at stage '", st, "', which a ", method_name(cfg_.method),
                  " run does not have");
    start_stage = static_cast<size_t>(it - names.begin());
    log_->truncate_after(st, parse_i64(ckpt->meta("step"), "resume: checkpoint metadata 'step'", 0, kMaxFileSteps));
  }
  enter_stage(start_stage);
  if (ckpt) {
    restore(*ckpt);
    log_->message("resume: continuing " + stage().name + " from step " + std::to_string(step_) + " (" +
                  result_.checkpoint + ")");
  }
  {
    std::ostringstream os;
    os << "model: " << arch_name(cfg_.arch) << ", " << net_.backbone->num_parameters() << " parameters, "
       << classes_.size() << " classes; " << method_name(cfg_.method) << " (" << cfg_.preset << " preset) on "
       << dev_.str() << ", " << num_threads() << " threads";
    log_->message(os.str());
  }

  internal::clear_stop();
  internal::SigintGuard guard(opts_.handle_sigint);
  for (;;) {
    if (!run_stage()) break;
    if (stage_idx_ + 1 < stages_.size()) {
      enter_stage(stage_idx_ + 1);
      continue;
    }
    finish();
    result_.message = "completed";
    break;
  }
  result_.rundir = opts_.out;
  result_.config = cfg_;
  result_.classes = classes_;
  result_.seconds = since(t_start);
  return result_;
}

}  // namespace

TrainResult run_training(const TrainConfig& cfg, const RunOptions& opts) {
  Trainer t(cfg, opts);
  return t.run();
}

}  // namespace sadanet::train
