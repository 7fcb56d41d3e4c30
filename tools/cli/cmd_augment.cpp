// `sadanet augment`: SADA's stain augmentation over a folder of images. Reads every image under
// --data (recursively; JPEG, PNG, BMP), resizes it to --size (bilinear), runs batches through
// stain::stain_augment, and writes one PNG contact sheet per batch (each original beside its
// re-stained views, with cluster ids and stain-colour swatches) and optionally a JSON file of
// every image's stains. When the images sit in one folder per lab (<data>/<domain>/...), it also
// reports how well the stain clusters agree with the domains (adjusted Rand index, purity).
#include <stb/stb_easy_font.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include <sys/stat.h>

#include "commands.h"
#include "sadanet/io/files.h"
#include "sadanet/data/image.h"
#include "sadanet/runtime.h"
#include "sadanet/stain.h"

namespace sadanet::cli {
namespace {

namespace fs = std::filesystem;
using stain::AugmentedBatch;

struct AugmentArgs {
  std::string data, out, json, device = "cpu", variant = "paper";
  int batch = 32, k = 3, size = 224, thumb = 112, columns = 0, max_images = 0;
  int64_t max_pixels = data::kDefaultMaxPixels;
  uint64_t seed = 0;
  bool shuffle = false, no_sheets = false;
};

// ---- drawing -------------------------------------------------------------------------------------

struct Rgb {
  uint8_t r, g, b;
};
constexpr Rgb kWhite{255, 255, 255}, kInk{34, 34, 34}, kMuted{110, 110, 110}, kRule{215, 215, 215},
    kPaper{246, 246, 243}, kAlarm{200, 40, 40};
// Cluster colours (Tableau 10); index -1 (degenerate) is grey.
Rgb cluster_colour(int c) {
  static const Rgb p[] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44},  {214, 39, 40},  {148, 103, 189},
                          {140, 86, 75},  {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207}};
  return c < 0 ? Rgb{150, 150, 150} : p[c % 10];
}

struct Canvas {
  int w = 0, h = 0;
  std::vector<uint8_t> rgb;
  Canvas(int width, int height, Rgb bg) : w(width), h(height), rgb(static_cast<size_t>(width) * height * 3) {
    for (size_t i = 0; i < rgb.size(); i += 3) { rgb[i] = bg.r; rgb[i + 1] = bg.g; rgb[i + 2] = bg.b; }
  }
  void fill(int x0, int y0, int x1, int y1, Rgb c) {
    x0 = std::max(x0, 0); y0 = std::max(y0, 0); x1 = std::min(x1, w); y1 = std::min(y1, h);
    for (int y = y0; y < y1; ++y)
      for (int x = x0; x < x1; ++x) {
        uint8_t* p = &rgb[(static_cast<size_t>(y) * w + x) * 3];
        p[0] = c.r; p[1] = c.g; p[2] = c.b;
      }
  }
  void frame(int x0, int y0, int x1, int y1, Rgb c, int t = 1) {
    fill(x0, y0, x1, y0 + t, c); fill(x0, y1 - t, x1, y1, c);
    fill(x0, y0, x0 + t, y1, c); fill(x1 - t, y0, x1, y1, c);
  }
  // A CHW u8 image of side s, scaled to side t (bilinear) at (x, y).
  void blit_chw(const uint8_t* chw, int s, int t, int x, int y) {
    data::Image src;
    src.height = src.width = s;
    src.rgb.resize(static_cast<size_t>(s) * s * 3);
    const size_t n = static_cast<size_t>(s) * s;
    for (size_t p = 0; p < n; ++p)
      for (int c = 0; c < 3; ++c) src.rgb[p * 3 + c] = chw[c * n + p];
    const data::Image d = t == s ? src : data::resize_bilinear(src, t, t);
    for (int yy = 0; yy < t && y + yy < h; ++yy)
      std::memcpy(&rgb[(static_cast<size_t>(y + yy) * w + x) * 3], &d.rgb[static_cast<size_t>(yy) * t * 3],
                  static_cast<size_t>(std::min(t, w - x)) * 3);
  }
  // Text in stb_easy_font's bitmap font (about 6 x 7 px per character at scale 1), top-left at (x, y).
  void text(int x, int y, const std::string& s, Rgb c, int scale = 1) {
    std::vector<char> buf(s.begin(), s.end());
    buf.push_back('\0');
    static std::vector<char> verts(1 << 20);
    const int quads = stb_easy_font_print(0, 0, buf.data(), nullptr, verts.data(), static_cast<int>(verts.size()));
    for (int q = 0; q < quads; ++q) {
      const float* v0 = reinterpret_cast<const float*>(&verts[(q * 4 + 0) * 16]);
      const float* v2 = reinterpret_cast<const float*>(&verts[(q * 4 + 2) * 16]);
      fill(x + static_cast<int>(std::lround(v0[0] * scale)), y + static_cast<int>(std::lround(v0[1] * scale)),
           x + static_cast<int>(std::lround(v2[0] * scale)), y + static_cast<int>(std::lround(v2[1] * scale)), c);
    }
  }
  static int text_width(const std::string& s, int scale = 1) {
    std::vector<char> buf(s.begin(), s.end());
    buf.push_back('\0');
    return stb_easy_font_width(buf.data()) * scale;
  }
};

