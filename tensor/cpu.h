// Which instruction set the hot kernels run on, chosen at run time.
//
// The library is compiled for a baseline (x86-64-v3: AVX2 + FMA, CMakeLists.txt), so one binary
// runs on any x86-64 CPU of the last decade. Kernels that gain from wider vectors (the packed GEMM,
// tensor/packed_gemm.cpp) are compiled a second time for AVX-512 and picked here, once, from what
// the CPU reports (cpuid), as PyTorch's ATEN_CPU_CAPABILITY and OpenBLAS's DYNAMIC_ARCH do.
//
// SEQGRAD_CPU=avx2 (or avx512, generic) forces a path: the tests run every path the machine has
// against the others, and an AVX-512 machine can show what an AVX2-only one would do. Forcing a
// path the CPU lacks is an error, not a crash.
#pragma once

#include <string>
#include <vector>

namespace seqgrad {

// kGeneric: no AVX2 + FMA (the own kernels are off, OpenBLAS does every product).
enum class CpuPath { kGeneric, kAvx2, kAvx512 };

// The path the kernels take: SEQGRAD_CPU if set, else the widest the CPU supports. Throws (naming
// the variable and the CPU) if SEQGRAD_CPU names an unknown path or one the CPU lacks.
CpuPath cpu_path();
const char* cpu_path_name(CpuPath path);  // "generic", "avx2", "avx512"
bool cpu_supports(CpuPath path);
std::vector<CpuPath> supported_cpu_paths();  // in increasing width
// The CPU's model name (/proc/cpuinfo) and its vector features, for benchmark records.
std::string cpu_model_name();
std::string cpu_vector_features();  // e.g. "avx2 fma avx512f avx512bw avx512dq avx512vl"

namespace detail {
// The path SEQGRAD_CPU's value `forced` (null or empty: not set) selects on this CPU; what
// cpu_path() decides on first use.
CpuPath choose_cpu_path(const char* forced);
}  // namespace detail

// Runs the kernels on `path` while alive (tests: every path against the others). Not thread-safe:
// create it before any parallel work. Throws if the CPU lacks the path.
class ScopedCpuPath {
 public:
  explicit ScopedCpuPath(CpuPath path);
  ~ScopedCpuPath();
  ScopedCpuPath(const ScopedCpuPath&) = delete;
  ScopedCpuPath& operator=(const ScopedCpuPath&) = delete;

 private:
  CpuPath previous_;
};

}  // namespace seqgrad
