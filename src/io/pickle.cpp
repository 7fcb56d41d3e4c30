#include "io/pickle.h"

#include <bit>
#include <cctype>
#include <cstdio>
#include <cstring>

namespace sadanet::io::pickle {

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::none: return "None";
    case Kind::boolean: return "bool";
    case Kind::integer: case Kind::big_integer: return "int";
    case Kind::floating: return "float";
    case Kind::string: return "str";
    case Kind::bytes: return "bytes";
    case Kind::tuple: return "tuple";
    case Kind::list: return "list";
    case Kind::dict: return "dict";
    case Kind::global: return "global";
    case Kind::custom: return "object";
  }
  return "?";
}

Ref dict_get(const Object& dict, std::string_view key) {
  for (auto it = dict.entries.rbegin(); it != dict.entries.rend(); ++it)
    if (it->first->kind == Kind::string && it->first->s == key) return it->second;
  return nullptr;
}

Ref PlainDataResolver::find_class(Unpickler&, const std::string& module, const std::string& name) {
  throw Error("global '" + module + "." + name + "' is not allowed here (plain data expected)");
}
Ref PlainDataResolver::call(Unpickler&, Ref, Ref) { throw Error("calls are not allowed here (plain data expected)"); }
void PlainDataResolver::build(Unpickler&, Ref, Ref) { throw Error("BUILD is not allowed here (plain data expected)"); }
Ref PlainDataResolver::persistent_load(Unpickler&, Ref) {
  throw Error("persistent ids are not allowed here (plain data expected)");
}

Unpickler::Unpickler(const uint8_t* data, size_t size, size_t start, Resolver& resolver, Limits limits)
    : in_(data, size, start), resolver_(resolver), limits_(limits) {}

Ref Unpickler::make(Kind k) {
  SADANET_CHECK(arena_.size() < limits_.max_objects, "more than ", limits_.max_objects, " objects");
  arena_.emplace_back().kind = k;
  return &arena_.back();
}

void Unpickler::push(Ref r) {
  SADANET_CHECK(stack_.size() + marks_.size() < limits_.max_stack, "stack deeper than ", limits_.max_stack);
  stack_.push_back(r);
}

// Items below the innermost MARK belong to the enclosing level: reaching them is an underflow.
Ref Unpickler::pop() {
  size_t floor = marks_.empty() ? 0 : marks_.back();
  SADANET_CHECK(stack_.size() > floor, "stack underflow");
  Ref r = stack_.back();
  stack_.pop_back();
  return r;
}

Ref& Unpickler::top() {
  size_t floor = marks_.empty() ? 0 : marks_.back();
  SADANET_CHECK(stack_.size() > floor, "stack underflow");
  return stack_.back();
}

std::vector<Ref> Unpickler::pop_mark() {
  SADANET_CHECK(!marks_.empty(), "no MARK on the stack");
  size_t m = marks_.back();
  marks_.pop_back();
  std::vector<Ref> items(stack_.begin() + static_cast<std::ptrdiff_t>(m), stack_.end());
  stack_.resize(m);
  return items;
}

// Little-endian two's complement, as LONG1/LONG4 store it; int64 when it fits.
Ref Unpickler::make_int(const uint8_t* p, size_t n) {
  bool negative = n > 0 && (p[n - 1] & 0x80);
  bool fits = true;
  for (size_t k = 8; k < n; ++k) fits = fits && p[k] == (negative ? 0xff : 0x00);
  if (n > 8 && fits) fits = ((p[7] & 0x80) != 0) == negative;
  if (!fits) {
    Ref r = make(Kind::big_integer);
    r->s.assign(reinterpret_cast<const char*>(p), n);
    return r;
  }
  uint64_t u = negative ? ~uint64_t{0} : 0;
  for (size_t k = 0; k < n && k < 8; ++k) {
    u &= ~(uint64_t{0xff} << (8 * k));
    u |= static_cast<uint64_t>(p[k]) << (8 * k);
  }
  Ref r = make(Kind::integer);
  r->i = static_cast<int64_t>(u);
  return r;
}

Ref Unpickler::make_string(Kind k, uint64_t n) {
  std::string_view v = in_.view(n, "string");  // checked against the input before allocating
  Ref r = make(k);
  r->s.assign(v);
  return r;
}

