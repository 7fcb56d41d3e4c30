#include "sadanet/train/protocol.h"

#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>

namespace sadanet::train {
namespace {

struct Stat {
  double mean = 0, std = 0;
  size_t n = 0;
};

Stat stat(const std::vector<double>& v) {
  Stat s;
  s.n = v.size();
  if (v.empty()) return s;
  for (double x : v) s.mean += x;
  s.mean /= static_cast<double>(v.size());
  if (v.size() > 1) {
    double ss = 0;
    for (double x : v) ss += (x - s.mean) * (x - s.mean);
    s.std = std::sqrt(ss / static_cast<double>(v.size() - 1));
  }
  return s;
}

std::string pct(const Stat& s) {
  if (s.n == 0) return "n/a";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f ± %.2f", 100 * s.mean, 100 * s.std);
  return buf;
}

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6f", v);
  return buf;
}

std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

std::string protocol_rundir(const std::string& out, const std::string& method, const std::string& target, int trial) {
  return out + "/" + method + "/" + target + "/trial" + std::to_string(trial);
}

ProtocolTables summarize_protocol(const std::vector<RunScore>& runs, const std::vector<std::string>& methods,
                                  const std::vector<std::string>& targets) {
  ProtocolTables t;
  std::ostringstream md, csv, raw;
  md << "| Method |";
  for (const auto& tg : targets) md << " " << tg << " F1-micro | " << tg << " F1-macro |";
  md << " Average F1-micro | Average F1-macro |\n|---|";
  for (size_t i = 0; i < targets.size() + 1; ++i) md << "---|---|";
  md << "\n";
  csv << "method,target,trials,f1_micro_mean,f1_micro_std,f1_macro_mean,f1_macro_std\n";
  raw << "method,target,trial,f1_micro,f1_macro,ok\n";
  for (const auto& r : runs)
    raw << r.method << "," << r.target << "," << r.trial << "," << num(r.f1_micro) << "," << num(r.f1_macro) << ","
        << (r.ok ? 1 : 0) << "\n";

  for (const auto& m : methods) {
    md << "| " << upper(m) << " |";
    // trial -> target -> (micro, macro), successful runs only
    std::map<int, std::map<std::string, std::pair<double, double>>> by_trial;
    for (const auto& tg : targets) {
      std::vector<double> mi, ma;
      for (const auto& r : runs)
        if (r.ok && r.method == m && r.target == tg) {
          mi.push_back(r.f1_micro);
          ma.push_back(r.f1_macro);
          by_trial[r.trial][tg] = {r.f1_micro, r.f1_macro};
        }
      const Stat smi = stat(mi), sma = stat(ma);
      md << " " << pct(smi) << " | " << pct(sma) << " |";
      csv << m << "," << tg << "," << smi.n << "," << num(smi.mean) << "," << num(smi.std) << "," << num(sma.mean) << ","
          << num(sma.std) << "\n";
    }
    std::vector<double> avg_mi, avg_ma;
    for (const auto& [trial, per] : by_trial) {
      if (per.size() != targets.size()) continue;
      double a = 0, b = 0;
      for (const auto& [tg, v] : per) {
        a += v.first;
        b += v.second;
      }
      avg_mi.push_back(a / static_cast<double>(per.size()));
      avg_ma.push_back(b / static_cast<double>(per.size()));
    }
    const Stat smi = stat(avg_mi), sma = stat(avg_ma);
    md << " " << pct(smi) << " | " << pct(sma) << " |\n";
    csv << m << ",average," << smi.n << "," << num(smi.mean) << "," << num(smi.std) << "," << num(sma.mean) << ","
        << num(sma.std) << "\n";
  }
  md << "\nF1 in percent, mean ± sample std over trials (seed = trial). F1-macro averages over the classes present "
        "among each target's evaluated images (all of them by default, its test part with --target-eval test).\n";
  t.markdown = md.str();
  t.csv = csv.str();
  t.runs_csv = raw.str();
  return t;
}

}  // namespace sadanet::train
