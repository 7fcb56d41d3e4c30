// A whole file mapped read-only (mmap), so multi-hundred-megabyte weight files are not copied
// twice; tensors then copy out of the mapping into their own storage.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace sadanet::io {

class MappedFile {
 public:
  explicit MappedFile(const std::string& path);  // throws sadanet::Error naming the path
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace sadanet::io