std::string Unpickler::read_line() {
  std::string line;
  for (;;) {
    char c = static_cast<char>(in_.u8("GLOBAL name"));
    if (c == '\n') return line;
    SADANET_CHECK(line.size() < limits_.max_line, "GLOBAL name longer than ", limits_.max_line, " bytes");
    line.push_back(c);
  }
}

void Unpickler::memo_put(uint64_t index) {
  SADANET_CHECK(memo_.size() < limits_.max_objects || memo_.count(index), "memo larger than ", limits_.max_objects);
  memo_[index] = top();
}

Ref Unpickler::memo_get(uint64_t index) {
  auto it = memo_.find(index);
  SADANET_CHECK(it != memo_.end(), "memo entry ", index, " was never stored");
  return it->second;
}

Ref Unpickler::load() {
  SADANET_CHECK(!stopped_, "load() called twice");
  while (!stopped_) {
    size_t at = in_.pos();
    uint8_t op = in_.u8("opcode (pickle truncated before STOP)");
    try {
      step(op);
    } catch (const Error& e) {
      char buf[64];
      std::snprintf(buf, sizeof buf, " (opcode 0x%02x at offset %zu)", op, at);
      throw Error(std::string("pickle: ") + e.what() + buf);
    }
  }
  return result_;
}

