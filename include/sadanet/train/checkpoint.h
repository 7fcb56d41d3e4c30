// Checkpoints and model files: one safetensors file each, tensors plus "__metadata__" strings,
// written atomically by io::write_safetensors (temporary file, fsync, rename).
//
// Training checkpoints live in RUNDIR as ckpt-latest.safetensors with the one before it kept as
// ckpt-prev.safetensors. A save writes ckpt-next.safetensors completely first, then hard-links
// the current latest to ckpt-prev and renames next over latest: at every instant a complete
// latest (or, between the renames of the link-less fallback, next) exists, and a failed save
// leaves latest and prev as they were.
//
// Metadata keys every file has: "format" ("sadanet-checkpoint" for training checkpoints,
// "sadanet-model" for final/last models), "version", "config" (TrainConfig JSON), "classes"
// (JSON list), "split_hash" (16 hex digits). Checkpoints add "stage", "step" and the RNG and
// SWAD states (see trainer.cpp).
#pragma once
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "sadanet/io/safetensors.h"
#include "sadanet/train/config.h"

namespace sadanet::train {

inline constexpr const char* kCheckpointFormat = "sadanet-checkpoint";
inline constexpr const char* kModelFormat = "sadanet-model";
// 2: one optimizer over every parameter (2026-12); version-1 checkpoints held one per stage and
// cannot be resumed, version-1 model files still load.
inline constexpr const char* kCheckpointVersion = "2";

std::string checkpoint_path(const std::string& rundir);  // RUNDIR/ckpt-latest.safetensors
std::string previous_checkpoint_path(const std::string& rundir);
// The checkpoint to resume from: latest, else next (a save interrupted between its renames),
// else prev; "" when there is none.
std::string find_checkpoint(const std::string& rundir);
// Every checkpoint file present, in the order resume tries them (latest, next, prev).
std::vector<std::string> checkpoint_candidates(const std::string& rundir);

// Called with the path about to be written (checkpoints, model files, and each append to the
// run's metrics.jsonl / val.jsonl), before any byte is; throwing from it makes the write fail as
// a full disk would (tests). Pass {} to remove.
using CheckpointWriteHook = std::function<void(const std::string& path)>;
void set_checkpoint_write_hook(CheckpointWriteHook hook);

// Saves a training checkpoint with the rotation above. Throws sadanet::Error (latest and prev
// untouched) when the file cannot be written.
void save_checkpoint(const std::string& rundir, const io::NamedTensors& tensors,
                     const std::map<std::string, std::string>& metadata);
// Writes a model file (final.safetensors, last.safetensors) atomically.
void save_model_file(const std::string& path, const io::NamedTensors& tensors,
                     const std::map<std::string, std::string>& metadata);

// A checkpoint or model file, checked: it has the format marker and a config.
struct LoadedFile {
  io::TensorFile file;
  TrainConfig config;
  std::vector<std::string> classes;
  uint64_t split_hash = 0;
  std::string format;  // kCheckpointFormat or kModelFormat
  const std::string& meta(const std::string& key) const;  // throws naming the key when absent
};
LoadedFile load_checkpoint_file(const std::string& path);

// Metadata common to checkpoints and model files.
std::map<std::string, std::string> base_metadata(const std::string& format, const TrainConfig& cfg,
                                                 const std::vector<std::string>& classes, uint64_t split_hash);

}  // namespace sadanet::train
