// Everything the tool prints while it works on a run folder, also kept in that folder: for the
// lifetime of a ConsoleTee, std::cout and std::cerr write to the terminal as before and append
// to FILE (train: RUNDIR/log.txt; protocol: OUT/log.txt). A progress bar's \r redraws keep only
// their last state in the file. The file is opened with O_APPEND | O_NOFOLLOW (a planted link
// is refused, as for the run's other files); a write that fails is dropped, never fatal.
#pragma once
#include <memory>
#include <streambuf>
#include <string>

namespace sadanet::cli {

class ConsoleTee {
 public:
  explicit ConsoleTee(const std::string& path);
  ~ConsoleTee();
  ConsoleTee(const ConsoleTee&) = delete;
  ConsoleTee& operator=(const ConsoleTee&) = delete;

  class Buf;

 private:
  int fd_ = -1;
  std::unique_ptr<Buf> out_, err_;
  std::streambuf* old_out_ = nullptr;
  std::streambuf* old_err_ = nullptr;
};

}  // namespace sadanet::cli
