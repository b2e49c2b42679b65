#include "nn/checkpoint.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <optional>
#include <set>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

namespace seqgrad::nn {

// Tensor bytes go to and from the file as they are in memory, which is the file's little-endian
// layout only on a little-endian host (every machine seqgrad targets). A big-endian port would
// have to byte-swap in write_tensor_data and read_tensor_data below.
static_assert(std::endian::native == std::endian::little, "checkpoint.cpp assumes little-endian");

namespace {

using json = nlohmann::json;

// The limit the reference safetensors library uses. Real headers are a few hundred bytes per
// tensor plus the metadata; anything bigger is garbage or an attempt to make us allocate.
constexpr std::uint64_t kMaxHeaderBytes = 100'000'000;
constexpr const char* kMetadataKey = "__metadata__";

const char* file_dtype_name(DType t) {
  switch (t) {
    case DType::Float32:
      return "F32";
    case DType::Float64:
      return "F64";
    case DType::Int64:
      return "I64";
    case DType::Bool:
      return "BOOL";
  }
  return "?";
}

std::optional<DType> parse_file_dtype(std::string_view s) {
  for (DType t : {kFloat32, kFloat64, kInt64, kBool})
    if (s == file_dtype_name(t)) return t;
  return std::nullopt;
}

// generic_category's message is strerror's text ("No such file or directory") without strerror's
// shared buffer.
std::string os_error(int err) { return std::error_code(err, std::generic_category()).message(); }

// Closes the descriptor on every exit path, including the exceptions thrown below.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }
  // Closes now and returns 0 or the errno: close() can report a deferred write error (NFS).
  int close() {
    const int rc = ::close(fd_);
    fd_ = -1;
    return rc == 0 ? 0 : errno;
  }

