// The one exception type of seqgrad. Every misuse (bad shape, dtype, dim, index, file) throws it
// with a message that names the operation and the offending values.
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <utility>

namespace seqgrad {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

template <class... Args>
[[noreturn]] void fail(fmt::format_string<Args...> message, Args&&... args) {
  throw Error(fmt::format(message, std::forward<Args>(args)...));
}

// check(ok, "op: message {}", value): the message is only formatted when ok is false.
template <class... Args>
inline void check(bool ok, fmt::format_string<Args...> message, Args&&... args) {
  if (!ok) [[unlikely]]
    fail(message, std::forward<Args>(args)...);
}

}  // namespace seqgrad
