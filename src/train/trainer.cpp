#include "sadanet/train/trainer.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "sadanet/io/files.h"
#include "sadanet/data/dataset.h"
#include "sadanet/data/loader.h"
#include "sadanet/optim.h"
#include "sadanet/parse_number.h"
#include "sadanet/runtime.h"
#include "sadanet/train/checkpoint.h"
#include "sadanet/train/evaluate.h"
#include "sadanet/train/model.h"
#include "sadanet/train/model_card.h"
#include "sadanet/train/run_dir.h"
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

// Why the run stops with TrainStatus::failed (a file could not be written, the data gave out).
struct RunFailure {
  std::string message;
};


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
  // Writes a checkpoint (retrying once after removing the run's temporaries); false when both
  // tries failed, with the reason in *why.
  bool save_checkpoint_now(std::string* why = nullptr);
  // A checkpoint of the last completed step, then RunFailure: what a failing metrics append or
  // data loader leads to.
  [[noreturn]] void fail_after_checkpoint(const std::string& what);
  void check_resume_environment(const LoadedFile& f);
  bool run_stage();  // false: the run stops (interrupted or diverged)
  void finish();
  void remove_checkpoints();
  std::string config_with_provenance() const;
  const StageSpec& stage() const { return stages_[stage_idx_]; }
  // The reference's early stop, held back while the average is too short to be shipped (it
  // would be replaced by the last model, so training on is the better use of the steps).
  bool valley_closed() const {
    return swad_ && cfg_.swad.early_stop && swad_->valley().dead_valley() && long_enough(swad_->valley().averaged_steps());
  }
  bool long_enough(int64_t averaged) const {
    return static_cast<double>(averaged) >= cfg_.swad.min_share * static_cast<double>(stage().steps);
  }
  std::vector<Tensor> all_trainable() const;
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
  // "after <stage> step <n> in RUNDIR/ckpt-latest.safetensors", or the "none" of last_good_.
  std::string last_good_where() const {
    return last_good_ + (last_good_.rfind("none", 0) == 0 ? "" : " in " + checkpoint_path(opts_.out));
  }
  RunDirLock lock_;
  Clock::time_point last_ckpt_time_ = Clock::now();
};

void Trainer::prepare_rundir() {
  SADANET_CHECK(!opts_.out.empty(), "train: expected an output folder (--out RUNDIR), got an empty path");
  create_run_dir(opts_.out, opts_.dir_mode);
  if (opts_.take_lock) lock_ = RunDirLock(opts_.out, "train");
  check_run_dir_links(opts_.out);
  for (const auto& f : remove_orphan_temporaries(opts_.out))
    result_.warnings.push_back("removed " + f + ", a temporary file an interrupted process left in " + opts_.out);
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
  // ckpt-latest, else ckpt-next (a save cut between its renames), else ckpt-prev: the first that
  // loads and passes its checksum. A torn or corrupt file is passed over, saying why.
  std::optional<LoadedFile> found;
  std::string path, skipped;
  for (const std::string& p : checkpoint_candidates(opts_.out)) {
    try {
      LoadedFile f = load_checkpoint_file(p);
      SADANET_CHECK(f.format == kCheckpointFormat, "'", p, "' is a model file, not a training checkpoint");
      found = std::move(f);
      path = p;
      break;
    } catch (const Error& e) {
      skipped += "\n  " + std::string(e.what());
    }
  }
  if (!found) {
    SADANET_CHECK(skipped.empty(), "resume: no usable checkpoint in ", opts_.out, ":", skipped,
                  "\nmove the run folder aside and start again, or fix the files");
    SADANET_CHECK(!fs::exists(fs::path(opts_.out) / "final.safetensors"), "resume: ", opts_.out,
                  " holds a finished run (final.safetensors; its checkpoints were removed when it finished): there is "
                  "nothing to resume; use --initial-checkpoint ", opts_.out,
                  "/final.safetensors in a new run to train it further");
    *out_ << "resume: no checkpoint in " << opts_.out << "; starting from step 0\n";
    return std::nullopt;
  }
  if (!skipped.empty()) {
    const std::string w = "resume: passed over unusable checkpoints:" + skipped + "\n  continuing from " + path;
    result_.warnings.push_back(w);
    *out_ << "warning: " << w << "\n";
  }
  LoadedFile& f = *found;
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
  merged.max_pixels = cfg_.max_pixels;
  merged.eval_batch = cfg_.eval_batch;
  merged.log_every = cfg_.log_every;
  merged.ckpt_every = cfg_.ckpt_every;
  merged.ckpt_minutes = cfg_.ckpt_minutes;
  cfg_ = merged;
  result_.checkpoint = path;
  return found;
}