void Unpickler::step(uint8_t op) {
  auto make_tuple = [&](std::vector<Ref> items) {
    Ref t = make(Kind::tuple);
    t->items = std::move(items);
    push(t);
  };
  auto expect = [](Ref r, Kind k, const char* what) {
    SADANET_CHECK(r->kind == k, what, " expects a ", kind_name(k), ", got a ", kind_name(r->kind));
    return r;
  };
  switch (op) {
    case 0x80: {  // PROTO
      uint8_t v = in_.u8("protocol");
      SADANET_CHECK(v <= 5, "unsupported pickle protocol ", int(v));
      break;
    }
    case 0x95: {  // FRAME: only a buffering hint, but its length must fit
      uint64_t n = in_.u64("frame length");
      SADANET_CHECK(n <= in_.remaining(), "frame of ", n, " bytes runs past the end");
      break;
    }
    case '.':  // STOP
      result_ = pop();
      stopped_ = true;
      break;
    case '(':  // MARK
      SADANET_CHECK(stack_.size() + marks_.size() < limits_.max_stack, "stack deeper than ", limits_.max_stack);
      marks_.push_back(stack_.size());
      break;
    case '0':  // POP: as in CPython, an empty level pops its MARK instead
      if (!marks_.empty() && stack_.size() == marks_.back()) marks_.pop_back();
      else pop();
      break;
    case '1': pop_mark(); break;  // POP_MARK
    case '2': push(top()); break;  // DUP
    case 'N': push(make(Kind::none)); break;
    case 0x88: case 0x89: {  // NEWTRUE, NEWFALSE
      Ref r = make(Kind::boolean);
      r->b = op == 0x88;
      push(r);
      break;
    }
    case 'J': push(make_int(in_.take(4, "BININT"), 4)); break;  // signed
    case 'K': case 'M': {  // BININT1, BININT2: unsigned
      Ref r = make(Kind::integer);
      r->i = op == 'K' ? in_.u8("BININT1") : in_.u16("BININT2");
      push(r);
      break;
    }
    case 0x8a: {  // LONG1
      uint8_t n = in_.u8("LONG1 length");
      push(make_int(in_.take(n, "LONG1"), n));
      break;
    }
    case 0x8b: {  // LONG4
      uint32_t n = in_.u32("LONG4 length");
      SADANET_CHECK(n <= limits_.max_long_bytes, "LONG4 integer of ", n, " bytes");
      push(make_int(in_.take(n, "LONG4"), n));
      break;
    }
    case 'G': {  // BINFLOAT, big-endian
      uint64_t bits = 0;
      const uint8_t* p = in_.take(8, "BINFLOAT");
      for (int k = 0; k < 8; ++k) bits = (bits << 8) | p[k];
      Ref r = make(Kind::floating);
      r->f = std::bit_cast<double>(bits);
      push(r);
      break;
    }
    case 'X': push(make_string(Kind::string, in_.u32("BINUNICODE length"))); break;
    case 0x8c: push(make_string(Kind::string, in_.u8("SHORT_BINUNICODE length"))); break;
    case 0x8d: push(make_string(Kind::string, in_.u64("BINUNICODE8 length"))); break;
    case 'U': push(make_string(Kind::string, in_.u8("SHORT_BINSTRING length"))); break;
    case 'T': push(make_string(Kind::string, in_.u32("BINSTRING length"))); break;
    case 'B': push(make_string(Kind::bytes, in_.u32("BINBYTES length"))); break;
    case 'C': push(make_string(Kind::bytes, in_.u8("SHORT_BINBYTES length"))); break;
    case 0x8e: case 0x96: push(make_string(Kind::bytes, in_.u64("BINBYTES8 length"))); break;
    case ')': push(make(Kind::tuple)); break;
    case ']': push(make(Kind::list)); break;
    case '}': push(make(Kind::dict)); break;
    case 't': make_tuple(pop_mark()); break;
    case 0x85: case 0x86: case 0x87: {  // TUPLE1..3
      std::vector<Ref> items(op - 0x84);
      for (size_t k = items.size(); k-- > 0;) items[k] = pop();
      make_tuple(std::move(items));
      break;
    }
    case 'l': {  // LIST
      Ref l = make(Kind::list);
      l->items = pop_mark();
      push(l);
      break;
    }
    case 'd': case 'u': {  // DICT, SETITEMS
      std::vector<Ref> kv = pop_mark();
      SADANET_CHECK(kv.size() % 2 == 0, "odd number of items for a dict");
      Ref d = op == 'd' ? make(Kind::dict) : expect(top(), Kind::dict, "SETITEMS");
      for (size_t k = 0; k < kv.size(); k += 2) d->entries.emplace_back(kv[k], kv[k + 1]);
      if (op == 'd') push(d);
      break;
    }
    case 's': {  // SETITEM
      Ref v = pop(), k = pop();
      expect(top(), Kind::dict, "SETITEM")->entries.emplace_back(k, v);
      break;
    }
    case 'a': {  // APPEND
      Ref v = pop();
      expect(top(), Kind::list, "APPEND")->items.push_back(v);
      break;
    }
    case 'e': {  // APPENDS
      std::vector<Ref> items = pop_mark();
      Ref l = expect(top(), Kind::list, "APPENDS");
      l->items.insert(l->items.end(), items.begin(), items.end());
      break;
    }
    case 'q': memo_put(in_.u8("BINPUT index")); break;
    case 'r': memo_put(in_.u32("LONG_BINPUT index")); break;
    case 0x94: memo_put(memo_.size()); break;  // MEMOIZE
    case 'h': push(memo_get(in_.u8("BINGET index"))); break;
    case 'j': push(memo_get(in_.u32("LONG_BINGET index"))); break;
    case 'c': {  // GLOBAL
      std::string module = read_line();
      std::string name = read_line();
      push(resolver_.find_class(*this, module, name));
      break;
    }
    case 0x93: {  // STACK_GLOBAL
      Ref name = expect(pop(), Kind::string, "STACK_GLOBAL");
      Ref module = expect(pop(), Kind::string, "STACK_GLOBAL");
      push(resolver_.find_class(*this, module->s, name->s));
      break;
    }
    case 'R': case 0x81: {  // REDUCE, NEWOBJ
      Ref args = expect(pop(), Kind::tuple, op == 'R' ? "REDUCE" : "NEWOBJ");
      Ref callable = pop();
      push(resolver_.call(*this, callable, args));
      break;
    }
    case 0x92: {  // NEWOBJ_EX: keyword arguments are never needed for weights
      Ref kwargs = expect(pop(), Kind::dict, "NEWOBJ_EX");
      SADANET_CHECK(kwargs->entries.empty(), "NEWOBJ_EX with keyword arguments is not supported");
      Ref args = expect(pop(), Kind::tuple, "NEWOBJ_EX");
      Ref cls = pop();
      push(resolver_.call(*this, cls, args));
      break;
    }
    case 'b': {  // BUILD
      Ref state = pop();
      resolver_.build(*this, top(), state);
      break;
    }
    case 'Q': {  // BINPERSID
      Ref pid = pop();
      push(resolver_.persistent_load(*this, pid));
      break;
    }
    default: {
      char buf[48];
      std::snprintf(buf, sizeof buf, "unsupported opcode 0x%02x", op);
      throw Error(std::isprint(op) ? std::string(buf) + " ('" + char(op) + "')" : std::string(buf));
    }
  }
}

}  // namespace sadanet::io::pickle
