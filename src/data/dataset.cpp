// Dataset scanning and the seeded, path-keyed split (see include/sadanet/data/dataset.h).
#include "sadanet/data/dataset.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "sadanet/error.h"

namespace fs = std::filesystem;

namespace sadanet::data {

const std::vector<std::string>& default_classes() {
  static const std::vector<std::string> k = {"basophil", "eosinophil", "lymphocyte", "monocyte", "neutrophil"};
  return k;
}

namespace {

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool is_image_name(const std::string& name) {
  auto dot = name.rfind('.');
  if (dot == std::string::npos) return false;
  std::string ext = lower(name.substr(dot + 1));
  return ext == "jpg" || ext == "jpeg" || ext == "png" || ext == "bmp";
}

bool hidden(const std::string& name) { return !name.empty() && name[0] == '.'; }

std::string join(const std::vector<std::string>& xs, const char* sep = ", ") {
  std::string out;
  for (const auto& x : xs) out += (out.empty() ? "" : sep) + x;
  return out;
}

// A few names and "(and N more)".
std::string some(const std::vector<std::string>& xs, size_t k = 5) {
  std::vector<std::string> head(xs.begin(), xs.begin() + std::min(k, xs.size()));
  std::string s = join(head);
  if (xs.size() > k) s += " (and " + std::to_string(xs.size() - k) + " more)";
  return s;
}

// Sorted names of the entries of a directory: folders and regular files (links followed), and
// the entries whose type cannot be read (a dangling or self-referencing link: ELOOP), with why.
struct Listing {
  std::vector<std::string> dirs, files, broken;
};
Listing list_dir(const fs::path& dir) {
  Listing l;
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  SADANET_CHECK(!ec, "dataset: cannot list ", dir.string(), ": ", ec.message());
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    SADANET_CHECK(!ec, "dataset: cannot list ", dir.string(), ": ", ec.message());
    std::string name = it->path().filename().string();
    if (hidden(name)) continue;
    std::error_code e2;
    const fs::file_status st = it->status(e2);  // follows links
    if (e2) l.broken.push_back(name + " (" + e2.message() + ")");
    else if (fs::is_directory(st)) l.dirs.push_back(name);
    else if (fs::is_regular_file(st)) l.files.push_back(name);
  }
  std::sort(l.dirs.begin(), l.dirs.end());
  std::sort(l.files.begin(), l.files.end());
  return l;
}

}  // namespace

int Dataset::domain_index(const std::string& name) const {
  for (size_t i = 0; i < domains.size(); ++i)
    if (domains[i] == name) return static_cast<int>(i);
  throw Error("dataset " + root + ": no domain '" + name + "'; the domains present are: " + join(domains));
}

std::vector<std::vector<int64_t>> Dataset::counts() const {
  std::vector<std::vector<int64_t>> c(domains.size(), std::vector<int64_t>(classes.size(), 0));
  for (const auto& it : items) ++c[it.domain][it.label];
  return c;
}