 private:
  int fd_;
};

// write() may write less than asked (signals, the 2 GB per-call cap); returns 0 or the errno.
int write_all(int fd, const void* data, std::size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (w == 0) return ENOSPC;  // no progress and no error: do not spin
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return 0;
}

// Reads exactly n bytes at `offset`; returns 0, the errno, or -1 when the file ends first.
int pread_all(int fd, void* data, std::size_t n, std::uint64_t offset) {
  char* p = static_cast<char*>(data);
  while (n > 0) {
    const ssize_t r = ::pread(fd, p, n, static_cast<off_t>(offset));
    if (r < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (r == 0) return -1;
    p += r;
    n -= static_cast<std::size_t>(r);
    offset += static_cast<std::uint64_t>(r);
  }
  return 0;
}

std::string shape_string(const std::vector<std::uint64_t>& shape) {
  return fmt::format("[{}]", fmt::join(shape, ", "));
}

// ---- the header parser ------------------------------------------------------------------------
// A SAX handler rather than a parsed json tree: it accepts only the shape a safetensors header
// can have (an object of objects holding a string and two short integer arrays), so it rejects
// anything else at the first unexpected token, with a message that says where, and a hostile
// header can neither nest deeply nor make it build a tree many times the header's size.

struct HeaderEntry {
  std::string name;
  std::optional<DType> dtype;
  bool has_shape = false;
  std::vector<std::uint64_t> shape;
  bool has_offsets = false;
  std::vector<std::uint64_t> offsets;
};

class HeaderParser {
 public:
  std::vector<HeaderEntry> entries;
  std::map<std::string, std::string> metadata;
  std::string error;  // the first problem found, empty if the header is good

  // nlohmann's SAX interface: returning false stops the parse.
  bool null() { return unexpected("null"); }
  bool boolean(bool) { return unexpected("a boolean"); }
  bool number_integer(json::number_integer_t v) {
    // The lexer reports non-negative integers as unsigned, so this is a negative number.
    if (v >= 0) return number_unsigned(static_cast<std::uint64_t>(v));
    if (state_ == State::kShape)
      return problem("tensor '{}' has a negative dimension {}", name(), v);
    if (state_ == State::kOffsets)
      return problem("tensor '{}' has a negative data offset {}", name(), v);
    return unexpected("a number");
  }
  bool number_unsigned(json::number_unsigned_t v) {
    if (state_ == State::kShape) {
      if (entry().shape.size() == static_cast<std::size_t>(kMaxDims))
        return problem("tensor '{}' has more than {} dimensions", name(), kMaxDims);
      if (v > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        return problem("tensor '{}' has an impossibly large dimension {}", name(), v);
      entry().shape.push_back(v);
      return true;
    }
    if (state_ == State::kOffsets) {
      if (entry().offsets.size() == 2)
        return problem("tensor '{}': \"data_offsets\" has more than two entries", name());
      entry().offsets.push_back(v);
      return true;
    }
    return unexpected("a number");
  }
  bool number_float(json::number_float_t, const std::string&) {
    return unexpected("a non-integer number");
  }
  bool string(std::string& s) {
    if (state_ == State::kMetaValue) {
      metadata.emplace(key_, std::move(s));
      state_ = State::kMeta;
      return true;
    }
    if (state_ == State::kEntryValue && field_ == Field::kDtype) {
      entry().dtype = parse_file_dtype(s);
      if (!entry().dtype)
        return problem(
            "tensor '{}' has dtype \"{}\", which seqgrad does not read (it reads F32, "
            "F64, I64 and BOOL)",
            name(), s);
      state_ = State::kEntry;
      return true;
    }
    return unexpected("a string");
  }
  bool binary(json::binary_t&) { return unexpected("binary data"); }

  bool start_object(std::size_t) {
    if (state_ == State::kStart) {
      state_ = State::kTop;
      return true;
    }
    if (state_ == State::kTopValue) {
      if (key_ == kMetadataKey) {
        state_ = State::kMeta;
      } else {
        entries.emplace_back();
        entries.back().name = key_;
        state_ = State::kEntry;
      }
      return true;
    }
    return unexpected("an object");
  }
  bool end_object() {
    if (state_ == State::kTop) {
      state_ = State::kDone;
      return true;
    }
    if (state_ == State::kMeta) {
      state_ = State::kTop;
      return true;
    }
    if (state_ == State::kEntry) {
      const HeaderEntry& e = entry();
      if (!e.dtype) return problem("tensor '{}' has no \"dtype\"", e.name);
      if (!e.has_shape) return problem("tensor '{}' has no \"shape\"", e.name);
      if (!e.has_offsets) return problem("tensor '{}' has no \"data_offsets\"", e.name);
      state_ = State::kTop;
      return true;
    }
    return unexpected("the end of an object");
  }
  bool key(std::string& k) {
    if (state_ == State::kTop) {
      // A JSON object may repeat a key; a header that does is ambiguous, so it is an error.
      if (!top_keys_.insert(k).second) return problem("the header names '{}' twice", k);
      key_ = std::move(k);
      state_ = State::kTopValue;
      return true;
    }
    if (state_ == State::kMeta) {
      if (metadata.count(k)) return problem("the metadata names '{}' twice", k);
      key_ = std::move(k);
      state_ = State::kMetaValue;
      return true;
    }
    if (state_ == State::kEntry) {
      HeaderEntry& e = entry();
      if (k == "dtype") {
        field_ = Field::kDtype;
      } else if (k == "shape") {
        field_ = Field::kShape;
      } else if (k == "data_offsets") {
        field_ = Field::kOffsets;
      } else {
        return problem("tensor '{}' has an unknown field \"{}\"", e.name, k);
      }
      const bool seen = field_ == Field::kDtype   ? e.dtype.has_value()
                        : field_ == Field::kShape ? e.has_shape
                                                  : e.has_offsets;
      if (seen) return problem("tensor '{}' has \"{}\" twice", e.name, k);
      state_ = State::kEntryValue;
      return true;
    }
    return unexpected("a key");
  }
  bool start_array(std::size_t) {
    if (state_ == State::kEntryValue && field_ == Field::kShape) {
      entry().has_shape = true;
      state_ = State::kShape;
      return true;
    }
    if (state_ == State::kEntryValue && field_ == Field::kOffsets) {
      entry().has_offsets = true;
      state_ = State::kOffsets;
      return true;
    }
    return unexpected("an array");
  }
  bool end_array() {
    if (state_ == State::kShape) {
      state_ = State::kEntry;
      return true;
    }
    if (state_ == State::kOffsets) {
      if (entry().offsets.size() != 2)
        return problem("tensor '{}': \"data_offsets\" has {} entries instead of two", name(),
                       entry().offsets.size());
      state_ = State::kEntry;
      return true;
    }
    return unexpected("the end of an array");
  }
  bool parse_error(std::size_t, const std::string&, const json::exception& ex) {
    // ex.what() is "[json.exception.parse_error.101] parse error at line 1, column 7: ...".
    std::string_view what = ex.what();
    if (const auto p = what.find("] "); p != std::string_view::npos) what.remove_prefix(p + 2);
    error = fmt::format("the header is not valid JSON ({})", what);
    return false;
  }

 private:
  enum class State {
    kStart,
    kTop,
    kTopValue,
    kMeta,
    kMetaValue,
    kEntry,
    kEntryValue,
    kShape,
    kOffsets,
    kDone
  };
  enum class Field { kDtype, kShape, kOffsets };

  HeaderEntry& entry() { return entries.back(); }
  const std::string& name() { return entries.back().name; }

  template <class... Args>
  bool problem(fmt::format_string<Args...> message, Args&&... args) {
    error = fmt::format(message, std::forward<Args>(args)...);
    return false;
  }

  // A token the header's grammar does not allow where it appeared: say what was expected there.
  bool unexpected(const char* got) {
    switch (state_) {
      case State::kStart:
        return problem("the header is not a JSON object (it starts with {})", got);
      case State::kTopValue:
        if (key_ == kMetadataKey) return problem("\"{}\" is {}, not an object", kMetadataKey, got);
        return problem("the entry for tensor '{}' is {}, not an object", key_, got);
      case State::kMetaValue:
        return problem("metadata value '{}' is {}, not a string", key_, got);
      case State::kEntryValue:
        if (field_ == Field::kDtype)
          return problem("tensor '{}': \"dtype\" is {}, not a string", name(), got);
        if (field_ == Field::kShape)
          return problem("tensor '{}': \"shape\" is {}, not an array of integers", name(), got);
        return problem("tensor '{}': \"data_offsets\" is {}, not an array of two integers", name(),
                       got);
      case State::kShape:
        return problem("tensor '{}': \"shape\" holds {}, not only integers", name(), got);
      case State::kOffsets:
        return problem("tensor '{}': \"data_offsets\" holds {}, not only integers", name(), got);
      default:
        return problem("the header has {} where it should not", got);
    }
  }

  State state_ = State::kStart;
  Field field_ = Field::kDtype;
  std::string key_;
  std::set<std::string> top_keys_;
};

[[noreturn]] void invalid(const std::string& path, const std::string& problem) {
  throw Error(fmt::format("load_safetensors: '{}': {}", path, problem));
}

// Checks one entry against the data section; returns the problem, or "" when it is good.
std::string check_entry(const HeaderEntry& e, std::uint64_t data_size) {
  const std::uint64_t begin = e.offsets[0], end = e.offsets[1];
  if (begin > end)
    return fmt::format("tensor '{}': data_offsets [{}, {}] end before they begin", e.name, begin,
                       end);
  // Overflow-checked: the product of the non-zero dimensions must fit in int64 (the shape type),
  // and with the item size must equal the bytes the offsets span.
  std::uint64_t numel = 1, nonzero = 1;
  bool overflow = false;
  for (std::uint64_t d : e.shape) {
    numel *= d;
    if (d != 0) overflow = overflow || __builtin_mul_overflow(nonzero, d, &nonzero);
  }
  const std::uint64_t item = itemsize(*e.dtype);
  constexpr auto kMaxInt64 = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  overflow = overflow || nonzero > kMaxInt64 || numel > kMaxInt64 / item;
  if (overflow)
    return fmt::format("tensor '{}': shape {} is impossibly large", e.name, shape_string(e.shape));
  if (numel * item != end - begin)
    return fmt::format("tensor '{}': data_offsets [{}, {}] span {} bytes, but {} {} needs {}",
                       e.name, begin, end, end - begin, file_dtype_name(*e.dtype),
                       shape_string(e.shape), numel * item);
  if (end > data_size)
    return fmt::format(
        "tensor '{}': data_offsets [{}, {}] run past the end of the data section "
        "({} bytes): the file is truncated or corrupt",
        e.name, begin, end, data_size);
  return {};
}

// The data section must be covered exactly once: no overlaps (two tensors sharing bytes), no gaps
// and nothing after the last tensor. The entries are checked in offset order, not name order,
// because other writers (cho.py, for one) lay tensors out in their own order.
std::string check_coverage(const std::vector<HeaderEntry>& entries, std::uint64_t data_size) {
  std::vector<const HeaderEntry*> order;
  for (const HeaderEntry& e : entries) order.push_back(&e);
  std::sort(order.begin(), order.end(),
            [](const HeaderEntry* a, const HeaderEntry* b) { return a->offsets < b->offsets; });
  std::uint64_t covered = 0;  // bytes [0, covered) belong to the tensors seen so far
  const HeaderEntry* prev = nullptr;
  for (const HeaderEntry* e : order) {
    if (e->offsets[0] < covered)
      return fmt::format("tensors '{}' [{}, {}] and '{}' [{}, {}] overlap", prev->name,
                         prev->offsets[0], prev->offsets[1], e->name, e->offsets[0], e->offsets[1]);
    if (e->offsets[0] > covered)
      return fmt::format("bytes [{}, {}) of the data section belong to no tensor", covered,
                         e->offsets[0]);
    covered = e->offsets[1];
    prev = e;
  }
  if (covered != data_size)
    return fmt::format(
        "{} trailing bytes after the last tensor (the tensors cover {} of the {} "
        "bytes of the data section)",
        data_size - covered, covered, data_size);
  return {};
}

}  // namespace

// ---- saving -----------------------------------------------------------------------------------

void save_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  // The header is built before any file is touched, so bad arguments never cost a checkpoint.
  json header = json::object();
  std::vector<Tensor> data;  // contiguous, in name order, which is also file order
  std::uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    check(!name.empty() && name != kMetadataKey,
          "save_safetensors: '{}': '{}' cannot be a tensor name", path, name);
    check(t.defined(), "save_safetensors: '{}': tensor '{}' is undefined", path, name);
    const Tensor c = t.contiguous();
    const std::uint64_t nbytes = static_cast<std::uint64_t>(c.numel()) * itemsize(c.dtype());
    json shape = json::array();
    for (std::int64_t d : c.shape()) shape.push_back(d);
    header[name] = json::object({{"dtype", file_dtype_name(c.dtype())},
                                 {"shape", std::move(shape)},
                                 {"data_offsets", json::array({offset, offset + nbytes})}});
    offset += nbytes;
    data.push_back(c);
  }
  header[kMetadataKey] = metadata;
  std::string text;
  try {
    text = header.dump();  // compact, as cho.py writes it: {"a":{"dtype":"F32",...}}
  } catch (const json::exception&) {
    fail("save_safetensors: '{}': a tensor name or metadata string is not valid UTF-8", path);
  }
  // Spaces up to a multiple of 8 put the data (and so every F64/I64 tensor) on an 8-byte
  // boundary when the file is memory-mapped; readers strip them as JSON whitespace.
  text.append((8 - text.size() % 8) % 8, ' ');
  const std::uint64_t header_len = text.size();

