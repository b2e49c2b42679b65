// Seeded random numbers. A Generator is a small value (xoshiro256**, 32 bytes of state) that can be
// copied, saved in a checkpoint and restored, so a run is reproducible from its seed.
#pragma once

#include <array>
#include <cstdint>

namespace seqgrad {

class Generator {
 public:
  explicit Generator(std::uint64_t seed = 0) { manual_seed(seed); }
  void manual_seed(std::uint64_t seed);

  std::uint64_t next_u64();
  double uniform();  // [0, 1) with 53 random bits
  // Standard normal (Box-Muller). The second value of each pair is dropped rather than kept for
  // the next call: a kept spare is state that state() cannot return, so restoring a checkpoint
  // taken after an odd number of draws would not reproduce the stream.
  double normal();
  // Uniform integer in [0, n) without modulo bias.
  std::uint64_t below(std::uint64_t n);

  std::array<std::uint64_t, 4> state() const { return s_; }
  void set_state(const std::array<std::uint64_t, 4>& s) { s_ = s; }

 private:
  std::array<std::uint64_t, 4> s_{};
};

// The generator used when none is passed (per thread, seeded with 0 until manual_seed).
Generator& default_generator();
void manual_seed(std::uint64_t seed);

}  // namespace seqgrad
