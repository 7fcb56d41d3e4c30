// A restricted unpickler for the pickles torch.save writes (protocols 2-5). It is a data parser,
// not Python: GLOBAL, REDUCE, NEWOBJ, BUILD and BINPERSID only hand objects to a Resolver, which
// knows a short allowlist and refuses every other name, so a file naming os.system is rejected
// without anything being looked up or run. All objects live in the Unpickler's arena (so self-
// referencing structures cannot leak), and the stack, memo and object count are bounded.
#pragma once
#include <any>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "io/byte_reader.h"

namespace sadanet::io::pickle {

enum class Kind : uint8_t { none, boolean, integer, big_integer, floating, string, bytes, tuple, list, dict,
                            global, custom };
const char* kind_name(Kind k);

struct Object;
using Ref = Object*;  // owned by the Unpickler that made it; valid while it lives

struct Object {
  Kind kind = Kind::none;
  bool b = false;
  int64_t i = 0;
  double f = 0;
  // string and bytes: the bytes; big_integer: little-endian two's complement; global:
  // "module.name"; custom: a label for error messages.
  std::string s;
  std::vector<Ref> items;                    // tuple, list
  std::vector<std::pair<Ref, Ref>> entries;  // dict, in insertion order; for a repeated key the last wins
  std::any payload;                          // custom: whatever the Resolver attached
};

// The value of a string key in a dict (the last one set), or nullptr.
Ref dict_get(const Object& dict, std::string_view key);

class Unpickler;

// Gives meaning to the opcodes that would reach outside plain data in Python.
class Resolver {
 public:
  virtual ~Resolver() = default;
  virtual Ref find_class(Unpickler& u, const std::string& module, const std::string& name) = 0;  // GLOBAL
  virtual Ref call(Unpickler& u, Ref callable, Ref args) = 0;   // REDUCE, NEWOBJ: args is a tuple
  virtual void build(Unpickler& u, Ref obj, Ref state) = 0;     // BUILD
  virtual Ref persistent_load(Unpickler& u, Ref pid) = 0;        // BINPERSID
};

// Plain data only: any global, call or persistent id is an error.
class PlainDataResolver : public Resolver {
 public:
  Ref find_class(Unpickler& u, const std::string& module, const std::string& name) override;
  Ref call(Unpickler& u, Ref callable, Ref args) override;
  void build(Unpickler& u, Ref obj, Ref state) override;
  Ref persistent_load(Unpickler& u, Ref pid) override;
};

struct Limits {
  size_t max_objects = size_t{1} << 22;  // a ResNet-50 state_dict needs ~5k
  size_t max_stack = size_t{1} << 22;    // stack entries plus marks
  size_t max_line = 1024;                // GLOBAL's module and name lines
  size_t max_long_bytes = 1024;          // LONG4 integers
};

class Unpickler {
 public:
  // Reads one pickle starting at data[start]; several can follow each other (legacy torch files).
  Unpickler(const uint8_t* data, size_t size, size_t start, Resolver& resolver, Limits limits = {});
  Unpickler(const Unpickler&) = delete;
  Unpickler& operator=(const Unpickler&) = delete;

  Ref load();                          // runs to STOP and returns the object
  size_t end() const { return in_.pos(); }  // just past STOP once load() returned
  Ref make(Kind k);                    // a new object in this unpickler's arena

 private:
  void step(uint8_t op);
  void push(Ref r);
  Ref pop();
  Ref& top();
  std::vector<Ref> pop_mark();
  Ref make_int(const uint8_t* p, size_t n);
  Ref make_string(Kind k, uint64_t n);
  std::string read_line();
  void memo_put(uint64_t index);
  Ref memo_get(uint64_t index);

  ByteReader in_;
  Resolver& resolver_;
  Limits limits_;
  std::deque<Object> arena_;
  std::vector<Ref> stack_;
  std::vector<size_t> marks_;  // stack sizes at each MARK
  std::unordered_map<uint64_t, Ref> memo_;
  bool stopped_ = false;
  Ref result_ = nullptr;
};

}  // namespace sadanet::io::pickle
