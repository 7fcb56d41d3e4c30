// Writing the files of a run folder so that a planted symbolic link cannot redirect them and a
// failed write leaves no torn content.
//
// A run folder may sit under /tmp or a shared disk where someone else can plant links: a link
// named metrics.jsonl must not make sadanet append to /etc/passwd-like targets, and a link named
// test_metrics.json must not be truncated through. So: whole files are written to a fresh
// temporary name (O_EXCL | O_NOFOLLOW) and renamed over the path, which replaces a link instead
// of writing through it; appends open with O_NOFOLLOW and refuse a link.
#pragma once
#include <string>
#include <string_view>

namespace sadanet::io {

// Replaces `path` with `bytes` atomically (temporary file, fsync, rename). Throws sadanet::Error
// saying why, leaving the old file as it was.
void write_file_atomic(const std::string& path, std::string_view bytes);

// Appends `line` and a newline with one write. Refuses a symbolic link at `path`. On a short or
// failed write (disk full) the file is cut back to its previous length, so no torn line stays,
// and sadanet::Error says why.
void append_line(const std::string& path, std::string_view line);

// Throws sadanet::Error when `path` is a symbolic link (what: how to name it in the message).
void refuse_symlink(const std::string& path, const std::string& what);

}  // namespace sadanet::io
