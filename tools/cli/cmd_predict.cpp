// `sadanet predict --model M [options] IMAGE|DIR...`: the class of every image with a trained
// model (a run's final.safetensors or last.safetensors, a checkpoint, or a torchvision ResNet-50),
// whose file says the architecture, input size, normalisation and class names. Folders are read
// recursively (files named .jpg/.jpeg/.png/.bmp, sorted); a file that cannot be read is reported
// on its own line and the rest go on; the exit status is 1 when any image failed.
#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "sadanet/classifier.h"
#include "sadanet/error.h"
#include "sadanet/io/csv.h"
#include "sadanet/io/files.h"
#include "sadanet/runtime.h"

namespace sadanet::cli {
namespace {

namespace fs = std::filesystem;

struct PredictArgs {
  std::string model, device = "cpu", csv;
  std::vector<std::string> inputs;
  int batch = 16, threads = 0, top_k = 3;
  int64_t max_pixels = 64'000'000;
  bool json = false;
};

bool has_image_extension(const fs::path& p) {
  std::string e = p.extension().string();
  std::transform(e.begin(), e.end(), e.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return e == ".jpg" || e == ".jpeg" || e == ".jpe" || e == ".png" || e == ".bmp";
}

// What to classify, in argument order, each folder's images sorted by path. A named file is
// always tried (the content decides its type); in folders only image names are taken and the
// rest counted. A path that does not exist or a folder that cannot be listed is an entry with
// its error already set.
struct Entry {
  std::string path, error;
};
struct Inputs {
  std::vector<Entry> entries;
  int64_t files = 0, ignored = 0;
};

Inputs gather(const std::vector<std::string>& args) {
  Inputs in;
  for (const auto& a : args) {
    std::error_code ec;
    const fs::file_status st = fs::status(a, ec);
    if (ec || !fs::exists(st)) {
      in.entries.push_back({a, "no such file or folder"});
      continue;
    }
    if (!fs::is_directory(st)) {
      in.entries.push_back({a, ""});
      ++in.files;
      continue;
    }
    std::vector<std::string> found;
    fs::recursive_directory_iterator it(a, fs::directory_options::skip_permission_denied, ec), end;
    for (; !ec && it != end; it.increment(ec)) {
      std::error_code fe;
      if (!it->is_regular_file(fe)) continue;
      if (has_image_extension(it->path())) found.push_back(it->path().string());
      else ++in.ignored;
    }
    std::sort(found.begin(), found.end());
    for (auto& f : found) in.entries.push_back({std::move(f), ""});
    in.files += static_cast<int64_t>(found.size());
    if (ec) in.entries.push_back({a, "cannot list the folder: " + ec.message()});
  }
  return in;
}

std::string fixed(double v, int digits) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

// One line of each output per result.
struct Writers {
  const PredictArgs& a;
  std::string csv;

  std::vector<std::string> csv_header() const {
    std::vector<std::string> h{"path", "label", "index", "probability"};
    for (int k = 2; k <= a.top_k; ++k) {
      h.push_back("label_" + std::to_string(k));
      h.push_back("probability_" + std::to_string(k));
    }
    h.push_back("error");
    return h;
  }

  void write(const Classifier::FileResult& r) {
    const auto top = r.ok ? r.prediction.top(static_cast<size_t>(a.top_k)) : std::vector<ClassScore>{};
    if (!a.csv.empty()) {
      std::vector<std::string> row{r.path};
      if (r.ok) {
        row.push_back(top[0].label);
        row.push_back(std::to_string(top[0].index));
        row.push_back(fixed(top[0].probability, 6));
      } else {
        row.insert(row.end(), {"", "", ""});
      }
      for (int k = 1; k < a.top_k; ++k) {
        const bool have = static_cast<size_t>(k) < top.size();
        row.push_back(have ? top[k].label : "");
        row.push_back(have ? fixed(top[k].probability, 6) : "");
      }
      row.push_back(r.ok ? "" : r.error);
      csv += io::csv_row(row);
    }
    if (a.json) {
      nlohmann::ordered_json j{{"path", r.path}, {"ok", r.ok}};
      if (r.ok) {
        j["label"] = r.prediction.label;
        j["index"] = r.prediction.index;
        j["probability"] = r.prediction.probability;
        nlohmann::ordered_json t = nlohmann::ordered_json::array();
        for (const auto& s : top) t.push_back({{"label", s.label}, {"index", s.index}, {"probability", s.probability}});
        j["top"] = t;
        j["probabilities"] = r.prediction.probabilities;
        j["logits"] = r.prediction.logits;
      } else {
        j["error"] = r.error;
      }
      std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    } else if (r.ok) {
      std::cout << r.path << "  " << top[0].label << " " << fixed(top[0].probability, 3);
      if (top.size() > 1) {
        std::cout << "  (";
        for (size_t k = 1; k < top.size(); ++k) std::cout << (k > 1 ? ", " : "") << top[k].label << " " << fixed(top[k].probability, 3);
        std::cout << ")";
      }
      std::cout << "\n";
    } else {
      std::cout << r.path << "  error: " << r.error << "\n";
    }
    std::cout.flush();
  }
};

// --csv FILE must be writable where it is asked for, checked before the model is even read.
void check_csv_target(const std::string& path) {
  if (path.empty()) return;
  const fs::path p(path);
  std::error_code ec;
  SADANET_CHECK(!fs::is_directory(p, ec), "predict: --csv ", path, " is a folder; expected a file name");
  const fs::path parent = p.parent_path().empty() ? fs::path(".") : p.parent_path();
  SADANET_CHECK(fs::is_directory(parent, ec), "predict: --csv ", path, ": the folder ", parent.string(),
                " does not exist");
}

void run_predict(const PredictArgs& a) {
  check_csv_target(a.csv);
  // `predict ... --csv out.csv | head`: the pipe closing must not kill the run before the CSV
  // file is written; printing simply stops (std::cout goes bad) and the rest carries on.
  if (!a.csv.empty()) std::signal(SIGPIPE, SIG_IGN);
  require_device(a.device, "predict");
  if (a.threads > 0) set_num_threads(a.threads);
  Inputs in = gather(a.inputs);
  ClassifierOptions o;
  o.device = a.device;
  o.max_pixels = a.max_pixels;
  const auto t0 = std::chrono::steady_clock::now();
  const Classifier clf = Classifier::load(a.model, o);
  std::cerr << "predict: " << a.model << ": " << clf.architecture() << ", " << clf.input_size() << " px, "
            << clf.classes().size() << " classes (";
  for (size_t i = 0; i < clf.classes().size() && i < 8; ++i) std::cerr << (i ? ", " : "") << clf.classes()[i];
  std::cerr << (clf.classes().size() > 8 ? ", ..." : "") << "), " << clf.device() << "; " << in.files
            << (in.files == 1 ? " image" : " images");
  if (in.ignored)
    std::cerr << " (" << in.ignored << (in.ignored == 1 ? " file" : " files")
              << " in the folders ignored: not named .jpg/.jpeg/.png/.bmp)";
  std::cerr << "\n";

  Writers w{a, {}};
  if (!a.csv.empty()) w.csv = io::csv_row(w.csv_header());
  int64_t failed = 0, done = 0;
  std::vector<std::string> chunk;
  auto flush = [&] {
    for (const auto& r : clf.predict_files(chunk)) {
      w.write(r);
      r.ok ? ++done : ++failed;
    }
    chunk.clear();
  };
  for (const Entry& e : in.entries) {
    if (e.error.empty()) {
      chunk.push_back(e.path);
      if (chunk.size() == static_cast<size_t>(a.batch)) flush();
      continue;
    }
    flush();  // results stay in argument order
    w.write({e.path, false, {}, e.error});
    ++failed;
  }
  flush();
  if (!a.csv.empty()) io::write_file_atomic(a.csv, w.csv);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cerr << "predict: " << done << (done == 1 ? " image" : " images") << " classified";
  if (failed) std::cerr << ", " << failed << " failed (see their lines)";
  if (!a.csv.empty()) std::cerr << "; wrote " << a.csv;
  std::cerr << " (" << fixed(s, 1) << " s)\n";
  if (failed) throw CLI::RuntimeError(1);
}

}  // namespace

void register_predict(CLI::App& app) {
  auto a = std::make_shared<PredictArgs>();
  CLI::App* c = app.add_subcommand("predict", "Classify images with a trained model: label, probability, top-k");
  c->footer(
      "Example:\n"
      "  sadanet predict --model runs/zheng18/final.safetensors cells/ --csv labels.csv\n"
      "Exit status: 0 every image classified, 1 an image or the model could not be read, 2 usage error.");
  c->add_option("--model", a->model, "Model file: a run's final.safetensors or last.safetensors, a checkpoint, or a "
                                     "torchvision ResNet-50 (.pth/.safetensors)")
      ->required()
      ->check(CLI::ExistingFile);
  c->add_option("inputs", a->inputs, "Image files (JPEG, PNG, BMP) and folders (read recursively)")->required();
  c->add_option("--csv", a->csv, "Also write the results as CSV: path,label,index,probability,label_2,...,error");
  c->add_flag("--json", a->json, "Print one JSON object per image instead of text: path, ok, label, index, "
                                 "probability, top, probabilities, logits (or error)");
  c->add_option("--top-k", a->top_k, "Classes shown per image")->check(CLI::Range(1, 100))->capture_default_str();
  c->add_option("--batch", a->batch, "Images per forward pass")->check(CLI::Range(1, 4096))->capture_default_str();
  c->add_option("--threads", a->threads, "CPU compute threads (0: the library's default)")
      ->check(CLI::Range(0, 1024))
      ->capture_default_str();
  c->add_option("--device", a->device, "cpu, cuda or cuda:N")->capture_default_str();
  c->add_option("--max-pixels", a->max_pixels, "Refuse image files whose header declares more pixels")
      ->check(positive())
      ->capture_default_str();
  c->callback([a] { run_predict(*a); });
}

}  // namespace sadanet::cli