// The longest prefix (with "...") that fits in px pixels.
std::string fit_text(const std::string& s, int px) {
  if (Canvas::text_width(s) <= px) return s;
  std::string t = s;
  while (!t.empty() && Canvas::text_width("..." + t) > px) t.erase(0, 1);
  return "..." + t;
}

// The same, cutting the end instead (for prose).
std::string fit_end(const std::string& s, int px) {
  if (Canvas::text_width(s) <= px) return s;
  std::string t = s;
  while (!t.empty() && Canvas::text_width(t + "...") > px) t.pop_back();
  return t + "...";
}

// Stain j of an image as a colour: the unit OD vector at density 1, 255 exp(-w).
Rgb stain_colour(const stain::StainInfo& s, int j) {
  auto ch = [&](int c) { return static_cast<uint8_t>(std::lround(255.0 * std::exp(-double(s.W[3 * j + c])))); };
  return {ch(0), ch(1), ch(2)};
}

// A small tag: a filled box in the cluster's colour with white text.
int tag(Canvas& cv, int x, int y, const std::string& s, Rgb bg) {
  const int w = Canvas::text_width(s) + 6;
  cv.fill(x, y, x + w, y + 11, bg);
  cv.text(x + 3, y + 2, s, kWhite);
  return w;
}

void swatches(Canvas& cv, int x, int y, const stain::StainInfo& s) {
  for (int j = 0; j < 2; ++j) {
    cv.fill(x + j * 13, y, x + j * 13 + 11, y + 11, stain_colour(s, j));
    cv.frame(x + j * 13, y, x + j * 13 + 11, y + 11, kMuted);
  }
}

std::string short_reason(const std::string& r) {
  const auto colon = r.find(':');
  return colon == std::string::npos ? r : r.substr(0, colon);
}

