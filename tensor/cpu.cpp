#include "tensor/cpu.h"

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <string_view>

#include "tensor/error.h"

namespace seqgrad {
namespace {

bool has_avx2() {
#if defined(__x86_64__) || defined(__i386__)
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return false;
#endif
}

// The subset the AVX-512 kernels are compiled for (x86-64-v4's: F, BW, DQ, VL).
bool has_avx512() {
#if defined(__x86_64__) || defined(__i386__)
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") && has_avx2();
#else
  return false;
#endif
}

}  // namespace

CpuPath detail::choose_cpu_path(const char* forced) {
  if (forced && *forced) {
    const std::string_view name(forced);
    std::optional<CpuPath> path;
    if (name == "generic") path = CpuPath::kGeneric;
    if (name == "avx2") path = CpuPath::kAvx2;
    if (name == "avx512") path = CpuPath::kAvx512;
    check(path.has_value(), "SEQGRAD_CPU={}: unknown path (expected generic, avx2 or avx512)",
          name);
    check(cpu_supports(*path), "SEQGRAD_CPU={}: this CPU ({}) does not have it (it has: {})", name,
          cpu_model_name(), cpu_vector_features());
    return *path;
  }
  return has_avx512() ? CpuPath::kAvx512 : has_avx2() ? CpuPath::kAvx2 : CpuPath::kGeneric;
}

namespace {

// Decided on first use (not at static initialisation, so that an error is an exception a caller
// can catch); -1 until then. Atomic: the first gemm calls may come from several threads at once
// (they all decide the same).
std::atomic<int> current_path{-1};

}  // namespace

CpuPath cpu_path() {
  const int path = current_path.load(std::memory_order_relaxed);
  if (path >= 0) return static_cast<CpuPath>(path);
  const CpuPath chosen = detail::choose_cpu_path(std::getenv("SEQGRAD_CPU"));
  current_path.store(static_cast<int>(chosen), std::memory_order_relaxed);
  return chosen;
}

const char* cpu_path_name(CpuPath path) {
  switch (path) {
    case CpuPath::kGeneric:
      return "generic";
    case CpuPath::kAvx2:
      return "avx2";
    case CpuPath::kAvx512:
      return "avx512";
  }
  return "?";
}

bool cpu_supports(CpuPath path) {
  return path == CpuPath::kAvx512 ? has_avx512() : path == CpuPath::kAvx2 ? has_avx2() : true;
}

std::vector<CpuPath> supported_cpu_paths() {
  std::vector<CpuPath> paths;
  for (CpuPath p : {CpuPath::kGeneric, CpuPath::kAvx2, CpuPath::kAvx512})
    if (cpu_supports(p)) paths.push_back(p);
  return paths;
}

std::string cpu_model_name() {
  static const std::string name = [] {  // read once: /proc/cpuinfo is slow to generate
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line))
      if (line.rfind("model name", 0) == 0) {
        const auto colon = line.find(':');
        if (colon != std::string::npos) return line.substr(line.find_first_not_of(' ', colon + 1));
      }
    return std::string("unknown CPU");
  }();
  return name;
}

std::string cpu_vector_features() {
  std::string out;
#if defined(__x86_64__) || defined(__i386__)
  const auto add = [&](bool has, const char* name) {
    if (!has) return;
    if (!out.empty()) out += ' ';
    out += name;
  };
  add(__builtin_cpu_supports("avx2"), "avx2");
  add(__builtin_cpu_supports("fma"), "fma");
  add(__builtin_cpu_supports("avx512f"), "avx512f");
  add(__builtin_cpu_supports("avx512bw"), "avx512bw");
  add(__builtin_cpu_supports("avx512dq"), "avx512dq");
  add(__builtin_cpu_supports("avx512vl"), "avx512vl");
#endif
  return out.empty() ? "none" : out;
}

ScopedCpuPath::ScopedCpuPath(CpuPath path) : previous_(cpu_path()) {
  check(cpu_supports(path), "ScopedCpuPath: this CPU ({}) has no {} (it has: {})", cpu_model_name(),
        cpu_path_name(path), cpu_vector_features());
  current_path.store(static_cast<int>(path), std::memory_order_relaxed);
}

ScopedCpuPath::~ScopedCpuPath() {
  current_path.store(static_cast<int>(previous_), std::memory_order_relaxed);
}

}  // namespace seqgrad