// Bit-exact resume needs the arithmetic of the first process: the same compute-thread count
// (reductions split by thread) and device. Checkpoints before this check have no record: allowed.
void Trainer::check_resume_environment(const LoadedFile& f) {
  std::string diff;
  auto it = f.file.metadata.find("compute_threads");
  if (it != f.file.metadata.end() && it->second != std::to_string(num_threads()))
    diff += "\n  compute threads: " + it->second + " then, " + std::to_string(num_threads()) + " now (--threads " +
            it->second + " gives the same)";
  it = f.file.metadata.find("device");
  if (it != f.file.metadata.end() && it->second != dev_.str())
    diff += "\n  device: " + it->second + " then, " + dev_.str() + " now (--device " + it->second + ")";
  if (diff.empty()) return;
  if (!opts_.allow_nondeterministic_resume)
    throw Error("resume: the checkpoint was written by a process that computed differently:" + diff +
                "\nthe resumed run would not be bit-identical to an uninterrupted one; resume with the same "
                "settings, or pass --allow-nondeterministic-resume to continue anyway");
  const std::string w = "resume: continuing with other arithmetic than the checkpoint's; the result will not be "
                        "bit-identical to an uninterrupted run:" + diff;
  result_.warnings.push_back(w);
  log_->message("warning: " + w);
}