void write_sheet(const std::string& path, const AugmentedBatch& b, const std::vector<std::string>& names,
                 int first_index, int batch_no, int batches, const AugmentArgs& a) {
  const int N = b.n, k = b.k, T = a.thumb, S = a.size;
  const int gap = 6, pad = 10, margin = 20;
  const int card_w = k * T + (k - 1) * gap + 2 * pad;
  const int card_h = pad + 14 + T + 6 + 13 + 4 + 11 + pad;
  // Columns: as asked, or (0) what makes the sheet closest to square.
  int cols = a.columns;
  if (cols <= 0) cols = static_cast<int>(std::lround(std::sqrt(double(N) * (card_h + 12) / (card_w + margin))));
  cols = std::max(1, std::min(cols, N));
  const int rows = (N + cols - 1) / cols;
  const int header_h = 92;
  const int W = 2 * margin + cols * card_w + (cols - 1) * margin;
  const int H = header_h + rows * card_h + (rows - 1) * 12 + margin;
  Canvas cv(W, H, kPaper);

  // Header.
  std::ostringstream title, l1, l2;
  title << "SADA stain augmentation - batch " << batch_no + 1 << " of " << batches;
  cv.text(margin, 14, title.str(), kInk, 2);
  int degenerate = 0;
  for (int i = 0; i < N; ++i) degenerate += b.stains[i].degenerate;
  l1 << "variant " << a.variant << "   k = " << k << "   seed " << a.seed << "   " << N << " images (" << degenerate
     << " degenerate)   " << S << " px shown at " << T << "   clusters:";
  cv.text(margin, 40, l1.str(), kMuted);
  int x = margin + Canvas::text_width(l1.str()) + 6;
  for (int c = 0; c < b.clustering.k; ++c) {
    int count = 0;
    for (int i = 0; i < N; ++i) count += b.cluster[i] == c;
    x += tag(cv, x, 38, "c" + std::to_string(c) + ": " + std::to_string(count), cluster_colour(c)) + 4;
  }
  l2 << "Card: the original, then re-stained with the stains of a random image of each other cluster "
        "(-> cluster #image; * a fallback when there are fewer clusters than k).";
  cv.text(margin, 56, fit_end(l2.str(), W - 2 * margin), kMuted);
  cv.text(margin, 70,
          fit_end(std::string(a.variant == "paper" ? "Squares: stain colours (nuclear, eosin)"
                                                   : "Squares: the two stain columns (median, max start)") +
                      " of the image / of the stain donor. Left bar: cluster. Red frame: degenerate (views are copies).",
                  W - 2 * margin),
          kMuted);
  cv.fill(margin, header_h - 6, W - margin, header_h - 5, kRule);

  for (int i = 0; i < N; ++i) {
    const int cx = margin + (i % cols) * (card_w + margin);
    const int cy = header_h + (i / cols) * (card_h + 12);
    const auto& st = b.stains[i];
    cv.fill(cx, cy, cx + card_w, cy + card_h, kWhite);
    cv.frame(cx, cy, cx + card_w, cy + card_h, st.degenerate ? kAlarm : kRule);
    cv.fill(cx, cy, cx + 4, cy + card_h, cluster_colour(b.cluster[i]));
    const std::string label = "#" + std::to_string(first_index + i) + "  " + names[i];
    cv.text(cx + pad, cy + pad, fit_text(label, card_w - 2 * pad), kInk);
    const int ty = cy + pad + 14, ly = ty + T + 6;
    for (int m = 0; m < k; ++m) {
      const int64_t row = m == 0 ? i : N + static_cast<int64_t>(i) * (k - 1) + (m - 1);
      const int tx = cx + pad + m * (T + gap);
      const uint8_t* img = b.images.data<uint8_t>() + row * 3 * static_cast<int64_t>(S) * S;
      cv.blit_chw(img, S, T, tx, ty);
      cv.frame(tx - 1, ty - 1, tx + T + 1, ty + T + 1, kRule);
      if (m == 0) {
        if (st.degenerate) {
          cv.text(tx, ly + 2, "degenerate", kAlarm);
          cv.text(tx, ly + 17, fit_text(short_reason(st.reason), (k * T + (k - 1) * gap)), kAlarm);
        } else {
          const int tw = tag(cv, tx, ly, "c" + std::to_string(b.cluster[i]), cluster_colour(b.cluster[i]));
          cv.text(tx + tw + 5, ly + 2, "original", kMuted);
          swatches(cv, tx, ly + 15, st);
        }
        continue;
      }
      if (st.degenerate) {
        cv.text(tx, ly + 2, "copy", kMuted);
        continue;
      }
      const int t = b.target[row], tc = b.target_cluster[row];
      // "-> c1 #7", "*" marking a fallback target; shortened to fit the thumbnail.
      const std::string mark = b.fallback[row] ? "*" : "";
      std::string what = "-> c" + std::to_string(tc) + " #" + std::to_string(first_index + t) + mark;
      if (Canvas::text_width(what) + 6 > T) what = "c" + std::to_string(tc) + mark;
      tag(cv, tx, ly, what, cluster_colour(tc));
      swatches(cv, tx, ly + 15, b.stains[t]);
    }
  }
  data::Image img;
  img.width = W;
  img.height = H;
  img.rgb = std::move(cv.rgb);
  data::save_png(path, img);
}

// ---- agreement between clusters and domains ----------------------------------------------------------

struct Agreement {
  double ari_sum = 0, purity_sum = 0;
  int batches = 0;
  int64_t images = 0;
};

double choose2(double n) { return n * (n - 1) / 2; }

