#include "train/run_log.h"

#include <cmath>
#include <cstdio>
#include <iomanip>
#include <nlohmann/json.hpp>
#include <sstream>

#include "sadanet/io/files.h"
#include "sadanet/error.h"

namespace sadanet::train::internal {
namespace {

using json = nlohmann::ordered_json;


std::string eta(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const int64_t s = static_cast<int64_t>(seconds + 0.5);
  std::ostringstream os;
  if (s >= 3600) os << s / 3600 << "h" << std::setw(2) << std::setfill('0') << (s % 3600) / 60 << "m";
  else if (s >= 60) os << s / 60 << "m" << std::setw(2) << std::setfill('0') << s % 60 << "s";
  else os << s << "s";
  return os.str();
}

}  // namespace

RunLog::RunLog(const std::string& rundir, std::ostream& out, bool progress_bar, int64_t log_every,
               std::vector<std::string> stage_order)
    : metrics_path_(rundir + "/metrics.jsonl"),
      val_path_(rundir + "/val.jsonl"),
      out_(out),
      bar_(progress_bar),
      log_every_(log_every),
      stage_order_(std::move(stage_order)) {}

size_t RunLog::order(const std::string& stage) const {
  for (size_t i = 0; i < stage_order_.size(); ++i)
    if (stage_order_[i] == stage) return i;
  return stage_order_.size();
}

void RunLog::truncate_after(const std::string& stage, int64_t step) {
  const size_t pos = order(stage);
  for (const std::string& path : {metrics_path_, val_path_}) {
    io::refuse_symlink(path, "log file");
    std::ifstream in(path);
    if (!in) continue;
    std::string kept, line;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      try {
        json j = json::parse(line);
        const size_t o = order(j.at("stage").get<std::string>());
        if (o < pos || (o == pos && j.at("step").get<int64_t>() <= step)) kept += line + "\n";
      } catch (const json::exception&) {
        // a torn last line from a killed run: dropped
      }
    }
    in.close();
    io::write_file_atomic(path, kept);
  }
}

void RunLog::step(const StepRecord& r) {
  if (sum_terms_.size() != r.terms.size()) sum_terms_.assign(r.terms.size(), {});
  for (size_t i = 0; i < r.terms.size(); ++i) {
    sum_terms_[i].first = r.terms[i].first;
    sum_terms_[i].second += r.terms[i].second;
  }
  sum_times_.load += r.times.load;
  sum_times_.augment += r.times.augment;
  sum_times_.forward += r.times.forward;
  sum_times_.backward += r.times.backward;
  sum_times_.optimizer += r.times.optimizer;
  sum_seconds_ += r.seconds;
  sum_images_ += r.images;
  ++window_;
  last_ = r;
  ema_step_s_ = ema_step_s_ == 0 ? r.seconds : 0.9 * ema_step_s_ + 0.1 * r.seconds;
  const bool due = r.step % log_every_ == 0 || r.step == r.total;
  if (bar_) draw(r, false);
  if (!due) return;
  write_metrics(r, window_);
  if (!bar_) draw(r, true);
  sum_terms_.assign(r.terms.size(), {});
  sum_times_ = {};
  sum_seconds_ = 0;
  sum_images_ = 0;
  window_ = 0;
}

void RunLog::write_metrics(const StepRecord& r, int64_t steps) {
  json j;
  j["stage"] = r.stage;
  j["step"] = r.step;
  for (const auto& [name, v] : sum_terms_) j[name] = v / static_cast<double>(steps);  // window means
  j["lr"] = r.lr;
  j["images_per_s"] = sum_seconds_ > 0 ? static_cast<double>(sum_images_) / sum_seconds_ : 0.0;
  const double s = sum_seconds_ > 0 ? sum_seconds_ : 1.0;
  j["time_share"] = json{{"load", sum_times_.load / s},
                         {"augment", sum_times_.augment / s},
                         {"forward", sum_times_.forward / s},
                         {"backward", sum_times_.backward / s},
                         {"optimizer", sum_times_.optimizer / s}};
  j["steps_averaged"] = steps;
  j["seconds_per_step"] = sum_seconds_ / static_cast<double>(steps);
  run_write_hook(metrics_path_);
  io::append_line(metrics_path_, j.dump());
}

void RunLog::draw(const StepRecord& r, bool line) {
  std::ostringstream os;
  os << std::fixed << std::setprecision(4);
  const double n = static_cast<double>(window_ > 0 ? window_ : 1);
  const double ips = sum_seconds_ > 0 ? static_cast<double>(sum_images_) / sum_seconds_ : 0.0;
  const double remaining = ema_step_s_ * static_cast<double>(r.total - r.step);
  if (line) {
    os << r.stage << " step " << r.step << "/" << r.total;
    for (const auto& [name, v] : sum_terms_) os << "  " << name << " " << v / n;
    os << std::setprecision(1) << "  " << ips << " img/s  ETA " << eta(remaining);
    out_ << os.str() << std::endl;
    return;
  }
  // One line that fits an 80-column terminal (a longer one wraps and every redraw adds a line):
  // the total loss only (the log lines and metrics.jsonl have every term), cut at 79 columns,
  // then "erase to the end of the line" instead of padding.
  const int width = 12;
  const int filled = r.total > 0 ? static_cast<int>(width * r.step / r.total) : width;
  os << "[" << r.stage << "] " << std::string(filled, '#') << std::string(width - filled, '.') << " " << r.step << "/"
     << r.total;
  if (!r.terms.empty()) os << " loss " << r.terms.front().second;
  os << std::setprecision(1) << " " << ips << " img/s ETA " << eta(remaining);
  std::string text = os.str();
  if (text.size() > 79) text.resize(79);
  out_ << "\r" << text << "\x1b[K" << std::flush;
  bar_open_ = true;
}

void RunLog::validation(const std::string& stage, int64_t step, double loss, const std::string& event) {
  json j;
  j["stage"] = stage;
  j["step"] = step;
  j["val_loss"] = loss;
  if (!event.empty()) j["swad"] = event;
  run_write_hook(val_path_);
  io::append_line(val_path_, j.dump());
  if (!event.empty()) message(event);
}

void RunLog::message(const std::string& text) {
  if (bar_open_) {
    out_ << "\n";
    bar_open_ = false;
  }
  out_ << text << std::endl;
}

void RunLog::flush() {
  if (window_ == 0) return;
  try {
    write_metrics(last_, window_);
  } catch (const Error& e) {
    // Only on the way out (a stop or a failure), after the checkpoint: say so and go on.
    message(std::string("warning: ") + e.what());
  }
  sum_terms_.assign(sum_terms_.size(), {});
  sum_times_ = {};
  sum_seconds_ = 0;
  sum_images_ = 0;
  window_ = 0;
}

void RunLog::end_stage() {
  if (bar_open_) out_ << "\n" << std::flush;
  bar_open_ = false;
  sum_terms_.clear();
  sum_times_ = {};
  sum_seconds_ = 0;
  sum_images_ = 0;
  window_ = 0;
  ema_step_s_ = 0;
}

}  // namespace sadanet::train::internal
