// Tensor: shape, strides (in elements) and offset over reference-counted Storage, row-major.
// Tensors are cheap handles: copying one shares the data; clone() copies it.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "sadanet/allocator.h"
#include "sadanet/device.h"
#include "sadanet/dtype.h"
#include "sadanet/error.h"

namespace sadanet {

using Shape = std::vector<int64_t>;
std::string shape_str(const Shape& s);
int64_t shape_numel(const Shape& s);
Shape contiguous_strides(const Shape& s);

struct Node;  // autograd graph node, see autograd.h

struct TensorOptions {
  DType dtype = DType::f32;
  Device device{};
  bool requires_grad = false;
  TensorOptions() = default;
  TensorOptions(DType d) : dtype(d) {}
  TensorOptions(Device dev) : device(dev) {}
  TensorOptions(DType d, Device dev) : dtype(d), device(dev) {}
  TensorOptions with_dtype(DType d) const { auto o = *this; o.dtype = d; return o; }
  TensorOptions with_device(Device d) const { auto o = *this; o.device = d; return o; }
  TensorOptions with_requires_grad(bool r) const { auto o = *this; o.requires_grad = r; return o; }
};

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  Shape strides;
  int64_t offset = 0;
  DType dtype = DType::f32;
  // autograd
  bool requires_grad = false;   // leaves only; non-leaves are those with a grad_fn
  bool retains_grad = false;
  std::shared_ptr<Node> grad_fn;
  std::shared_ptr<TensorImpl> grad;
  std::string name;             // optional, for error messages and debugging
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl()->shape; }
  const Shape& strides() const { return impl()->strides; }
  int64_t offset() const { return impl()->offset; }
  int64_t dim() const { return static_cast<int64_t>(impl()->shape.size()); }
  int64_t size(int64_t d) const;  // negative d counts from the end
  int64_t stride(int64_t d) const;
  int64_t numel() const { return shape_numel(impl()->shape); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype()); }
  DType dtype() const { return impl()->dtype; }
  Device device() const { return impl()->storage->device(); }
  TensorOptions options() const { return TensorOptions(dtype(), device()); }
  bool is_contiguous() const;
  const std::shared_ptr<Storage>& storage() const { return impl()->storage; }

  // Pointer to the first element (device memory for CUDA tensors).
  void* raw_data() const;
  template <class T> T* data() const {
    check_dtype(dtype_of<T>::value, "data<T>()");
    return static_cast<T*>(raw_data());
  }
  // The single element as a double (copies from the device if needed).
  double item() const;
  // All elements, converted, in row-major order (copies from the device if needed).
  template <class T> std::vector<T> to_vector() const;

  // ---- autograd -------------------------------------------------------------------------------
  bool requires_grad() const;
  Tensor& set_requires_grad(bool r);
  bool is_leaf() const { return impl()->grad_fn == nullptr; }
  const std::shared_ptr<Node>& grad_fn() const { return impl()->grad_fn; }
  Tensor grad() const { return Tensor(impl()->grad); }
  void set_grad(const Tensor& g) { impl()->grad = g.impl_; }
  void zero_grad() { impl()->grad.reset(); }
  // Keep the gradient of a non-leaf (an intermediate such as a feature map) after backward().
  void retain_grad();
  // Reverse-mode pass from this tensor. Without a gradient it must hold one element.
  void backward(const Tensor& gradient = Tensor(), bool retain_graph = false) const;
  // Same data, cut from the graph.
  Tensor detach() const;

  // ---- views (share storage; differentiable) -------------------------------------------------
  Tensor reshape(const Shape& shape) const;  // -1 allowed once; copies only if it must
  Tensor view(const Shape& shape) const;     // like reshape, but never copies (throws instead)
  Tensor permute(const std::vector<int64_t>& dims) const;
  Tensor transpose(int64_t a, int64_t b) const;
  Tensor t() const { return transpose(0, 1); }
  Tensor slice(int64_t dim, int64_t start, int64_t end, int64_t step = 1) const;
  Tensor select(int64_t dim, int64_t index) const;  // drops dim
  Tensor expand(const Shape& shape) const;           // size-1 dims broadcast with stride 0
  Tensor squeeze(int64_t dim) const;
  Tensor unsqueeze(int64_t dim) const;
  Tensor flatten(int64_t start = 0, int64_t end = -1) const;

  // ---- copies and conversions ----------------------------------------------------------------
  Tensor contiguous() const;   // this tensor if already contiguous
  Tensor clone() const;        // always a fresh contiguous copy (differentiable)
  Tensor to(Device d) const;   // differentiable
  Tensor to(DType t) const;    // differentiable between floating types
  Tensor cpu() const { return to(kCPU); }

  // ---- in place (refused on tensors that need grad while grad mode is on) ---------------------
  Tensor& fill_(double v);
  Tensor& zero_() { return fill_(0.0); }
  Tensor& copy_(const Tensor& src);  // broadcasting, converting dtype and device

  std::string str(int64_t max_elems = 16) const;
  TensorImpl* impl() const;
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  void check_dtype(DType want, const char* op) const;

 private:
  std::shared_ptr<TensorImpl> impl_;
};

// ---- factories ---------------------------------------------------------------------------------
Tensor empty(const Shape& shape, const TensorOptions& opts = {});
Tensor zeros(const Shape& shape, const TensorOptions& opts = {});
Tensor ones(const Shape& shape, const TensorOptions& opts = {});
Tensor full(const Shape& shape, double value, const TensorOptions& opts = {});
Tensor empty_like(const Tensor& t);
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
Tensor arange(double start, double end, double step = 1.0, const TensorOptions& opts = {});
Tensor scalar_tensor(double v, const TensorOptions& opts = {});
// Copies host values into a new tensor of the given shape (and dtype/device in opts).
template <class T> Tensor from_vector(const std::vector<T>& values, const Shape& shape,
                                      const TensorOptions& opts = TensorOptions(dtype_of<T>::value));
// A tensor over caller-owned host memory is not offered: every tensor owns its Storage.

}  // namespace sadanet
