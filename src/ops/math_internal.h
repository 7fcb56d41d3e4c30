// Helpers shared by the math op definitions (elementwise, reduce, softmax, loss, indexing):
// argument checks that produce uniform messages, and kernel calls without autograd for use in
// forwards and backward lambdas. Everything goes through the kernel registry, so it is
// device-generic.
#pragma once
#include <vector>

#include "kernels/kernels.h"
#include "sadanet/ops.h"

namespace sadanet::math {

// ---- checks (each message starts with the op name) -----------------------------------------------
void check_defined(const char* op, const Tensor& t, const char* what);
void check_floating(const char* op, const Tensor& t, const char* what);
// Same device and same dtype: no silent promotion or transfer.
void check_compatible(const char* op, const Tensor& a, const char* a_name, const Tensor& b, const char* b_name);
int64_t wrap_dim(const char* op, int64_t d, int64_t rank);
Shape broadcast_shapes(const char* op, const Shape& a, const Shape& b);
int64_t prod(const Shape& s, size_t begin, size_t end);

// ---- kernel calls, no graph recorded ---------------------------------------------------------------
Tensor unary_raw(UnaryOp op, const Tensor& x, double alpha = 0.0, double beta = 0.0);
// Broadcasts a and b (already checked compatible) and applies op; out dtype = a's.
Tensor binary_raw(BinaryOp op, const Tensor& a, const Tensor& b);
// zeros [outer, d, inner] with grad_out [outer, d_index, inner] added at index (gather's adjoint).
Tensor scatter_add_raw(const Tensor& grad_out, const Tensor& index, int64_t outer, int64_t d, int64_t d_index,
                       int64_t inner);

}  // namespace sadanet::math
