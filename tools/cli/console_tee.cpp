#include "console_tee.h"

#include <fcntl.h>
#include <unistd.h>

#include <ctime>
#include <iostream>

#include "sadanet/error.h"

namespace sadanet::cli {

// Passes every character to the console's buffer and collects lines for the file; a '\r'
// restarts the pending line (a redrawn progress bar), a '\n' writes it.
class ConsoleTee::Buf : public std::streambuf {
 public:
  Buf(std::streambuf* console, int fd) : console_(console), fd_(fd) {}
  ~Buf() override { flush_line(); }

 protected:
  int_type overflow(int_type c) override {
    if (c == traits_type::eof()) return traits_type::not_eof(c);
    const char ch = traits_type::to_char_type(c);
    console_->sputc(ch);
    take(ch);
    return c;
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    console_->sputn(s, n);
    for (std::streamsize i = 0; i < n; ++i) take(s[i]);
    return n;
  }
  int sync() override { return console_->pubsync(); }

 private:
  void take(char ch) {
    if (ch == '\r') {
      line_.clear();
    } else {
      line_ += ch;
      if (ch == '\n') flush_line();
    }
  }
  void flush_line() {
    if (line_.empty()) return;
    const char* p = line_.data();
    size_t left = line_.size();
    while (left > 0) {
      const ssize_t w = ::write(fd_, p, left);
      if (w <= 0) break;  // a full disk loses log lines, not the run
      p += w;
      left -= static_cast<size_t>(w);
    }
    line_.clear();
  }

  std::streambuf* console_;
  int fd_;
  std::string line_;
};

ConsoleTee::ConsoleTee(const std::string& path) {
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0644);
  SADANET_CHECK(fd_ >= 0, "cannot open ", path, " to keep the console log (a symbolic link there is refused)");
  char when[32];
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
  const std::string head = std::string("---- sadanet, ") + when + "\n";
  if (::write(fd_, head.data(), head.size()) < 0) {
  }  // (best effort, as every log line)
  std::cout.flush();
  std::cerr.flush();
  out_ = std::make_unique<Buf>(std::cout.rdbuf(), fd_);
  err_ = std::make_unique<Buf>(std::cerr.rdbuf(), fd_);
  old_out_ = std::cout.rdbuf(out_.get());
  old_err_ = std::cerr.rdbuf(err_.get());
}

ConsoleTee::~ConsoleTee() {
  std::cout.flush();
  std::cerr.flush();
  std::cout.rdbuf(old_out_);
  std::cerr.rdbuf(old_err_);
  out_.reset();
  err_.reset();
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace sadanet::cli