// Adjusted Rand index and purity (each cluster's largest domain share) of one batch.
void agree(const std::vector<int>& cluster, const std::vector<int>& domain, Agreement& acc) {
  std::map<std::pair<int, int>, int> cells;
  std::map<int, int> rows, cols;
  int n = 0;
  for (size_t i = 0; i < cluster.size(); ++i) {
    if (cluster[i] < 0) continue;
    ++cells[{cluster[i], domain[i]}];
    ++rows[cluster[i]];
    ++cols[domain[i]];
    ++n;
  }
  if (n < 2 || cols.size() < 2) return;  // a batch from one domain says nothing
  double index = 0, a = 0, bsum = 0;
  for (const auto& [key, c] : cells) index += choose2(c);
  for (const auto& [key, c] : rows) a += choose2(c);
  for (const auto& [key, c] : cols) bsum += choose2(c);
  const double expected = a * bsum / choose2(n), maximum = (a + bsum) / 2;
  const double ari = maximum == expected ? 1.0 : (index - expected) / (maximum - expected);
  std::map<int, int> best;
  for (const auto& [key, c] : cells) best[key.first] = std::max(best[key.first], c);
  double pure = 0;
  for (const auto& [key, c] : best) pure += c;
  acc.ari_sum += ari;
  acc.purity_sum += pure / n;
  acc.batches += 1;
  acc.images += n;
}

// ---- the command ---------------------------------------------------------------------------------

bool is_document(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext == ".md" || ext == ".txt" || ext == ".csv" || ext == ".tsv" || ext == ".json" || ext == ".yaml" ||
         ext == ".yml" || ext == ".pdf" || ext == ".html";
}

// The regular files under root, links followed. A folder already on the way (a symlink loop)
// is not entered twice, and an entry that cannot be read (a dangling or self-referencing link,
// no permission) is skipped; each skip comes back as a warning instead of ending the command.
std::vector<std::string> walk_files(const fs::path& root, std::vector<fs::path>& files, int& documents) {
  std::vector<std::string> warnings;
  std::set<std::pair<uintmax_t, uintmax_t>> seen;  // (device, inode) of the folders entered
  std::vector<fs::path> todo{root};
  while (!todo.empty()) {
    const fs::path dir = todo.back();
    todo.pop_back();
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0) {
      warnings.push_back("skipped " + dir.string() + ": " + std::strerror(errno));
      continue;
    }
    if (!seen.insert({st.st_dev, st.st_ino}).second) {
      warnings.push_back("skipped " + dir.string() + ": a link back to a folder already read (a symlink loop)");
      continue;
    }
    std::error_code ec;
    fs::directory_iterator it(dir, ec), end;
    if (ec) {
      warnings.push_back("skipped " + dir.string() + ": " + ec.message());
      continue;
    }
    for (; it != end; it.increment(ec)) {
      if (ec) {
        warnings.push_back("stopped listing " + dir.string() + ": " + ec.message());
        break;
      }
      std::error_code e2;
      const fs::file_status s = it->status(e2);  // follows links
      if (e2) {
        warnings.push_back("skipped " + it->path().string() + ": " + e2.message());
      } else if (fs::is_directory(s)) {
        todo.push_back(it->path());
      } else if (fs::is_regular_file(s)) {
        if (is_document(it->path())) ++documents;
        else files.push_back(it->path());
      }
    }
  }
  return warnings;
}

