#include "sadanet/sada/losses.h"

#include "sadanet/ops.h"

namespace sadanet::sada {
namespace {

void check_layout(const char* op, const Tensor& x, int64_t n, const std::vector<int64_t>& src) {
  SADANET_CHECK(n > 0, op, ": expected at least one original, got n_orig=", n);
  SADANET_CHECK(x.size(0) == n + static_cast<int64_t>(src.size()), op, ": expected ", n, " originals + ", src.size(),
                " views = ", n + static_cast<int64_t>(src.size()), " rows, got ", x.size(0));
  for (size_t v = 0; v < src.size(); ++v)
    SADANET_CHECK(src[v] >= 0 && src[v] < n, op, ": view ", v, " names original ", src[v], ", expected 0..", n - 1);
}

Tensor index_tensor(const std::vector<int64_t>& v, Device d) {
  return from_vector(v, {static_cast<int64_t>(v.size())}).to(d);
}

}  // namespace

Tensor local_alignment_loss(const Tensor& z, int64_t n, const std::vector<int64_t>& src, bool image_mean) {
  SADANET_CHECK(z.dim() == 4, "local_alignment_loss: expected embeddings [M, D, h, w], got ", shape_str(z.shape()));
  check_layout("local_alignment_loss", z, n, src);
  SADANET_CHECK(!src.empty(), "local_alignment_loss: expected at least one view");
  const int64_t m = z.size(0);
  Tensor zn = normalize(z, 1);
  Tensor views = zn.slice(0, n, m);
  Tensor origin = index_select(zn.slice(0, 0, n), 0, index_tensor(src, z.device()));
  Tensor dist = sum(square(sub(views, origin)), {1, 2, 3});  // [V]: summed over locations
  // Average each original's views: weight 1/(number of views of that original).
  std::vector<int64_t> count(static_cast<size_t>(n), 0);
  for (int64_t s : src) ++count[s];
  std::vector<double> w(src.size());
  int64_t with_views = 0;
  for (int64_t c : count) with_views += c > 0;
  for (size_t v = 0; v < src.size(); ++v) w[v] = 1.0 / static_cast<double>(count[src[v]]) / (image_mean ? with_views : 1);
  Tensor weights = from_vector(w, {static_cast<int64_t>(w.size())}).to(z.dtype()).to(z.device());
  return sum(mul(dist, weights));
}

Tensor disc_loss(const Tensor& p, const Tensor& labels, int64_t n, const std::vector<int64_t>& src, double tau,
                 ContrastiveAnchor anchor) {
  SADANET_CHECK(p.dim() == 2, "disc_loss: expected embeddings [M, P], got ", shape_str(p.shape()));
  check_layout("disc_loss", p, n, src);
  SADANET_CHECK(labels.dtype() == DType::i64 && labels.dim() == 1 && labels.size(0) == n,
                "disc_loss: expected i64 labels [", n, "], got ", dtype_name(labels.dtype()), " ",
                shape_str(labels.shape()));
  SADANET_CHECK(tau > 0, "disc_loss: expected tau > 0, got ", tau);
  const int64_t m = p.size(0);
  Tensor z = normalize(p, 1);

  // Labels of all M rows (views inherit their source's), on the host to build the masks.
  std::vector<int64_t> y = labels.to_vector<int64_t>();
  for (int64_t s : src) y.push_back(y[s]);

  Tensor anchors;
  int64_t na;
  std::vector<double> pos_mask, self_mask;  // [na, m]
  if (anchor == ContrastiveAnchor::view_mean) {
    na = n;
    // anchors = A z with A[i, j] = 1/(1 + views of i) for j = i or a view of i.
    std::vector<double> a(static_cast<size_t>(n * m), 0.0);
    std::vector<int64_t> members(static_cast<size_t>(n), 1);
    for (int64_t s : src) ++members[s];
    for (int64_t i = 0; i < n; ++i) a[i * m + i] = 1.0 / members[i];
    for (size_t v = 0; v < src.size(); ++v) a[src[v] * m + n + static_cast<int64_t>(v)] = 1.0 / members[src[v]];
    anchors = matmul(from_vector(a, {n, m}).to(z.dtype()).to(z.device()), z);
    self_mask.assign(static_cast<size_t>(na * m), 0.0);
  } else {
    na = m;
    anchors = z;
    self_mask.assign(static_cast<size_t>(na * m), 0.0);
    for (int64_t i = 0; i < m; ++i) self_mask[i * m + i] = 1.0;
  }
  pos_mask.assign(static_cast<size_t>(na * m), 0.0);
  std::vector<double> inv_count(static_cast<size_t>(na), 0.0);
  int64_t used = 0;
  for (int64_t i = 0; i < na; ++i) {
    int64_t c = 0;
    for (int64_t j = 0; j < m; ++j)
      if (y[j] == y[i] && self_mask[i * m + j] == 0.0) {
        pos_mask[i * m + j] = 1.0;
        ++c;
      }
    if (c > 0) {
      inv_count[i] = 1.0 / static_cast<double>(c);
      ++used;
    }
  }
  SADANET_CHECK(used > 0, "disc_loss: no anchor has a positive (every label appears once)");
  auto dev_tensor = [&](const std::vector<double>& v, Shape s) { return from_vector(v, s).to(z.dtype()).to(z.device()); };

  Tensor logits = mul(matmul(anchors, z.t()), 1.0 / tau);  // [na, m]
  // Exclude self-pairs from the denominator by pushing their logits to -inf-like values.
  if (anchor == ContrastiveAnchor::each_sample) logits = add(logits, mul(dev_tensor(self_mask, {na, m}), -1e9));
  Tensor logp = log_softmax(logits, 1);
  Tensor per_anchor = sum(mul(logp, dev_tensor(pos_mask, {na, m})), {1});  // [na]
  Tensor weighted = mul(per_anchor, dev_tensor(inv_count, {na}));
  return mul(sum(weighted), -1.0 / static_cast<double>(used));
}

}  // namespace sadanet::sada