void Trainer::setup_data() {
  data::ScanOptions scan;
  scan.classes = cfg_.classes;
  scan.folder_classes = cfg_.class_folders;
  ds_ = data::scan_dataset(cfg_.data, scan);
  for (const auto* names : {&ds_.domains, &ds_.classes})
    for (const auto& n : *names) {
      const size_t at = invalid_utf8_at(n);
      SADANET_CHECK(at == std::string::npos, "train: the folder name '", n, "' under ", cfg_.data,
                    " has a byte that is not UTF-8 at offset ", at,
                    "; domain and class names go into the model file's JSON metadata: rename the folder");
    }
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
  lo.decode.max_pixels = cfg_.max_pixels;
  loader_ = std::make_unique<data::BatchLoader>(split_.source_train, lo);
  for (const auto& b : loader_->bad_images()) *out_ << "data: skipping unreadable " << b.reason << "\n";
  if (cfg_.swad.enabled && !split_.source_val.empty()) {
    val_loader_ = make_eval_loader(split_.source_val, cfg_.size, cfg_.eval_batch, cfg_.loader_threads, cfg_.cache,
                                   cfg_.max_pixels);
    for (const auto& b : val_loader_->bad_images())
      *out_ << "data: skipping unreadable (validation) " << b.reason << "\n";
  }

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

std::vector<Tensor> Trainer::all_trainable() const {
  std::vector<Tensor> all = net_.backbone->parameters();
  for (auto* head : {static_cast<nn::Module*>(net_.la.get()), static_cast<nn::Module*>(net_.projector.get())})
    if (head)
      for (auto& t : head->parameters()) all.push_back(t);
  return all;
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
  // One Adam over every parameter for the whole run, as the authors' code: parameters without a
  // gradient in a stage are left alone (zero_grad drops gradients), and stage 2 continues with
  // the moments of stage 1 instead of a fresh start's sign-like full-size steps.
  if (!opt_ || (idx > 0 && cfg_.stage2_fresh_optimizer)) {
    optim::AdamOptions ao;
    ao.lr = cfg_.lr;
    opt_ = std::make_unique<optim::Adam>(all_trainable(), ao);
  }
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
    const std::string& v = f.meta("aug_rng");  // "<seed> <offset>"
    const size_t sp = v.find(' ');
    SADANET_CHECK(sp != std::string::npos, "resume: checkpoint metadata 'aug_rng' should be two numbers, got '", v, "'");
    const uint64_t seed = parse_u64(std::string_view(v).substr(0, sp), "resume: checkpoint metadata 'aug_rng' seed");
    const uint64_t offset = parse_u64(std::string_view(v).substr(sp + 1), "resume: checkpoint metadata 'aug_rng' offset");
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

bool Trainer::save_checkpoint_now(std::string* why) {
  io::NamedTensors tensors = network_tensors(net_, /*with_heads=*/true);
  for (auto& [k, t] : opt_->state_dict()) tensors.emplace_back("optim." + k, t);
  auto meta = metadata(kCheckpointFormat);
  meta["stage"] = stage().name;
  meta["step"] = std::to_string(step_);
  meta["loader_state"] = loader_->state().to_json();
  meta["aug_rng"] = std::to_string(aug_gen_.seed()) + " " + std::to_string(aug_gen_.offset());
  meta["compute_threads"] = std::to_string(num_threads());
  meta["device"] = dev_.str();
  if (swad_) {
    for (auto& st : swad_->state_tensors()) tensors.push_back(st);
    meta["swad"] = swad_->state_json();
  }
  const std::string where = "after " + stage().name + " step " + std::to_string(step_);
  last_ckpt_time_ = Clock::now();
  for (int attempt = 0; attempt < 2; ++attempt) {
    try {
      save_checkpoint(opts_.out, tensors, meta);
      last_good_ = where;
      result_.checkpoint = checkpoint_path(opts_.out);
      return true;
    } catch (const Error& e) {
      const std::string msg = "the checkpoint " + where + " could not be written: " + e.what();
      result_.checkpoint_errors.push_back(msg);
      if (attempt == 0) {
        // Our own leftovers may be what fills the disk; a second try after removing them.
        log_->message("warning: " + msg + "; removing the run's temporary files and trying once more");
        remove_orphan_temporaries(opts_.out);
      } else if (why) {
        *why = e.what();
      }
    }
  }
  return false;
}

void Trainer::fail_after_checkpoint(const std::string& what) {
  std::string why;
  const bool saved = save_checkpoint_now(&why);
  std::string msg = what + "; ";
  if (saved) msg += "wrote a checkpoint after " + stage().name + " step " + std::to_string(step_) + " (" +
                    checkpoint_path(opts_.out) + "); fix the cause and continue with --resume";
  else msg += "the checkpoint could not be written either (" + why + "); the last good checkpoint is " +
              last_good_where();
  throw RunFailure{msg};
}

bool Trainer::run_stage() {
  const StageSpec& s = stage();
  while (step_ < s.steps && !valley_closed()) {
    const int64_t step = step_;
    internal::StepTimes t;
    const auto t_step = Clock::now();
    auto t0 = Clock::now();
    std::optional<data::Batch> batch;
    try {
      batch = loader_->next();
      SADANET_CHECK(batch.has_value(), "train: the training loader ran dry");
    } catch (const Error& e) {
      // Nothing of this step has happened yet: the checkpoint is of the last completed one.
      fail_after_checkpoint(detail::concat("the data loader stopped at ", s.name, " step ", step + 1, ": ", e.what()));
    }
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
                                         last_good_where());
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
    try {
      log_->step(rec);
    } catch (const Error& e) {
      fail_after_checkpoint(std::string("the metrics log could not be written: ") + e.what());
    }

    if (swad_ && swad_->should_evaluate(step)) {
      const double vl = domain_mean_loss(predict(*net_.backbone, *val_loader_, dev_));
      swad_->evaluate(vl);
      apply_mode();
      try {
        log_->validation(s.name, step_, vl, swad_->valley().last_event());
      } catch (const Error& e) {
        fail_after_checkpoint(std::string("the validation log could not be written: ") + e.what());
      }
    }
    if (opts_.hooks.on_step_end) opts_.hooks.on_step_end(s.name, step);
    const bool stage_end = step_ == s.steps || valley_closed();
    const bool time_due = cfg_.ckpt_minutes > 0 && since(last_ckpt_time_) >= cfg_.ckpt_minutes * 60;
    std::string why;
    if ((stop_requested() || stage_end || time_due || step_ % cfg_.ckpt_every == 0) && !save_checkpoint_now(&why))
      throw RunFailure{"the checkpoint after " + s.name + " step " + std::to_string(step_) +
                       " could not be written (" + why + "), twice; the run stops rather than train on unsaved. " +
                       "The last good checkpoint is " + last_good_where() +
                       "; free space and continue with --resume"};
    if (stop_requested()) {
      result_.status = TrainStatus::interrupted;
      result_.signal = internal::stop_signal();
      result_.message = (result_.signal ? std::string(::strsignal(result_.signal)) + ": " : std::string()) +
                        "interrupted after " + s.name + " step " + std::to_string(step_) + "/" +
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

// config.json: the config, and under "provenance" what else decides or explains the result:
// the build, the thread count actually used, and the dataset as scanned (config_from_json
// skips that key).
std::string Trainer::config_with_provenance() const {
  nlohmann::ordered_json j = nlohmann::ordered_json::parse(config_to_json(cfg_));
  j["provenance"] = {{"sadanet_version", version()},
                     {"source_commit", source_commit()},
                     {"build", build_info()},
                     {"compute_threads", cfg_.threads > 0 ? cfg_.threads : num_threads()},
                     {"dataset_images", ds_.items.size()},
                     {"dataset_domains", ds_.domains},
                     {"split_hash", data::hex64(split_.split_hash)}};
  return j.dump(2);
}

void Trainer::remove_checkpoints() {
  uintmax_t bytes = 0;
  int n = 0;
  for (const std::string& p : {checkpoint_path(opts_.out), previous_checkpoint_path(opts_.out),
                               opts_.out + "/ckpt-next.safetensors"}) {
    std::error_code ec;
    const uintmax_t size = fs::file_size(p, ec);
    if (ec) continue;
    if (fs::remove(p, ec)) {
      bytes += size;
      ++n;
    } else if (ec) {
      log_->message("warning: could not remove " + p + ": " + ec.message());
    }
  }
  if (n)
    log_->message(detail::concat("removed the run's ", n, " training checkpoint", n > 1 ? "s" : "", " (",
                                 bytes / 1000000, " MB); the model files stay (--keep-checkpoints keeps them)"));
}

void Trainer::finish() {
  const std::string last = opts_.out + "/last.safetensors", fin = opts_.out + "/final.safetensors";
  auto meta = metadata(kModelFormat);
  meta["stage"] = stage().name;
  meta["step"] = std::to_string(step_);
  meta["kind"] = "last";
  auto save_model = [&](const std::string& path) {
    try {
      save_model_file(path, network_tensors(net_, false), meta);
    } catch (const Error& e) {
      throw RunFailure{std::string("the model file could not be written: ") + e.what() + "; the training is safe in " +
                       checkpoint_path(opts_.out) + " (" + last_good_ + "): continue with --resume to write it again"};
    }
  };
  save_model(last);

  std::string note = "SWAD off: final.safetensors = last.safetensors";
  if (swad_) {
    std::optional<AveragedWeights> w = swad_->valley().final_weights(&note);
    if (w && !long_enough(w->end_step - w->start_step + 1)) {
      note += detail::concat("; that is ", w->end_step - w->start_step + 1, " of the stage's ", stage().steps,
                             " steps, under the ", cfg_.swad.min_share * 100,
                             "% minimum (--swad-min-share): final.safetensors = the last model");
      w.reset();
    }
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
  save_model(fin);
  ModelCardInput card;
  card.config = cfg_;
  card.classes = classes_;
  card.domains = ds_.domains;
  card.split = &split_;
  card.parameters = net_.backbone->num_parameters();
  card.swad_note = note;
  card.stage = stage().name;
  card.step = step_;
  try {
    write_model_card(opts_.out, card);
  } catch (const Error& e) {  // the models are written: a card that failed is reported, not fatal
    log_->message(std::string("warning: model card not written: ") + e.what());
  }
  result_.swad_note = note;
  result_.final_path = fin;
  result_.last_path = last;
}

TrainResult Trainer::run() {
  const auto t_start = Clock::now();
  cfg_.validate();  // before the run folder exists: a typo must not leave an empty folder behind
  require_device(cfg_.device, "train");
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
  for (const auto& w : result_.warnings) log_->message("warning: " + w);

  setup_data();
  if (ckpt) {
    SADANET_CHECK(ckpt->split_hash == split_.split_hash, "resume: the dataset's split differs from the run's (split hash ",
                  data::hex64(split_.split_hash), " vs saved ", data::hex64(ckpt->split_hash),
                  "): images were added, removed or renamed under ", cfg_.data);
    SADANET_CHECK(ckpt->classes == classes_, "resume: the dataset's classes differ from the run's");
  }
  io::write_file_atomic(opts_.out + "/config.json", config_with_provenance() + "\n");

  net_ = build_networks(cfg_, static_cast<int64_t>(classes_.size()));
  if (!cfg_.weights.empty() && !ckpt) log_->message("weights: " + load_initial_weights(*net_.backbone, cfg_.weights, classes_));
  aug_opts_ = stain::StainAugmentOptions::for_variant(cfg_.stain);
  aug_opts_.k = cfg_.k > 0 ? cfg_.k : std::max<int>(2, static_cast<int>(split_.source_domains.size()));
  if (cfg_.method == Method::sada)
    log_->message("stain clusters: k = " + std::to_string(aug_opts_.k) +
                  (cfg_.k > 0 ? "" : " (auto: one per source domain)"));
  aug_gen_.manual_seed(cfg_.seed + 0x5ADA);  // the augmentation's own stream, apart from init and loader

  size_t start_stage = 0;
  if (ckpt) {
    const std::string& st = ckpt->meta("stage");
    auto it = std::find(names.begin(), names.end(), st);
    SADANET_CHECK(it != names.end(), "resume: the checkpoint is at stage '", st, "', which a ", method_name(cfg_.method),
                  " run does not have");
    start_stage = static_cast<size_t>(it - names.begin());
    log_->truncate_after(st, parse_i64(ckpt->meta("step"), "resume: checkpoint metadata 'step'", 0, kMaxFileSteps));
  } else if (opts_.resume) {
    log_->truncate_after(names.front(), 0);  // a process killed before its first checkpoint logged steps
  }
  enter_stage(start_stage);
  if (ckpt) {
    check_resume_environment(*ckpt);
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
  internal::StopSignalGuard guard(opts_.handle_signals);
  last_ckpt_time_ = Clock::now();
  try {
    for (;;) {
      if (!run_stage()) break;
      if (stage_idx_ + 1 < stages_.size()) {
        enter_stage(stage_idx_ + 1);
        continue;
      }
      finish();
      result_.message = "completed";
      if (!opts_.keep_checkpoints) remove_checkpoints();
      break;
    }
  } catch (const RunFailure& f) {
    result_.status = TrainStatus::failed;
    result_.message = f.message;
    log_->message("error: " + f.message);
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
