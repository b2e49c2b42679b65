// gradcheck (float64) of the fused sequence kernels of nn/functional.h: rnn_sequence (tanh and
// relu), lstm_sequence, gru_sequence (reset after and before), forward and reverse, with equal and
// with variable lengths, and with a per-sequence recurrent bias (Cho's decoder uses one).
#include <vector>

#include "nn/nn_test_util.h"

using namespace seqgrad;
using namespace seqgrad::testing;
namespace F = seqgrad::nn::functional;

using Vars = std::vector<Variable>;

namespace {
constexpr std::int64_t T = 4, B = 3, H = 2;
const std::vector<std::int64_t> kRagged = {4, 1, 3};  // shorter sequences, unsorted
}  // namespace

TEST_CASE("gradcheck: rnn_sequence") {
  Generator gen(71);
  for (const auto act : {F::RnnActivation::Tanh, F::RnnActivation::Relu})
    for (const bool reverse : {false, true})
      for (const auto& lengths : {std::vector<std::int64_t>{}, kRagged}) {
        CAPTURE(reverse);
        CAPTURE(lengths.size());
        CHECK_GRADCHECK(
            [&](const Vars& v) {
              return F::rnn_sequence(v[0], v[1], v[2], v[3], lengths, reverse, act);
            },
            {normal64({T, B, H}, gen), normal64({B, H}, gen), normal64({H, H}, gen),
             normal64({H}, gen)});
      }
}

TEST_CASE("gradcheck: lstm_sequence") {
  Generator gen(72);
  for (const bool reverse : {false, true})
    for (const auto& lengths : {std::vector<std::int64_t>{}, kRagged}) {
      CAPTURE(reverse);
      CAPTURE(lengths.size());
      CHECK_GRADCHECK(
          [&](const Vars& v) {
            return F::lstm_sequence(v[0], v[1], v[2], v[3], v[4], lengths, reverse);
          },
          {normal64({T, B, 4 * H}, gen), normal64({B, H}, gen), normal64({B, H}, gen),
           normal64({4 * H, H}, gen), normal64({4 * H}, gen)});
    }
}

TEST_CASE("gradcheck: gru_sequence") {
  Generator gen(73);
  for (const auto reset : {F::GruReset::After, F::GruReset::Before})
    for (const bool reverse : {false, true})
      for (const auto& lengths : {std::vector<std::int64_t>{}, kRagged})
        for (const bool per_row_bias : {false, true}) {
          CAPTURE(reverse);
          CAPTURE(lengths.size());
          CAPTURE(per_row_bias);
          CHECK_GRADCHECK(
              [&](const Vars& v) {
                return F::gru_sequence(v[0], v[1], v[2], v[3], lengths, reverse, reset);
              },
              {normal64({T, B, 3 * H}, gen), normal64({B, H}, gen), normal64({3 * H, H}, gen),
               per_row_bias ? normal64({B, 3 * H}, gen) : normal64({3 * H}, gen)});
        }
}
