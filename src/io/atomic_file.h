// Writes a file so that readers see either the old contents or the complete new ones, never a
// torn file: bytes go to "<path>.tmp.<pid>.<n>", which commit() fsyncs and renames over <path>.
// If anything throws before commit() (or commit itself fails) the temporary file is removed and
// the old file is untouched.
#pragma once
#include <cstddef>
#include <string>

namespace sadanet::io {

class AtomicFileWriter {
 public:
  explicit AtomicFileWriter(std::string path);  // creates the temporary file; throws on failure
  ~AtomicFileWriter();                          // removes the temporary file unless committed
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  void write(const void* data, size_t n);
  void commit();  // fsync, close, rename over the target, fsync the directory
  const std::string& temp_path() const { return temp_; }

 private:
  [[noreturn]] void fail(const std::string& what);  // removes the temporary file, then throws
  std::string path_, temp_;
  int fd_ = -1;
  bool committed_ = false;
};

}  // namespace sadanet::io