void run_augment(const AugmentArgs& a) {
  if (a.device != "cpu") {
    const bool built = cuda_built();
    const int gpus = built ? cuda_device_count() : 0;
    std::cerr << "sadanet augment: --device " << a.device << ": ";
    if (!built)
      std::cerr << "CUDA is not available: this build has no CUDA backend (configure with -DSADANET_CUDA=ON "
                   "on a machine with nvcc); use --device cpu\n";
    else if (gpus == 0)
      std::cerr << "CUDA is not available: no GPU was found; use --device cpu\n";
    else
      std::cerr << "the CUDA stain augmentation is not implemented yet; use --device cpu\n";
    throw CLI::RuntimeError(2);
  }
  const auto variant = stain::variant_from_name(a.variant);
  if (!fs::is_directory(a.data)) {
    std::cerr << "sadanet augment: --data " << a.data << ": not a folder\n";
    throw CLI::RuntimeError(2);
  }
  std::vector<fs::path> files;
  // Every regular file is tried (the decoders decide), except obvious documents such as a README.
  int documents = 0;
  for (const auto& w : walk_files(a.data, files, documents)) std::cerr << "sadanet augment: warning: " << w << "\n";
  std::sort(files.begin(), files.end());
  if (a.shuffle) std::shuffle(files.begin(), files.end(), std::mt19937_64(a.seed));
  if (a.max_images > 0 && static_cast<int>(files.size()) > a.max_images) files.resize(a.max_images);
  fs::create_directories(a.out);

  // Load every file (in parallel), keeping the readable ones.
  const int S = a.size;
  const size_t img_bytes = 3 * static_cast<size_t>(S) * S;
  std::vector<std::vector<uint8_t>> pixels(files.size());
  std::vector<std::string> errors(files.size());
  {
    std::atomic<size_t> next{0};
    auto worker = [&] {
      for (size_t i = next++; i < files.size(); i = next++) {
        try {
          data::DecodeOptions d;
          d.max_pixels = a.max_pixels;
          d.hint_height = d.hint_width = S;  // resized to S x S right after: a JPEG may decode scaled
          const data::Image im = data::resize_bilinear(data::load_image(files[i].string(), d), S, S);
          const Tensor t = data::to_u8_tensor(im);
          pixels[i].assign(t.data<uint8_t>(), t.data<uint8_t>() + img_bytes);
        } catch (const std::exception& e) {
          errors[i] = e.what();
        }
      }
    };
    std::vector<std::thread> pool;
    const unsigned threads = std::max(1u, std::min(8u, std::thread::hardware_concurrency()));
    for (unsigned t = 0; t < threads; ++t) pool.emplace_back(worker);
    for (auto& t : pool) t.join();
  }
  std::vector<size_t> good;
  for (size_t i = 0; i < files.size(); ++i) {
    if (errors[i].empty()) good.push_back(i);
    else std::cerr << "sadanet augment: warning: skipped " << errors[i] << "\n";
  }
  if (good.empty()) {
    std::cerr << "sadanet augment: no readable JPEG, PNG or BMP image under " << a.data << "\n";
    throw CLI::RuntimeError(1);
  }

  auto rel = [&](size_t i) { return fs::relative(files[i], a.data).generic_string(); };
  std::map<std::string, int> domain_ids;
  auto domain_of = [&](size_t i) {
    const fs::path r = fs::relative(files[i], a.data);
    const std::string d = std::distance(r.begin(), r.end()) > 1 ? r.begin()->string() : std::string();
    return domain_ids.emplace(d, static_cast<int>(domain_ids.size())).first->second;
  };

  auto opt = stain::StainAugmentOptions::for_variant(variant);
  opt.k = a.k;
  Generator gen(a.seed);
  AugmentedBatch b;
  nlohmann::json images = nlohmann::json::array();
  Agreement agreement;
  int degenerate = 0;
  double augment_s = 0;
  const int batches = static_cast<int>((good.size() + a.batch - 1) / a.batch);
  for (int bi = 0; bi < batches; ++bi) {
    const size_t lo = static_cast<size_t>(bi) * a.batch, hi = std::min(good.size(), lo + a.batch);
    const int N = static_cast<int>(hi - lo);
    Tensor x = empty({N, 3, S, S}, TensorOptions(DType::u8));
    std::vector<std::string> names;
    std::vector<int> domains;
    for (int i = 0; i < N; ++i) {
      std::memcpy(x.data<uint8_t>() + i * img_bytes, pixels[good[lo + i]].data(), img_bytes);
      names.push_back(rel(good[lo + i]));
      domains.push_back(domain_of(good[lo + i]));
    }
    const auto t0 = std::chrono::steady_clock::now();
    stain::stain_augment(x, opt, gen, b);
    augment_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    agree(b.cluster, domains, agreement);
    for (int i = 0; i < N; ++i) {
      const auto& s = b.stains[i];
      degenerate += s.degenerate;
      auto r6 = [](float v) { return std::round(double(v) * 1e6) / 1e6; };
      nlohmann::json e = {{"path", files[good[lo + i]].string()},
                          {"W", {{r6(s.W[0]), r6(s.W[1]), r6(s.W[2])}, {r6(s.W[3]), r6(s.W[4]), r6(s.W[5])}}},
                          {"cluster", b.cluster[i]},
                          {"batch", bi},
                          {"p99", {r6(s.p99[0]), r6(s.p99[1])}},
                          {"degenerate", s.degenerate}};
      if (variant == stain::StainVariant::reference_code) e["B"] = {r6(s.B[0]), r6(s.B[1]), r6(s.B[2])};
      if (s.degenerate) e["reason"] = s.reason;
      images.push_back(std::move(e));
    }
    if (!a.no_sheets) {
      std::ostringstream name;
      name << "sheet_" << std::setw(4) << std::setfill('0') << bi << ".png";
      write_sheet((fs::path(a.out) / name.str()).string(), b, names, static_cast<int>(lo), bi, batches, a);
    }
  }
  if (!a.json.empty()) {
    // One image per line. W: the two stains' unit OD colours (R, G, B), stain 0 first; "cluster"
    // is the image's cluster within its batch (-1: degenerate).
    std::ostringstream f;
    f << "{\"variant\": " << nlohmann::json(stain::variant_name(variant)).dump() << ", \"k\": " << a.k
      << ", \"seed\": " << a.seed << ", \"size\": " << S << ", \"batch\": " << a.batch << ",\n \"images\": [";
    for (size_t i = 0; i < images.size(); ++i) f << (i ? ",\n  " : "\n  ") << images[i].dump();
    f << "\n]}\n";
    io::write_file_atomic(a.json, f.str());
  }
  std::cout << "augmented " << good.size() << " images (" << degenerate << " degenerate, "
            << files.size() - good.size() << " unreadable, " << documents << " documents ignored) in " << batches << " batches of " << a.batch
            << ", variant " << stain::variant_name(variant) << ", k = " << a.k << ": " << std::fixed
            << std::setprecision(0) << good.size() / std::max(augment_s, 1e-9) << " images/s ("
            << num_threads() << " threads)\n";
  if (!a.no_sheets) std::cout << "sheets: " << a.out << "/sheet_*.png\n";
  if (!a.json.empty()) std::cout << "stains: " << a.json << "\n";
  if (agreement.batches > 0)
    std::cout << std::setprecision(3) << "clusters vs domains (" << domain_ids.size() << " folders, "
              << agreement.batches << " mixed batches): mean adjusted Rand index " << agreement.ari_sum / agreement.batches
              << ", mean purity " << agreement.purity_sum / agreement.batches << "\n";
}

}  // namespace

