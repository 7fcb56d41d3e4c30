// matmul (torch.matmul semantics), bmm and linear. All go through one differentiable batched
// product, mm_batched(a [..., m, k], b [..., k, n]), which hands strided operands to the gemm
// kernel as they are (transposed views become transpose flags; broadcast batch dims become
// batch stride 0) and copies only layouts the GEMM cannot address.
#include "kernels/kernels.h"
#include "ops/nn_checks.h"
#include "sadanet/ops.h"

namespace sadanet {
namespace {

Shape batch_of(const Tensor& t) { return Shape(t.shape().begin(), t.shape().end() - 2); }

Shape broadcast_batch(const char* op, const Tensor& a, const Tensor& b) {
  const Shape sa = batch_of(a), sb = batch_of(b);
  const size_t n = std::max(sa.size(), sb.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    const int64_t da = i + sa.size() >= n ? sa[i + sa.size() - n] : 1;
    const int64_t db = i + sb.size() >= n ? sb[i + sb.size() - n] : 1;
    SADANET_CHECK(da == db || da == 1 || db == 1, op, ": expected broadcastable batch dimensions, got a ",
                  shape_str(a.shape()), " and b ", shape_str(b.shape()));
    out[i] = da == 1 ? db : da;
  }
  return out;
}

// One stride steps through all batch dims (0 when they are all broadcast); false if none does.
bool flat_batch_stride(const Tensor& t, int64_t& stride) {
  const int64_t nb = t.dim() - 2;
  int64_t expect = 0;  // the stride the next outer non-size-1 dim must have
  bool any = false;
  stride = 0;
  for (int64_t d = nb - 1; d >= 0; --d) {
    if (t.size(d) == 1) continue;
    if (!any) { stride = t.stride(d); any = true; }
    else if (t.stride(d) != expect) return false;  // also refuses mixed broadcast/real dims
    expect = t.stride(d) * t.size(d);
  }
  return true;
}

struct Operand {
  Tensor t;          // the tensor whose storage the GEMM reads
  bool trans;        // stored as [cols, rows]
  int64_t ld;        // row stride of the stored matrix
  int64_t batch_stride;
};

// e is [batch..., r, c], possibly strided.
Operand as_gemm_operand(Tensor e) {
  const int64_t r = e.size(-2), c = e.size(-1), rs = e.stride(-2), cs = e.stride(-1);
  int64_t bs = 0;
  const bool batch_ok = flat_batch_stride(e, bs);
  if (batch_ok && (cs == 1 || c == 1) && (r == 1 || rs >= c)) return {e, false, rs, bs};
  if (batch_ok && (rs == 1 || r == 1) && (c == 1 || cs >= r)) return {e, true, cs, bs};
  e = e.contiguous();
  return {e, false, c, r * c};
}

Tensor mm_batched(const char* op, const Tensor& a, const Tensor& b) {
  const Shape batch = broadcast_batch(op, a, b);
  const int64_t m = a.size(-2), k = a.size(-1), n = b.size(-1);
  Shape sa = batch, sb = batch, sc = batch;
  sa.insert(sa.end(), {m, k});
  sb.insert(sb.end(), {k, n});
  sc.insert(sc.end(), {m, n});
  Tensor out = empty(sc, a.options());
  {
    NoGradGuard no_grad;  // expand/contiguous here only arrange memory; record() below covers the op
    const Operand A = as_gemm_operand(a.expand(sa)), B = as_gemm_operand(b.expand(sb));
    GemmArgs g;
    g.batch = shape_numel(batch);
    g.m = m; g.n = n; g.k = k;
    g.trans_a = A.trans; g.trans_b = B.trans;
    g.lda = A.ld; g.ldb = B.ld; g.ldc = n;
    g.stride_a = A.batch_stride; g.stride_b = B.batch_stride; g.stride_c = m * n;
    if (out.numel() > 0) kernels::gemm().get(a.device())(g, A.t, B.t, out);
  }
  const bool need_a = a.requires_grad(), need_b = b.requires_grad();
  return record(op, out, {a, b}, [a, b, op, need_a, need_b](const Tensor& g) {
    std::vector<Tensor> grads(2);
    if (need_a) grads[0] = sum_to(mm_batched(op, g, b.transpose(-2, -1)), a.shape());
    if (need_b) grads[1] = sum_to(mm_batched(op, a.transpose(-2, -1), g), b.shape());
    return grads;
  });
}

void check_pair(const char* op, const Tensor& a, const Tensor& b) {
  using namespace ops_detail;
  check_defined(op, a, "a");
  check_defined(op, b, "b");
  check_same(op, {{&a, "a"}, {&b, "b"}});
  check_floating(op, a, "a");
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  const char* op = "matmul";
  check_pair(op, a, b);
  SADANET_CHECK(a.dim() >= 1 && b.dim() >= 1, op, ": expected a and b with at least 1 dimension, got a ",
                shape_str(a.shape()), " and b ", shape_str(b.shape()));
  const int64_t kb = b.dim() == 1 ? b.size(0) : b.size(-2);
  SADANET_CHECK(a.size(-1) == kb, op, ": expected a's last dimension to equal b's ",
                b.dim() == 1 ? "only" : "second-to-last", " dimension, got a ", shape_str(a.shape()), " and b ",
                shape_str(b.shape()));
  if (a.dim() == 1 && b.dim() == 1) return mm_batched(op, a.unsqueeze(0), b.unsqueeze(1)).reshape({});
  if (a.dim() == 1) return matmul(a.unsqueeze(0), b).squeeze(-2);
  if (b.dim() == 1) return matmul(a, b.unsqueeze(1)).squeeze(-1);
  if (a.dim() > 2 && b.dim() == 2) {
    // Fold a's batch into its rows: one large GEMM, and b's gradient needs no batch reduction.
    Shape out_shape(a.shape().begin(), a.shape().end() - 1);
    const int64_t rows = shape_numel(out_shape);  // not -1: ambiguous when k == 0
    out_shape.push_back(b.size(1));
    return mm_batched(op, a.reshape({rows, a.size(-1)}), b).reshape(out_shape);
  }
  return mm_batched(op, a, b);
}

Tensor bmm(const Tensor& a, const Tensor& b) {
  const char* op = "bmm";
  check_pair(op, a, b);
  SADANET_CHECK(a.dim() == 3 && b.dim() == 3 && a.size(0) == b.size(0) && a.size(2) == b.size(1), op,
                ": expected a [B,M,K] and b [B,K,N], got a ", shape_str(a.shape()), " and b ", shape_str(b.shape()));
  return mm_batched(op, a, b);
}

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  using namespace ops_detail;
  const char* op = "linear";
  check_defined(op, x, "x");
  check_defined(op, weight, "weight");
  check_same(op, {{&x, "x"}, {&weight, "weight"}, {&bias, "bias"}});
  check_floating(op, x, "x");
  SADANET_CHECK(weight.dim() == 2 && x.dim() >= 1 && x.size(-1) == weight.size(1), op,
                ": expected x [..., in] and weight [out, in], got x ", shape_str(x.shape()), " and weight ",
                shape_str(weight.shape()));
  if (bias.defined())
    SADANET_CHECK(bias.dim() == 1 && bias.size(0) == weight.size(0), op, ": expected bias of shape [", weight.size(0),
                  "], got ", shape_str(bias.shape()));
  const Tensor y = matmul(x, weight.t());
  return bias.defined() ? add(y, bias) : y;
}

}  // namespace sadanet
