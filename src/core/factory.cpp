// Tensor factories.
#include <cmath>

#include "kernels/kernels.h"
#include "sadanet/tensor.h"

namespace sadanet {

Tensor empty(const Shape& shape, const TensorOptions& opts) {
  for (auto d : shape) SADANET_CHECK(d >= 0, "empty: negative dimension in shape ", shape_str(shape));
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(static_cast<size_t>(shape_numel(shape)) * dtype_size(opts.dtype),
                                            opts.device);
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = opts.dtype;
  Tensor t(impl);
  if (opts.requires_grad) t.set_requires_grad(true);
  return t;
}

Tensor full(const Shape& shape, double value, const TensorOptions& opts) {
  Tensor t = empty(shape, opts.with_requires_grad(false));
  kernels::fill().get(opts.device)(t, value);
  if (opts.requires_grad) t.set_requires_grad(true);
  return t;
}
Tensor zeros(const Shape& shape, const TensorOptions& opts) { return full(shape, 0.0, opts); }
Tensor ones(const Shape& shape, const TensorOptions& opts) { return full(shape, 1.0, opts); }
Tensor empty_like(const Tensor& t) { return empty(t.shape(), t.options()); }
Tensor zeros_like(const Tensor& t) { return zeros(t.shape(), t.options()); }
Tensor ones_like(const Tensor& t) { return ones(t.shape(), t.options()); }
Tensor scalar_tensor(double v, const TensorOptions& opts) { return full({}, v, opts); }

Tensor arange(double start, double end, double step, const TensorOptions& opts) {
  SADANET_CHECK(step != 0 && std::isfinite(start) && std::isfinite(end) && std::isfinite(step),
                "arange: expected finite start/end and a non-zero step, got start=", start, " end=", end,
                " step=", step);
  SADANET_CHECK((end - start) / step >= 0, "arange: step ", step, " does not go from ", start, " to ", end);
  auto n = static_cast<int64_t>(std::ceil((end - start) / step));
  Tensor t = empty({n}, opts.with_requires_grad(false));
  if (n) kernels::arange().get(opts.device)(t, start, step);
  if (opts.requires_grad) t.set_requires_grad(true);
  return t;
}

template <class T> Tensor from_vector(const std::vector<T>& values, const Shape& shape, const TensorOptions& opts) {
  SADANET_CHECK(static_cast<int64_t>(values.size()) == shape_numel(shape), "from_vector: ", values.size(),
                " values do not fill shape ", shape_str(shape));
  Tensor host = empty(shape, TensorOptions(dtype_of<T>::value));
  if (!values.empty()) std::memcpy(host.raw_data(), values.data(), values.size() * sizeof(T));
  Tensor t = host.to(opts.dtype).to(opts.device);
  if (opts.requires_grad) t.set_requires_grad(true);
  return t;
}
template Tensor from_vector<float>(const std::vector<float>&, const Shape&, const TensorOptions&);
template Tensor from_vector<double>(const std::vector<double>&, const Shape&, const TensorOptions&);
template Tensor from_vector<int64_t>(const std::vector<int64_t>&, const Shape&, const TensorOptions&);
template Tensor from_vector<int32_t>(const std::vector<int32_t>&, const Shape&, const TensorOptions&);
template Tensor from_vector<uint8_t>(const std::vector<uint8_t>&, const Shape&, const TensorOptions&);

}  // namespace sadanet