Dataset scan_dataset(const std::string& root, const ScanOptions& opts) {
  Dataset ds;
  ds.root = root;
  ds.classes = opts.classes.empty() ? default_classes() : opts.classes;
  {
    std::set<std::string> seen;
    for (const auto& c : ds.classes) {
      SADANET_CHECK(!c.empty(), "dataset: expected non-empty class names");
      SADANET_CHECK(seen.insert(lower(c)).second, "dataset: class '", c, "' is listed twice (names match case-insensitively)");
    }
  }
  std::map<std::string, size_t> alias;  // lower-case folder name -> class index
  for (const auto& [folder, cls] : opts.folder_classes) {
    auto it = std::find_if(ds.classes.begin(), ds.classes.end(), [&](const std::string& c) { return lower(c) == lower(cls); });
    SADANET_CHECK(it != ds.classes.end(), "dataset: the class map sends folder '", folder, "' to class '", cls,
                  "', which is not among the classes (", join(ds.classes), ")");
    SADANET_CHECK(alias.emplace(lower(folder), static_cast<size_t>(it - ds.classes.begin())).second,
                  "dataset: folder '", folder, "' is mapped twice (names match case-insensitively)");
  }
  std::error_code ec;
  SADANET_CHECK(fs::exists(root, ec), "dataset: the root folder ", root, " does not exist");
  SADANET_CHECK(fs::is_directory(root, ec), "dataset: the root ", root, " is not a folder");

  const Listing top = list_dir(root);
  if (!top.broken.empty()) ds.warnings.push_back("skipping entries that cannot be read: " + some(top.broken));
  std::vector<std::string> candidates;
  if (opts.domains.empty()) {
    candidates = top.dirs;
  } else {
    for (const auto& d : opts.domains) {
      if (std::find(top.dirs.begin(), top.dirs.end(), d) == top.dirs.end())
        throw Error("dataset " + root + ": requested domain '" + d + "' is absent; the folders present are: " +
                    (top.dirs.empty() ? std::string("(none)") : join(top.dirs)));
      if (std::find(candidates.begin(), candidates.end(), d) == candidates.end()) candidates.push_back(d);
    }
    std::sort(candidates.begin(), candidates.end());
  }

  std::vector<std::string> stray_top;
  for (const auto& dname : candidates) {
    const fs::path ddir = fs::path(root) / dname;
    const Listing dl = list_dir(ddir);
    if (!dl.broken.empty())
      ds.warnings.push_back("domain " + dname + ": skipping entries that cannot be read: " + some(dl.broken));
    // class folder for each class (case-insensitive), and the folders that match none
    // (a class may have several folders through the class map; its own name matches once)
    std::vector<std::vector<std::string>> folders(ds.classes.size());
    std::vector<std::string> own(ds.classes.size());
    std::vector<std::string> stray;
    for (const auto& sub : dl.dirs) {
      bool matched = false;
      for (size_t c = 0; c < ds.classes.size(); ++c) {
        if (lower(sub) == lower(ds.classes[c])) {
          if (!own[c].empty()) {
            ds.warnings.push_back("domain " + dname + ": folders " + own[c] + " and " + sub + " both match class " +
                                  ds.classes[c] + "; using " + own[c]);
          } else {
            own[c] = sub;
            folders[c].push_back(sub);
          }
          matched = true;
        }
      }
      if (auto a = alias.find(lower(sub)); !matched && a != alias.end()) {
        folders[a->second].push_back(sub);
        matched = true;
      }
      if (!matched) stray.push_back(sub);
    }
    const bool any_class = std::any_of(folders.begin(), folders.end(), [](const auto& f) { return !f.empty(); });
    if (!any_class && opts.domains.empty()) {  // not a domain at all
      stray_top.push_back(dname);
      continue;
    }
    const int domain = static_cast<int>(ds.domains.size());
    if (!stray.empty())
      ds.warnings.push_back("domain " + dname + ": ignoring folders that are not classes: " + join(stray));
    std::vector<Item> found;
    for (size_t c = 0; c < ds.classes.size(); ++c) {
      if (folders[c].empty()) {
        ds.warnings.push_back("domain " + dname + ": no folder for class " + ds.classes[c]);
        continue;
      }
      std::sort(folders[c].begin(), folders[c].end());
      for (const std::string& fc : folders[c]) {
        const Listing cl = list_dir(ddir / fc);
        std::vector<std::string> other;
        size_t n = 0;
        for (const auto& f : cl.files) {
          if (!is_image_name(f)) {
            other.push_back(f);
            continue;
          }
          Item it;
          it.rel = dname + "/" + fc + "/" + f;
          it.path = (fs::path(root) / dname / fc / f).string();
          it.domain = domain;
          it.label = static_cast<int32_t>(c);
          found.push_back(std::move(it));
          ++n;
        }
        if (!cl.broken.empty())
          ds.warnings.push_back("domain " + dname + ", class " + fc + ": skipping entries that cannot be read: " +
                                some(cl.broken));
        if (!cl.dirs.empty())
          ds.warnings.push_back("domain " + dname + ", class " + fc + ": ignoring sub-folders: " + some(cl.dirs));
        if (!other.empty())
          ds.warnings.push_back("domain " + dname + ", class " + fc + ": ignoring " + std::to_string(other.size()) +
                                " file(s) that are not .jpg/.jpeg/.png/.bmp: " + some(other));
        if (n == 0) ds.warnings.push_back("domain " + dname + ", class " + fc + ": no images (empty class folder)");
      }
    }
    SADANET_CHECK(!found.empty(), "dataset ", root, ": domain ", dname, " has no images (expected ",
                  "<domain>/<class>/<image> with classes ", join(ds.classes), ")");
    ds.domains.push_back(dname);
    for (auto& it : found) ds.items.push_back(std::move(it));
  }
  if (!stray_top.empty())
    ds.warnings.push_back("ignoring folders with none of the class folders (" + join(ds.classes) + "): " + join(stray_top));
  SADANET_CHECK(!ds.domains.empty(), "dataset ", root, ": no domains: expected sub-folders <domain>/<class>/ with classes ",
                join(ds.classes), (top.dirs.empty() ? std::string(", found no folders") : ", found folders " + join(top.dirs)));
  return ds;
}

