// Classification metrics (see include/sadanet/eval/metrics.h).
#include "sadanet/eval/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

#include "eval/font5x7.h"
#include "sadanet/error.h"

namespace sadanet::eval {

namespace {
double ratio(int64_t a, int64_t b) { return b > 0 ? static_cast<double>(a) / static_cast<double>(b) : 0.0; }
}  // namespace

Metrics metrics_from_confusion(const std::vector<std::vector<int64_t>>& cm, const std::vector<std::string>& classes) {
  const size_t C = classes.size();
  SADANET_CHECK(C >= 1, "metrics: expected at least one class");
  SADANET_CHECK(cm.size() == C, "metrics: expected a ", C, "x", C, " confusion matrix, got ", cm.size(), " rows");
  Metrics m;
  m.classes = classes;
  m.confusion = cm;
  m.per_class.resize(C);
  int64_t correct = 0;
  for (size_t t = 0; t < C; ++t) {
    SADANET_CHECK(cm[t].size() == C, "metrics: expected ", C, " columns in row ", t, " of the confusion matrix, got ",
                  cm[t].size());
    for (size_t p = 0; p < C; ++p) {
      SADANET_CHECK(cm[t][p] >= 0, "metrics: expected non-negative counts, got ", cm[t][p], " at [", t, "][", p, "]");
      m.per_class[t].support += cm[t][p];
      m.per_class[p].predicted += cm[t][p];
      m.total += cm[t][p];
    }
    correct += cm[t][t];
  }
  double f1_sum = 0;
  for (size_t c = 0; c < C; ++c) {
    auto& k = m.per_class[c];
    const int64_t tp = cm[c][c];
    k.precision = ratio(tp, k.predicted);  // 0 when never predicted (zero_division=0)
    k.recall = ratio(tp, k.support);
    k.f1 = k.precision + k.recall > 0 ? 2 * k.precision * k.recall / (k.precision + k.recall) : 0.0;
    if (k.support > 0) {
      m.macro_over.push_back(static_cast<int>(c));
      f1_sum += k.f1;
    }
  }
  m.accuracy = ratio(correct, m.total);
  m.f1_micro = m.accuracy;
  m.f1_macro = m.macro_over.empty() ? 0.0 : f1_sum / static_cast<double>(m.macro_over.size());
  return m;
}

Metrics compute_metrics(const std::vector<int64_t>& truth, const std::vector<int64_t>& predicted,
                        const std::vector<std::string>& classes) {
  SADANET_CHECK(truth.size() == predicted.size(), "metrics: expected as many predictions as labels, got ",
                predicted.size(), " predictions for ", truth.size(), " labels");
  const int64_t C = static_cast<int64_t>(classes.size());
  SADANET_CHECK(C >= 1, "metrics: expected at least one class");
  std::vector<std::vector<int64_t>> cm(C, std::vector<int64_t>(C, 0));
  for (size_t i = 0; i < truth.size(); ++i) {
    SADANET_CHECK(truth[i] >= 0 && truth[i] < C, "metrics: true label ", truth[i], " at ", i, " is outside [0, ", C, ")");
    SADANET_CHECK(predicted[i] >= 0 && predicted[i] < C, "metrics: prediction ", predicted[i], " at ", i,
                  " is outside [0, ", C, ")");
    ++cm[truth[i]][predicted[i]];
  }
  return metrics_from_confusion(cm, classes);
}

std::string Metrics::to_json(int indent) const {
  nlohmann::ordered_json j;
  j["f1_micro"] = f1_micro;
  j["f1_macro"] = f1_macro;
  j["accuracy"] = accuracy;
  j["total"] = total;
  nlohmann::ordered_json pc = nlohmann::ordered_json::object();
  for (size_t c = 0; c < classes.size(); ++c) {
    nlohmann::ordered_json e;
    e["precision"] = per_class[c].precision;
    e["recall"] = per_class[c].recall;
    e["f1"] = per_class[c].f1;
    e["support"] = per_class[c].support;
    e["predicted"] = per_class[c].predicted;
    pc[classes[c]] = e;
  }
  j["per_class"] = pc;
  j["confusion"] = confusion;
  j["classes"] = classes;
  std::vector<std::string> over;
  for (int c : macro_over) over.push_back(classes[c]);
  j["macro_over"] = over;
  j["conventions"] = "precision of a class never predicted = 0 (zero_division=0); f1_micro over all classes "
                     "(= accuracy); f1_macro = mean f1 over macro_over, the classes with support > 0";
  return j.dump(indent);
}

std::string Metrics::table() const {
  size_t w = 5;
  for (const auto& c : classes) w = std::max(w, c.size());
  std::ostringstream os;
  char buf[256];
  std::snprintf(buf, sizeof buf, "%-*s %9s %9s %9s %9s %9s\n", static_cast<int>(w), "class", "precision", "recall", "f1",
                "support", "predicted");
  os << buf;
  for (size_t c = 0; c < classes.size(); ++c) {
    const auto& k = per_class[c];
    std::snprintf(buf, sizeof buf, "%-*s %9.4f %9.4f %9.4f %9lld %9lld%s\n", static_cast<int>(w), classes[c].c_str(),
                  k.precision, k.recall, k.f1, static_cast<long long>(k.support), static_cast<long long>(k.predicted),
                  k.support == 0 ? "  (absent: not in the macro average)" : "");
    os << buf;
  }
  std::snprintf(buf, sizeof buf, "F1-micro %.4f (= accuracy, %lld images); F1-macro %.4f over %zu of %zu classes\n",
                f1_micro, static_cast<long long>(total), f1_macro, macro_over.size(), classes.size());
  os << buf;
  os << "confusion (rows: true, columns: predicted)\n";
  size_t cw = 1;
  for (const auto& row : confusion)
    for (auto v : row) cw = std::max(cw, std::to_string(v).size());
  for (size_t c = 0; c < classes.size(); ++c) {
    std::snprintf(buf, sizeof buf, "%-*s", static_cast<int>(w), classes[c].c_str());
    os << buf;
    for (auto v : confusion[c]) {
      std::snprintf(buf, sizeof buf, " %*lld", static_cast<int>(cw), static_cast<long long>(v));
      os << buf;
    }
    os << "\n";
  }
  return os.str();
}

// ---- the heat map --------------------------------------------------------------------------------

namespace {

struct Rgb {
  uint8_t r, g, b;
};

struct Canvas {
  data::Image img;
  Canvas(int h, int w, Rgb bg) {
    img.height = h;
    img.width = w;
    img.rgb.resize(static_cast<size_t>(h) * w * 3);
    fill(0, 0, h, w, bg);
  }
  void put(int y, int x, Rgb c) {
    if (y < 0 || x < 0 || y >= img.height || x >= img.width) return;
    uint8_t* p = img.at(y, x);
    p[0] = c.r;
    p[1] = c.g;
    p[2] = c.b;
  }
  void fill(int y, int x, int h, int w, Rgb c) {
    for (int yy = y; yy < y + h; ++yy)
      for (int xx = x; xx < x + w; ++xx) put(yy, xx, c);
  }
  // Text with its top-left corner at (y, x); `vertical` reads bottom to top with (y, x) the
  // bottom-left corner.
  void text(int y, int x, const std::string& s, int scale, Rgb c, bool vertical = false) {
    for (size_t i = 0; i < s.size(); ++i) {
      const uint16_t* g = font::glyph(s[i]);
      for (int col = 0; col < font::kGlyphW; ++col)
        for (int row = 0; row < font::kGlyphH; ++row) {
          if (!((g[col] >> row) & 1)) continue;
          const int gx = static_cast<int>(i) * font::kCellW + col;  // along the text
          const int gy = row;                                        // across it
          if (!vertical) fill(y + gy * scale, x + gx * scale, scale, scale, c);
          else fill(y - (gx + 1) * scale + 1, x + gy * scale, scale, scale, c);
        }
    }
  }
  static int width(const std::string& s, int scale) {
    return s.empty() ? 0 : (static_cast<int>(s.size()) * font::kCellW - 1) * scale;
  }
};

// White to deep blue, perceptually even enough for a heat map.
Rgb blues(double t) {
  t = std::clamp(t, 0.0, 1.0);
  static const double stops[5][3] = {{247, 251, 255}, {198, 219, 239}, {107, 174, 214}, {33, 113, 181}, {8, 48, 107}};
  double f = t * 4;
  int i = std::min(3, static_cast<int>(f));
  double u = f - i;
  auto lerp = [&](int c) { return static_cast<uint8_t>(std::lround(stops[i][c] + (stops[i + 1][c] - stops[i][c]) * u)); };
  return Rgb{lerp(0), lerp(1), lerp(2)};
}

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

}  // namespace

data::Image render_confusion(const Metrics& m, const std::string& title) {
  const int C = static_cast<int>(m.classes.size());
  SADANET_CHECK(C >= 1 && static_cast<int>(m.confusion.size()) == C, "render_confusion: expected a ", C, "x", C,
                " confusion matrix");
  const Rgb ink{33, 33, 33}, grey{120, 120, 120}, white{255, 255, 255};
  const int S2 = 2;  // scale of the labels and counts
  size_t longest = 1;
  int64_t biggest = 0;
  for (const auto& c : m.classes) longest = std::min<size_t>(std::max(longest, c.size()), 24);
  for (const auto& row : m.confusion)
    for (auto v : row) biggest = std::max(biggest, v);
  auto name = [&](int c) { return m.classes[c].size() > 24 ? m.classes[c].substr(0, 23) + "~" : m.classes[c]; };
  const int count_w = Canvas::width(std::to_string(biggest), S2);
  const int cell = std::max({64, count_w + 16});
  const int margin = 16;
  const int label_w = static_cast<int>(longest) * font::kCellW * S2;
  const int grid_x = margin + font::kGlyphH * S2 + 10 + label_w + 10;  // "true" axis title, row names
  const std::string head = title.empty() ? "confusion matrix" : title;
  const std::string scores = "F1-macro " + fmt("%.3f", m.f1_macro) + " (over " + std::to_string(m.macro_over.size()) +
                             " of " + std::to_string(C) + " classes)   F1-micro " + fmt("%.3f", m.f1_micro) + "   n = " +
                             std::to_string(m.total);
  const int title_h = font::kCellH * S2 + 4 + font::kCellH + 12;
  const int grid_y = margin + title_h + font::kCellH * S2 + 6 + label_w + 10;  // "predicted" axis title, column names
  const int legend_h = 44;
  const std::string legend = "colour: share of the true class (row); grey row: class absent";
  const int width = std::max({grid_x + C * cell + margin, margin * 2 + Canvas::width(head, S2),
                              margin * 2 + Canvas::width(scores, 1), grid_x + Canvas::width(legend, 1) + margin});
  const int height = grid_y + C * cell + 14 + legend_h + margin;
  Canvas cv(height, width, white);

  cv.text(margin, margin, head, S2, ink);
  cv.text(margin + font::kCellH * S2 + 4, margin, scores, 1, grey);

  // axis titles
  const int axis_y = margin + title_h;
  const std::string pred = "predicted";
  cv.text(axis_y, grid_x + (C * cell - Canvas::width(pred, S2)) / 2, pred, S2, ink);
  const std::string truth = "true";
  cv.text(grid_y + (C * cell + Canvas::width(truth, S2)) / 2, margin, truth, S2, ink, true);

  for (int c = 0; c < C; ++c) {
    const bool absent = m.per_class[c].support == 0;
    // row names, right-aligned next to the grid; column names vertical, bottom-aligned on it
    const std::string n = name(c);
    cv.text(grid_y + c * cell + (cell - font::kCapH * S2) / 2, grid_x - 10 - Canvas::width(n, S2), n, S2, absent ? grey : ink);
    cv.text(grid_y - 10, grid_x + c * cell + (cell - font::kCapH * S2) / 2, n, S2, ink, true);
  }
  for (int t = 0; t < C; ++t) {
    const int64_t support = m.per_class[t].support;
    for (int p = 0; p < C; ++p) {
      const int64_t v = m.confusion[t][p];
      const double share = support > 0 ? static_cast<double>(v) / static_cast<double>(support) : 0.0;
      const Rgb bg = support > 0 ? blues(share) : Rgb{236, 236, 236};
      const int y = grid_y + t * cell, x = grid_x + p * cell;
      cv.fill(y, x, cell, cell, bg);
      const Rgb fg = share > 0.5 ? white : ink;
      const std::string count = std::to_string(v);
      const int ty = y + cell / 2 - font::kCapH * S2 + (support > 0 ? -2 : font::kCapH * S2 / 2);
      cv.text(ty, x + (cell - Canvas::width(count, S2)) / 2, count, S2, support > 0 ? fg : grey);
      if (support > 0) {
        const std::string pct = fmt("%.0f%%", 100.0 * share);
        cv.text(ty + font::kCapH * S2 + 6, x + (cell - Canvas::width(pct, 1)) / 2, pct, 1, fg);
      }
    }
  }
  // grid lines, and a frame around the diagonal cells
  const Rgb line{255, 255, 255};
  for (int k = 0; k <= C; ++k) {
    cv.fill(grid_y + k * cell - 1, grid_x, 2, C * cell, line);
    cv.fill(grid_y, grid_x + k * cell - 1, C * cell, 2, line);
  }
  cv.fill(grid_y - 1, grid_x - 1, 1, C * cell + 2, grey);
  cv.fill(grid_y + C * cell, grid_x - 1, 1, C * cell + 2, grey);
  cv.fill(grid_y - 1, grid_x - 1, C * cell + 2, 1, grey);
  cv.fill(grid_y - 1, grid_x + C * cell, C * cell + 2, 1, grey);

  // legend: the colour scale
  const int ly = grid_y + C * cell + 14, lx = grid_x, lw = 200;
  for (int i = 0; i < lw; ++i) cv.fill(ly, lx + i, 12, 1, blues(static_cast<double>(i) / (lw - 1)));
  cv.text(ly + 16, lx, "0%", 1, grey);
  cv.text(ly + 16, lx + lw - Canvas::width("100%", 1), "100%", 1, grey);
  cv.text(ly + 28, lx, legend, 1, grey);
  return cv.img;
}

void save_confusion_png(const std::string& path, const Metrics& m, const std::string& title) {
  data::save_png(path, render_confusion(m, title));
}

}  // namespace sadanet::eval
