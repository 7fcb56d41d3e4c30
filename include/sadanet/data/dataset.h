// White-blood-cell datasets laid out <root>/<domain>/<class>/<image>: scanning, the seeded
// train/val/test split of every domain, and leave-one-domain-out (--target D) item lists.
//
// Scan: domains are the root's sub-folders (sorted byte-wise), classes are matched to folder
// names case-insensitively, images are files ending .jpg/.jpeg/.png/.bmp (any case); everything
// is sorted, so the item order is the same on every machine whatever the file system returns.
// Hidden entries (names starting with '.') and plain files directly under the root or a domain
// are ignored silently; stray folders, missing or empty class folders and non-image files are
// reported in Dataset::warnings (the library never prints).
//
// Split: each item's part is a pure function of (seed, relative path), so it does not depend on
// which other files exist, their order, or the machine:
//   h    = FNV-1a-64("<seed>:<domain>/<class>/<file>")        (seed in decimal)
//   test   when h % 1000 >= train_permille (default 800: an 80/20 train/test split per domain)
//   else hv = FNV-1a-64("<seed>:val:<domain>/<class>/<file>")
//   val    when hv % 1000 < val_permille   (default 100: 10% of the train part, for SWAD)
//   train  otherwise.
// The split is not stratified by class: a class with one image lands in one part only.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace sadanet::data {

// basophil, eosinophil, lymphocyte, monocyte, neutrophil: the label order by default.
const std::vector<std::string>& default_classes();

struct Item {
  std::string path;    // root/rel, as a path to open
  std::string rel;     // "<domain>/<class>/<file>" with the names found on disk: the split's key
  int32_t domain = 0;  // index into Dataset::domains
  int32_t label = 0;   // index into Dataset::classes
};

struct ScanOptions {
  std::vector<std::string> classes;  // label order; empty = default_classes()
  std::vector<std::string> domains;  // empty = every domain folder; else exactly these (error if one is absent)
  // Further folder names for a class (folder -> class, both matched case-insensitively): a lab's
  // "segmented neutrophil" and "band neutrophil" folders both read as neutrophil. Every class
  // named here must be in `classes`.
  std::map<std::string, std::string> folder_classes;
};

// A class list as a user writes it: `--classes a,b,c`, or a class-map file of one class per line
// in label order, optionally followed by ':' and the folders that hold it ("neutrophil: band,
// segmented"; the class's own name always matches too). '#' starts a comment; blank lines are
// skipped. Throws sadanet::Error naming the file and line for a malformed, empty or duplicated
// entry.
struct ClassList {
  std::vector<std::string> classes;
  std::map<std::string, std::string> folder_classes;
};
ClassList parse_class_list(const std::string& comma_separated);
ClassList read_class_map(const std::string& path);

struct Dataset {
  std::string root;
  std::vector<std::string> domains;   // sorted byte-wise
  std::vector<std::string> classes;   // label order
  std::vector<Item> items;            // by domain, then class (label order), then folder and file name
  std::vector<std::string> warnings;  // stray folders, missing/empty class folders, non-image files,
                                      // entries that cannot be read (dangling or looping links)

  // Index of a domain; throws sadanet::Error naming the domains present.
  int domain_index(const std::string& name) const;
  // counts()[domain][label]: the number of images.
  std::vector<std::vector<int64_t>> counts() const;
};

// Throws sadanet::Error for a missing or unreadable root, no domain folder with class folders, a
// requested domain that is absent (naming those present), a domain without a single image, or
// an empty or duplicated class list.
Dataset scan_dataset(const std::string& root, const ScanOptions& opts = {});

enum class Part : uint8_t { train, val, test };
const char* part_name(Part p);  // "train", "val", "test"

struct SplitOptions {
  uint64_t seed = 0;
  int train_permille = 800;  // per domain: h % 1000 < this -> train part (val included), else test
  int val_permille = 100;    // of the train part: hv % 1000 < this -> val (0: no val part)
};

inline constexpr uint64_t kFnvOffset = 14695981039346656037ull;
inline constexpr uint64_t kFnvPrime = 1099511628211ull;
// FNV-1a 64 of the bytes, continuing from h.
uint64_t fnv1a64(std::string_view bytes, uint64_t h = kFnvOffset);
std::string hex64(uint64_t v);  // 16 lower-case hex digits

// The part of one item from its relative path "<domain>/<class>/<file>".
Part split_part(std::string_view rel, const SplitOptions& opts = {});
// A digest of the whole assignment: the options, the classes, and every item's relative path,
// label and part. Equal digests mean the same items in the same parts; checkpoints store it.
uint64_t split_hash(const Dataset& ds, const SplitOptions& opts = {});

// What the target domain is evaluated on.
enum class TargetEval : uint8_t {
  test_part,  // its test part (the same 20% a source domain holds out)
  all,        // every image of the target domain (the usual DomainGeneralization protocol)
};
const char* target_eval_name(TargetEval t);               // "test", "all"
TargetEval target_eval_from_name(const std::string& name);  // throws otherwise

// Leave-one-domain-out: train on every other domain, test on the target.
struct LodoSplit {
  std::string target;
  int target_domain = -1;
  std::vector<int> source_domains;  // sorted
  std::vector<Item> source_train;   // train part of the sources (val excluded)
  std::vector<Item> source_val;     // val part of the sources (for SWAD / model selection)
  std::vector<Item> source_test;    // test part of the sources (in-domain accuracy)
  std::vector<Item> target_test;    // the target's test part, or all of it (TargetEval::all)
  TargetEval target_eval = TargetEval::test_part;
  uint64_t split_hash = 0;          // split_hash(ds, opts) mixed with the target and target_eval
};
// Throws sadanet::Error when the target is absent (naming the domains present), when it is the
// only domain, or when a part the training needs comes out empty (no source training images, no
// target test images).
LodoSplit make_lodo_split(const Dataset& ds, const std::string& target, const SplitOptions& opts = {},
                          TargetEval target_eval = TargetEval::test_part);

// "acevedo20: 1469 images (basophil 174, ...)" lines, one per domain, for logs.
std::string describe(const Dataset& ds);
// Per-class counts of an item list as "basophil 12, eosinophil 40, ...".
std::string describe_counts(const std::vector<Item>& items, const std::vector<std::string>& classes);

}  // namespace sadanet::data
