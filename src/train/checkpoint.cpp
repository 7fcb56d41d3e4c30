#include "sadanet/train/checkpoint.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <nlohmann/json.hpp>

#include "sadanet/data/dataset.h"
#include "sadanet/parse_number.h"

namespace sadanet::train {
namespace {

std::mutex g_hook_mu;
CheckpointWriteHook g_hook;

bool exists(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0;
}

std::string next_path(const std::string& rundir) { return rundir + "/ckpt-next.safetensors"; }

void run_hook(const std::string& path) {
  CheckpointWriteHook h;
  {
    std::lock_guard<std::mutex> lk(g_hook_mu);
    h = g_hook;
  }
  if (h) h(path);
}

}  // namespace

namespace internal {
void run_write_hook(const std::string& path) { run_hook(path); }
}  // namespace internal

std::string checkpoint_path(const std::string& rundir) { return rundir + "/ckpt-latest.safetensors"; }
std::string previous_checkpoint_path(const std::string& rundir) { return rundir + "/ckpt-prev.safetensors"; }

std::string find_checkpoint(const std::string& rundir) {
  const std::vector<std::string> found = checkpoint_candidates(rundir);
  return found.empty() ? "" : found.front();
}

std::vector<std::string> checkpoint_candidates(const std::string& rundir) {
  std::vector<std::string> out;
  for (const std::string& p : {checkpoint_path(rundir), next_path(rundir), previous_checkpoint_path(rundir)})
    if (exists(p)) out.push_back(p);
  return out;
}

void set_checkpoint_write_hook(CheckpointWriteHook hook) {
  std::lock_guard<std::mutex> lk(g_hook_mu);
  g_hook = std::move(hook);
}

void save_checkpoint(const std::string& rundir, const io::NamedTensors& tensors,
                     const std::map<std::string, std::string>& metadata) {
  const std::string latest = checkpoint_path(rundir), prev = previous_checkpoint_path(rundir),
                    next = next_path(rundir);
  run_hook(next);
  io::write_safetensors(next, tensors, metadata);  // complete and fsynced, or an Error and no file
  if (exists(latest)) {
    // prev <- latest without a moment where latest is missing: link to a temporary name, then an
    // atomic rename over prev. File systems without hard links fall back to a rename.
    const std::string tmp = prev + ".tmp." + std::to_string(::getpid());
    ::unlink(tmp.c_str());
    if (::link(latest.c_str(), tmp.c_str()) == 0) {
      if (::rename(tmp.c_str(), prev.c_str()) != 0) ::unlink(tmp.c_str());  // prev is only a spare copy
    } else if (::rename(latest.c_str(), prev.c_str()) != 0) {
      throw Error(detail::concat("checkpoint: cannot move '", latest, "' to '", prev, "': ", std::strerror(errno),
                                 "; the new checkpoint is in '", next, "'"));
    }
  }
  if (::rename(next.c_str(), latest.c_str()) != 0)
    throw Error(detail::concat("checkpoint: cannot rename '", next, "' to '", latest, "': ", std::strerror(errno)));
}

void save_model_file(const std::string& path, const io::NamedTensors& tensors,
                     const std::map<std::string, std::string>& metadata) {
  run_hook(path);
  io::write_safetensors(path, tensors, metadata);
}

const std::string& LoadedFile::meta(const std::string& key) const {
  auto it = file.metadata.find(key);
  SADANET_CHECK(it != file.metadata.end(), "checkpoint: metadata key '", key, "' is missing");
  return it->second;
}

LoadedFile load_checkpoint_file(const std::string& path) {
  LoadedFile f;
  f.file = io::read_safetensors(path);
  auto get = [&](const char* key) -> const std::string& {
    auto it = f.file.metadata.find(key);
    SADANET_CHECK(it != f.file.metadata.end(), path, ": not a sadanet checkpoint or model file (no '", key,
                  "' in its metadata; expected a file written by `sadanet train`)");
    return it->second;
  };
  f.format = get("format");
  SADANET_CHECK(f.format == kCheckpointFormat || f.format == kModelFormat, path, ": unknown format '", f.format,
                "' (expected ", kCheckpointFormat, " or ", kModelFormat, ")");
  const std::string& version = get("version");
  SADANET_CHECK(version == kCheckpointVersion || (version == "1" && f.format == kModelFormat), path,
                ": format version ", version, ", this build reads version ", kCheckpointVersion,
                f.format == kCheckpointFormat && version == "1"
                    ? " (a version-1 checkpoint kept one optimizer per stage; it cannot be resumed: start the run again)"
                    : "");
  try {  // a doctored file must not size the networks or loops built from it
    f.config = config_from_json(get("config"));
    f.config.check_file_limits();
  } catch (const Error& e) {
    throw Error(path + ": metadata 'config': " + e.what());
  }
  try {
    f.classes = nlohmann::json::parse(get("classes")).get<std::vector<std::string>>();
  } catch (const nlohmann::json::exception& e) {
    throw Error(path + ": metadata 'classes' is not a JSON list of names: " + e.what());
  }
  SADANET_CHECK(f.classes.size() >= 2 && f.classes.size() <= static_cast<size_t>(kMaxFileClasses), path,
                ": metadata 'classes': expected 2..", kMaxFileClasses, " class names, got ", f.classes.size());
  const std::string& h = get("split_hash");
  SADANET_CHECK(h.size() == 16, path, ": metadata 'split_hash' should be 16 hex digits, got '", h, "'");
  f.split_hash = parse_u64(h, path + ": metadata 'split_hash'", 16);
  return f;
}

std::map<std::string, std::string> base_metadata(const std::string& format, const TrainConfig& cfg,
                                                 const std::vector<std::string>& classes, uint64_t split_hash) {
  return {{"format", format},
          {"version", kCheckpointVersion},
          {"config", config_to_json(cfg, -1)},
          {"classes", nlohmann::json(classes).dump()},
          {"split_hash", data::hex64(split_hash)}};
}

}  // namespace sadanet::train