  const std::string tmp = path + ".tmp";
  FileDescriptor fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (fd.get() < 0) {
    const int err = errno;  // nothing was created, so there is nothing to remove
    fail("save_safetensors: cannot write '{}': cannot create '{}': {}", path, tmp, os_error(err));
  }
  // From here on, any failure removes the partial temp file; `path` has not been touched.
  auto give_up = [&](const char* step, int err) {
    if (fd.get() >= 0) fd.close();
    ::unlink(tmp.c_str());
    fail("save_safetensors: cannot write '{}': {} '{}' failed: {}", path, step, tmp, os_error(err));
  };
  int err = write_all(fd.get(), &header_len, sizeof header_len);
  if (!err) err = write_all(fd.get(), text.data(), text.size());
  for (std::size_t i = 0; i < data.size() && !err; ++i)
    err = write_all(fd.get(), data[i].raw_data(),
                    static_cast<std::size_t>(data[i].numel()) * itemsize(data[i].dtype()));
  if (err) give_up("writing", err);
  // Without fsync the rename can reach the disk before the data does, and a power cut would
  // leave an empty or partial file under the checkpoint's name.
  if (::fsync(fd.get()) != 0) give_up("flushing", errno);
  err = fd.close();
  if (err) give_up("closing", err);
  if (::rename(tmp.c_str(), path.c_str()) != 0) give_up("renaming", errno);
  // Make the rename itself durable. Best effort: the new file is complete either way, and some
  // file systems refuse fsync on a directory.
  const std::filesystem::path dir = std::filesystem::path(path).parent_path();
  FileDescriptor dir_fd(
      ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir_fd.get() >= 0) ::fsync(dir_fd.get());
}