const char* part_name(Part p) {
  switch (p) {
    case Part::train: return "train";
    case Part::val: return "val";
    case Part::test: return "test";
  }
  return "?";
}

uint64_t fnv1a64(std::string_view bytes, uint64_t h) {
  for (unsigned char c : bytes) {
    h ^= c;
    h *= kFnvPrime;
  }
  return h;
}

std::string hex64(uint64_t v) {
  static const char* d = "0123456789abcdef";
  std::string s(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4) s[i] = d[v & 15];
  return s;
}

namespace {
void check_split(const SplitOptions& o) {
  SADANET_CHECK(o.train_permille >= 0 && o.train_permille <= 1000, "split: expected train_permille in [0, 1000], got ",
                o.train_permille);
  SADANET_CHECK(o.val_permille >= 0 && o.val_permille <= 1000, "split: expected val_permille in [0, 1000], got ",
                o.val_permille);
}
}  // namespace

Part split_part(std::string_view rel, const SplitOptions& opts) {
  const std::string seed = std::to_string(opts.seed);
  uint64_t h = fnv1a64(rel, fnv1a64(":", fnv1a64(seed)));
  if (h % 1000 >= static_cast<uint64_t>(opts.train_permille)) return Part::test;
  uint64_t hv = fnv1a64(rel, fnv1a64(":val:", fnv1a64(seed)));
  return hv % 1000 < static_cast<uint64_t>(opts.val_permille) ? Part::val : Part::train;
}

uint64_t split_hash(const Dataset& ds, const SplitOptions& opts) {
  check_split(opts);
  std::ostringstream head;
  head << "sadanet-split-v1 seed=" << opts.seed << " train=" << opts.train_permille << " val=" << opts.val_permille
       << " classes=" << join(ds.classes, ",") << "\n";
  uint64_t h = fnv1a64(head.str());
  for (const auto& it : ds.items) {
    std::string line = it.rel;
    line += '\t';
    line += std::to_string(it.label);
    line += '\t';
    line += part_name(split_part(it.rel, opts));
    line += '\n';
    h = fnv1a64(line, h);
  }
  return h;
}

const char* target_eval_name(TargetEval t) { return t == TargetEval::all ? "all" : "test"; }
TargetEval target_eval_from_name(const std::string& name) {
  if (name == "test" || name == "test_part") return TargetEval::test_part;
  if (name == "all") return TargetEval::all;
  throw Error("target evaluation: expected 'test' or 'all', got '" + name + "'");
}

LodoSplit make_lodo_split(const Dataset& ds, const std::string& target, const SplitOptions& opts, TargetEval target_eval) {
  check_split(opts);
  LodoSplit s;
  s.target = target;
  s.target_domain = ds.domain_index(target);
  s.target_eval = target_eval;
  SADANET_CHECK(ds.domains.size() >= 2, "leave-one-domain-out: expected at least two domains, ", ds.root,
                " has only ", target);
  for (int d = 0; d < static_cast<int>(ds.domains.size()); ++d)
    if (d != s.target_domain) s.source_domains.push_back(d);
  for (const auto& it : ds.items) {
    const Part p = split_part(it.rel, opts);
    if (it.domain == s.target_domain) {
      if (target_eval == TargetEval::all || p == Part::test) s.target_test.push_back(it);
    } else if (p == Part::train) {
      s.source_train.push_back(it);
    } else if (p == Part::val) {
      s.source_val.push_back(it);
    } else {
      s.source_test.push_back(it);
    }
  }
  SADANET_CHECK(!s.source_train.empty(), "leave-one-domain-out (target ", target,
                "): the source domains have no training images (train_permille ", opts.train_permille, ")");
  SADANET_CHECK(!s.target_test.empty(), "leave-one-domain-out (target ", target,
                "): the target domain has no test images (train_permille ", opts.train_permille, ")");
  uint64_t h = split_hash(ds, opts);
  s.split_hash = fnv1a64(std::string("target=") + target + " eval=" + target_eval_name(target_eval), h);
  return s;
}

