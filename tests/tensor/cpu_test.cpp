// The run-time choice of kernel path (tensor/cpu.h) and the portable baseline build.
#include <doctest/doctest.h>

#include <string>

#include "tensor/cpu.h"
#include "tensor/error.h"

using namespace seqgrad;

TEST_CASE("cpu: the default path is the widest the CPU has, and SEQGRAD_CPU forces one") {
  const std::vector<CpuPath> paths = supported_cpu_paths();
  REQUIRE(!paths.empty());
  CHECK(paths.front() == CpuPath::kGeneric);  // every CPU can run without the own kernels
  CHECK(detail::choose_cpu_path(nullptr) == paths.back());
  CHECK(detail::choose_cpu_path("") == paths.back());
  for (CpuPath p : paths) CHECK(detail::choose_cpu_path(cpu_path_name(p)) == p);
  CHECK_THROWS_WITH_AS(detail::choose_cpu_path("sse9"),
                       "SEQGRAD_CPU=sse9: unknown path (expected generic, avx2 or avx512)", Error);
  for (CpuPath p : {CpuPath::kAvx2, CpuPath::kAvx512})
    if (!cpu_supports(p)) {
      const std::string name = cpu_path_name(p);
      CHECK_THROWS_AS(detail::choose_cpu_path(name.c_str()), Error);
      CHECK_THROWS_AS(ScopedCpuPath{p}, Error);
    }
}

TEST_CASE("cpu: ScopedCpuPath sets the path and restores it") {
  const CpuPath before = cpu_path();
  for (CpuPath p : supported_cpu_paths()) {
    const ScopedCpuPath on(p);
    CHECK(cpu_path() == p);
  }
  CHECK(cpu_path() == before);
  CHECK(!cpu_model_name().empty());
  CHECK(!cpu_vector_features().empty());
}

TEST_CASE("cpu: the default build's baseline has no AVX-512 (only the dispatched kernels do)") {
#if defined(SEQGRAD_NATIVE_BUILD)
  MESSAGE("a -march=native build (SEQGRAD_NATIVE=ON): its baseline is this machine's");
#else
  // Compiled with the library's flags: an AVX-512 baseline would run AVX-512 instructions in every
  // function, and the binary would die with an illegal instruction on an AVX2-only CPU.
#if defined(__AVX512F__)
  FAIL("the baseline -march enables AVX-512 (__AVX512F__ is defined)");
#endif
#if defined(__x86_64__)
#if !defined(__AVX2__) || !defined(__FMA__)
  MESSAGE("the baseline has no AVX2 + FMA: the packed kernels are still chosen at run time");
#endif
#endif
#endif
}