void register_augment(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "augment", "SADA stain augmentation of a folder of images: contact sheets of the re-stained views, stains as JSON");
  auto a = std::make_shared<AugmentArgs>();
  cmd->add_option("--data", a->data, "Folder of images, read recursively (JPEG, PNG, BMP)")->required();
  cmd->add_option("--out", a->out, "Folder for the sheets (created)")->required();
  cmd->add_option("--batch", a->batch, "Images per batch (clustered together)")->check(CLI::Range(1, 4096))->capture_default_str();
  cmd->add_option("--k", a->k, "Stain clusters; every image gets k-1 re-stained views")->check(CLI::Range(1, 64))->capture_default_str();
  cmd->add_option("--seed", a->seed, "Seed of the clustering and target choice (and of --shuffle)")->capture_default_str();
  cmd->add_option("--device", a->device, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}))->capture_default_str();
  cmd->add_option("--json", a->json, "Write every image's stains here: {\"images\": [{\"path\", \"W\", \"cluster\", \"p99\", \"degenerate\"}, ...]}");
  cmd->add_option("--variant", a->variant, "paper (sparse NMF of the paper) or reference-code (the authors' code)")
      ->check(CLI::IsMember({"paper", "reference-code", "reference_code"}))
      ->capture_default_str();
  cmd->add_option("--size", a->size, "Images are resized to size x size (bilinear)")->check(CLI::Range(8, 2048))->capture_default_str();
  cmd->add_option("--thumb", a->thumb, "Side of each image on the sheets, in pixels")->check(CLI::Range(16, 1024))->capture_default_str();
  cmd->add_option("--columns", a->columns, "Cards per row on the sheets (0: a near-square sheet)")->check(CLI::Range(0, 64))->capture_default_str();
  cmd->add_option("--max-pixels", a->max_pixels, "Refuse image files whose header declares more pixels (default 64 MP)")
      ->check(positive())->capture_default_str();
  cmd->add_option("--max-images", a->max_images, "Use at most this many images (0: all)")->check(non_negative());
  cmd->add_flag("--shuffle", a->shuffle, "Shuffle the images (with --seed) before batching, so that batches mix folders");
  cmd->add_flag("--no-sheets", a->no_sheets, "Skip the sheets (statistics and --json only)");
  cmd->callback([a] { run_augment(*a); });
}

}  // namespace sadanet::cli