std::string describe_counts(const std::vector<Item>& items, const std::vector<std::string>& classes) {
  std::vector<int64_t> n(classes.size(), 0);
  for (const auto& it : items)
    if (it.label >= 0 && static_cast<size_t>(it.label) < n.size()) ++n[it.label];
  std::string s;
  for (size_t c = 0; c < classes.size(); ++c) s += (c ? ", " : "") + classes[c] + " " + std::to_string(n[c]);
  return s;
}

std::string describe(const Dataset& ds) {
  std::string s;
  auto c = ds.counts();
  for (size_t d = 0; d < ds.domains.size(); ++d) {
    int64_t total = 0;
    for (auto v : c[d]) total += v;
    s += ds.domains[d] + ": " + std::to_string(total) + " images (";
    for (size_t k = 0; k < ds.classes.size(); ++k)
      s += (k ? ", " : "") + ds.classes[k] + " " + std::to_string(c[d][k]);
    s += ")\n";
  }
  return s;
}

}  // namespace sadanet::data

namespace sadanet::data {
namespace {

std::string trim(const std::string& s) {
  const size_t a = s.find_first_not_of(" \t\r");
  if (a == std::string::npos) return "";
  const size_t b = s.find_last_not_of(" \t\r");
  return s.substr(a, b - a + 1);
}

// Appends one class (and its folders), checking the names as scan_dataset will use them.
void add_class(ClassList& out, const std::string& name, const std::vector<std::string>& folders,
               const std::string& where) {
  SADANET_CHECK(!name.empty(), where, ": expected a class name, got an empty one");
  SADANET_CHECK(name.find('/') == std::string::npos && name != "." && name != "..", where, ": class '", name,
                "' is not a folder name");
  for (const auto& c : out.classes)
    SADANET_CHECK(lower(c) != lower(name), where, ": class '", name, "' is listed twice (names match case-insensitively)");
  out.classes.push_back(name);
  for (const auto& f : folders) {
    SADANET_CHECK(!f.empty(), where, ": expected folder names after '", name, ":', got an empty one");
    SADANET_CHECK(out.folder_classes.emplace(f, name).second, where, ": folder '", f, "' is mapped twice");
  }
}

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    const size_t comma = s.find(',', start);
    out.push_back(trim(s.substr(start, comma == std::string::npos ? std::string::npos : comma - start)));
    if (comma == std::string::npos) return out;
    start = comma + 1;
  }
}

}  // namespace

ClassList parse_class_list(const std::string& comma_separated) {
  ClassList out;
  for (const auto& name : split_commas(comma_separated)) add_class(out, name, {}, "--classes");
  SADANET_CHECK(out.classes.size() >= 2, "--classes: expected at least 2 classes, got ", out.classes.size());
  return out;
}

ClassList read_class_map(const std::string& path) {
  std::error_code ec;
  SADANET_CHECK(fs::is_regular_file(path, ec), "--class-map ", path, ": expected a text file");
  SADANET_CHECK(fs::file_size(path, ec) <= (1u << 20), "--class-map ", path, ": over 1 MiB; expected a short text file");
  std::ifstream f(path);
  SADANET_CHECK(f, "--class-map ", path, ": cannot be read");
  ClassList out;
  std::string line;
  for (int n = 1; std::getline(f, line); ++n) {
    if (const size_t hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    line = trim(line);
    if (line.empty()) continue;
    const std::string where = path + ":" + std::to_string(n);
    const size_t colon = line.find(':');
    std::vector<std::string> folders;
    if (colon != std::string::npos) {
      folders = split_commas(line.substr(colon + 1));
      if (folders.size() == 1 && folders[0].empty()) folders.clear();  // "name:" with nothing after
    }
    add_class(out, trim(line.substr(0, colon)), folders, where);
  }
  SADANET_CHECK(out.classes.size() >= 2, "--class-map ", path, ": expected at least 2 classes, got ", out.classes.size());
  return out;
}

}  // namespace sadanet::data
