#include "sadanet/allocator.h"

#include "sadanet/error.h"

namespace sadanet {
namespace {
Allocator*& slot(DeviceType t) {
  static Allocator* table[kNumDeviceTypes] = {};
  return table[static_cast<int>(t)];
}
}  // namespace

void register_allocator(DeviceType t, Allocator* a) { slot(t) = a; }

Allocator* get_allocator(DeviceType t) {
  Allocator* a = slot(t);
  SADANET_CHECK(a, "allocator: no memory allocator for device type ",
                t == DeviceType::cpu ? "cpu" : "cuda", " (that backend is not built into this library)");
  return a;
}

Storage::Storage(size_t nbytes, Device device) : nbytes_(nbytes), device_(device) {
  allocator_ = get_allocator(device.type);
  data_ = nbytes ? allocator_->allocate(nbytes, device.index) : nullptr;
}

Storage::~Storage() {
  if (data_) allocator_->deallocate(data_, nbytes_, device_.index);
}

}  // namespace sadanet
