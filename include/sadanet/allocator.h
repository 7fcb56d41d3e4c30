// Device memory comes from an allocator per device type; the CPU backend registers an aligned
// host allocator, the CUDA backend its caching allocator. Storage never calls malloc directly.
#pragma once
#include <cstddef>
#include <memory>

#include "sadanet/device.h"

namespace sadanet {

class Allocator {
 public:
  virtual ~Allocator() = default;
  virtual void* allocate(size_t nbytes, int device_index) = 0;
  virtual void deallocate(void* p, size_t nbytes, int device_index) = 0;
};

void register_allocator(DeviceType t, Allocator* a);
Allocator* get_allocator(DeviceType t);  // throws if that device's backend is not built in

// Reference-counted memory block. Views share one Storage.
class Storage {
 public:
  Storage(size_t nbytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }

 private:
  void* data_ = nullptr;
  size_t nbytes_ = 0;
  Device device_;
  Allocator* allocator_ = nullptr;
};

}  // namespace sadanet