void save(const Module& m, const std::string& path,
          const std::map<std::string, std::string>& metadata,
          const std::map<std::string, Tensor>& extra) {
  std::map<std::string, Tensor> tensors = m.state_dict();
  for (const auto& [name, t] : extra)
    check(tensors.emplace(name, t).second,
          "save: '{}': extra tensor '{}' has the name of a parameter of the {}", path, name,
          m.type_name());
  save_safetensors(path, tensors, metadata);
}

// ---- loading ----------------------------------------------------------------------------------

SafetensorsFile load_safetensors(const std::string& path) {
  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    const int err = errno;
    fail("load_safetensors: cannot open '{}': {}", path, os_error(err));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) invalid(path, fmt::format("cannot stat: {}", os_error(errno)));
  if (S_ISDIR(st.st_mode)) invalid(path, "it is a directory, not a checkpoint file");
  if (!S_ISREG(st.st_mode)) invalid(path, "it is not a regular file");
  const auto file_size = static_cast<std::uint64_t>(st.st_size);

  auto read_or_fail = [&](void* dst, std::uint64_t n, std::uint64_t at) {
    const int err = pread_all(fd.get(), dst, static_cast<std::size_t>(n), at);
    if (err == -1) invalid(path, "the file became shorter while it was being read");
    if (err) invalid(path, fmt::format("read failed: {}", os_error(err)));
  };

  if (file_size == 0) invalid(path, "the file is empty");
  if (file_size < 8)
    invalid(path, fmt::format("the file is only {} bytes long, too short for the 8-byte header "
                              "length",
                              file_size));
  std::uint64_t header_len = 0;
  read_or_fail(&header_len, sizeof header_len, 0);
  if (header_len > kMaxHeaderBytes)
    invalid(path, fmt::format("header length {} is over the {} byte limit: not a safetensors "
                              "file, or corrupt",
                              header_len, kMaxHeaderBytes));
  if (header_len > file_size - 8)
    invalid(path, fmt::format("header length {} runs past the end of the file ({} bytes): the "
                              "file is truncated or corrupt",
                              header_len, file_size));
  std::string text(static_cast<std::size_t>(header_len), '\0');
  read_or_fail(text.data(), header_len, 8);

  HeaderParser parser;
  json::sax_parse(text.begin(), text.end(), &parser);
  if (!parser.error.empty()) invalid(path, parser.error);
  text = {};  // the header can be large; the tensors are allocated next

  const std::uint64_t data_start = 8 + header_len, data_size = file_size - data_start;
  for (const HeaderEntry& e : parser.entries)
    if (std::string problem = check_entry(e, data_size); !problem.empty()) invalid(path, problem);
  if (std::string problem = check_coverage(parser.entries, data_size); !problem.empty())
    invalid(path, problem);

  // Everything is consistent with the file's size, so the tensors together need exactly
  // data_size bytes: no header can make this allocate more than the file holds.
  SafetensorsFile out;
  for (HeaderEntry& e : parser.entries) {
    Dims shape;
    for (std::uint64_t d : e.shape) shape.push_back(static_cast<std::int64_t>(d));
    Tensor t = Tensor::empty(shape, *e.dtype);
    const std::uint64_t nbytes = e.offsets[1] - e.offsets[0];
    if (nbytes > 0) read_or_fail(t.raw_data(), nbytes, data_start + e.offsets[0]);
    if (*e.dtype == kBool) {
      // Any byte other than 0 or 1 in a C++ bool is undefined behaviour: refuse it here.
      const auto* bytes = static_cast<const unsigned char*>(t.raw_data());
      for (std::uint64_t i = 0; i < nbytes; ++i)
        if (bytes[i] > 1)
          invalid(path, fmt::format("BOOL tensor '{}' holds the byte {} at element {} (only 0 "
                                    "and 1 are booleans)",
                                    e.name, static_cast<unsigned>(bytes[i]), i));
    }
    out.tensors.emplace(std::move(e.name), std::move(t));
  }
  out.metadata = std::move(parser.metadata);
  return out;
}

std::map<std::string, std::string> load(Module& m, const std::string& path,
                                        std::map<std::string, Tensor>* extra) {
  SafetensorsFile file = load_safetensors(path);
  std::set<std::string> names;
  for (const auto& [name, p] : m.named_parameters()) names.insert(name);
  // Without `extra`, names the module lacks stay in `state`, where load_state_dict reports them.
  std::map<std::string, Tensor> state, rest;
  for (auto& [name, t] : file.tensors)
    (names.count(name) || !extra ? state : rest).emplace(name, std::move(t));
  try {
    m.load_state_dict(state, /*strict=*/true);  // validates everything before copying anything
  } catch (const Error& e) {
    fail("load: '{}' does not fit the {}: {}", path, m.type_name(), e.what());
  }
  if (extra) *extra = std::move(rest);
  return std::move(file.metadata);
}

}  // namespace seqgrad::nn
