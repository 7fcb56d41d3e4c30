// Per-device kernel table. An op definition (src/ops) asks a slot for the kernel of its
// inputs' device; each backend (src/cpu, cuda/) fills the slots it implements from a static
// initialiser. Adding a device or a kernel touches only the backend, never the op.
#pragma once
#include "sadanet/device.h"
#include "sadanet/error.h"

namespace sadanet {

template <class Fn> class KernelSlot {
 public:
  explicit KernelSlot(const char* name) : name_(name) {}
  void set(DeviceType d, Fn* fn) { fns_[static_cast<int>(d)] = fn; }
  bool has(DeviceType d) const { return fns_[static_cast<int>(d)] != nullptr; }
  Fn* get(const Device& d) const {
    Fn* fn = fns_[static_cast<int>(d.type)];
    SADANET_CHECK(fn, "kernel '", name_, "' has no implementation for device ", d.str(),
                  " (that backend is not built into this library)");
    return fn;
  }
  const char* name() const { return name_; }

 private:
  const char* name_;
  Fn* fns_[kNumDeviceTypes] = {};
};

#define SADANET_CAT_(a, b) a##b
#define SADANET_CAT(a, b) SADANET_CAT_(a, b)
// Declares a slot: a function returning the one table for that kernel (no init-order issues).
#define SADANET_KERNEL_SLOT(name, Signature)                     \
  inline ::sadanet::KernelSlot<Signature>& name() {              \
    static ::sadanet::KernelSlot<Signature> slot(#name);         \
    return slot;                                                 \
  }
// Fills a slot for one device from a backend's translation unit.
#define SADANET_REGISTER_KERNEL(slot, device_type, fn)                                   \
  static const bool SADANET_CAT(sadanet_kernel_registered_, __COUNTER__) =               \
      (::sadanet::kernels::slot().set(device_type, fn), true)

}  // namespace sadanet
