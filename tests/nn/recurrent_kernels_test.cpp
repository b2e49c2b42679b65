// gradcheck (float64) of the fused sequence kernels of nn/functional.h: rnn_sequence (tanh and
// relu), lstm_sequence, gru_sequence (reset after and before), forward and reverse, with equal and
// with variable lengths, and with a per-sequence recurrent bias (Cho's decoder uses one).
#include <algorithm>
#include <functional>
#include <vector>

#include "nn/nn_test_util.h"
#include "nn/recurrence.h"
#include "tensor/packed_gemm.h"

using namespace seqgrad;
using namespace seqgrad::testing;
namespace F = seqgrad::nn::functional;

using Vars = std::vector<Variable>;

namespace {
constexpr std::int64_t T = 4, B = 3, H = 2;
const std::vector<std::int64_t> kRagged = {4, 1, 3};  // shorter sequences, unsorted

// A kernel's outputs as one tensor [T + parts, B, H]: the outputs, then each final state part.
// Checking gradients through it checks them through every output of the node.
Variable stacked(const F::SequenceResult& r) {
  std::vector<Variable> parts{r.output};
  for (const Variable& s : r.state) parts.push_back(s.unsqueeze(0));
  return cat(parts, 0);
}
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
              return stacked(F::rnn_sequence(v[0], v[1], v[2], v[3], lengths, reverse, act));
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
            return stacked(F::lstm_sequence(v[0], v[1], v[2], v[3], v[4], lengths, reverse));
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
                return stacked(F::gru_sequence(v[0], v[1], v[2], v[3], lengths, reverse, reset));
              },
              {normal64({T, B, 3 * H}, gen), normal64({B, H}, gen), normal64({3 * H, H}, gen),
               per_row_bias ? normal64({B, 3 * H}, gen) : normal64({3 * H}, gen)});
        }
}

// In float32 the per-step products run on the packed kernel (tensor/packed_gemm.h) with the
// weight packed once per pass, and the gate rows on the vectorised float build of the path
// (nn/gate_rows.h: AVX-512 where the machine has it); H = 37 spans full and partial 16-column
// panels, and full 16-lane vectors and a tail in every gate loop (H, 2H, 3H, 4H values). Float64
// runs OpenBLAS and the C library's exp and tanh, so agreement checks the fast paths, forward and
// backward, against an independent one.
TEST_CASE("recurrent kernels: float32 (packed products, vector gate rows) agrees with float64") {
  constexpr std::int64_t T2 = 5, B2 = 7, H2 = 37;
  const std::vector<std::int64_t> ragged = {5, 2, 4, 1, 5, 3, 2};
  Generator gen(77);
  auto check_op = [&](const std::vector<Tensor>& in64, const Dims& out_shape,
                      const std::function<Variable(const Vars&)>& op) {
    std::vector<Tensor> in32;
    for (const Tensor& t : in64) in32.push_back(t.to(kFloat32));
    const Tensor weights = randn(out_shape, kFloat64, &gen);
    const auto r64 = output_and_grads(in64, weights, op);
    const auto r32 = output_and_grads(in32, weights.to(kFloat32), op);
    for (std::size_t i = 0; i < r64.size(); ++i) {
      CAPTURE(i);
      // float32 rounding and vecmath's tanh/sigmoid, through 5 steps of backward: errors up to
      // ~1e-4 (the same with OpenBLAS); a wrong packed index would be off by O(1).
      expect_close(r32[i], r64[i], 1e-3, 3e-4);
    }
  };
  for (const bool reverse : {false, true}) {
    CAPTURE(reverse);
    for (const auto act : {F::RnnActivation::Tanh, F::RnnActivation::Relu})
      check_op({normal64({T2, B2, H2}, gen), normal64({B2, H2}, gen), normal64({H2, H2}, gen),
                normal64({H2}, gen)},
               {T2 + 1, B2, H2}, [&](const Vars& v) {
                 return stacked(F::rnn_sequence(v[0], v[1], v[2], v[3], ragged, reverse, act));
               });
    check_op({normal64({T2, B2, 4 * H2}, gen), normal64({B2, H2}, gen), normal64({B2, H2}, gen),
              normal64({4 * H2, H2}, gen), normal64({4 * H2}, gen)},
             {T2 + 2, B2, H2}, [&](const Vars& v) {
               return stacked(F::lstm_sequence(v[0], v[1], v[2], v[3], v[4], ragged, reverse));
             });
    for (const auto reset : {F::GruReset::After, F::GruReset::Before})
      check_op({normal64({T2, B2, 3 * H2}, gen), normal64({B2, H2}, gen),
                normal64({3 * H2, H2}, gen), normal64({3 * H2}, gen)},
               {T2 + 1, B2, H2}, [&](const Vars& v) {
                 return stacked(F::gru_sequence(v[0], v[1], v[2], v[3], ragged, reverse, reset));
               });
  }
}

// With two threads each step's gate loop is split over the batch rows (recurrence.h's for_rows,
// from 32K values a step); rows are independent, so the output and the gradients of the input
// and initial states must equal the one-thread run bit for bit. (The weight and bias gradients
// are sums over all rows, whose order OpenBLAS and the reductions choose per thread count: those
// only agree to rounding.) B * H is above the threshold for each cell.
TEST_CASE("recurrent kernels: 1 and 2 threads give the same bits (gate loops split by rows)") {
  // On SEQGRAD_CPU=generic OpenBLAS computes the products, split between threads into slabs whose
  // rounding depends on the split: only the packed kernels give the same bits at any thread count.
  if (!packed_gemm_available()) return;
  RestoreOneThread restore;
  constexpr std::int64_t T2 = 3, B2 = 67, H2 = 512;
  // Every cell's first step is split: the RNN's 67 * 512 values are the fewest.
  static_assert(B2 * H2 >= nn::detail::kRowsSplitValues);
  std::vector<std::int64_t> ragged(B2);
  for (std::int64_t b = 0; b < B2; ++b) ragged[static_cast<std::size_t>(b)] = 1 + b % T2;
  Generator gen(78);
  // `exact`: how many of [output, input grads...] come from the split loops alone.
  auto check_op = [&](const char* name, std::size_t exact, const std::vector<Tensor>& in,
                      const Dims& out_shape, const std::function<Variable(const Vars&)>& op) {
    const Tensor weights = randn(out_shape, kFloat32, &gen);
    set_num_threads(1);
    const auto one = output_and_grads(in, weights, op);
    set_num_threads(2);
    const auto two = output_and_grads(in, weights, op);
    set_num_threads(1);
    for (std::size_t i = 0; i < one.size(); ++i) {
      CAPTURE(name);
      CAPTURE(i);
      const Tensor a = one[i].contiguous(), b = two[i].contiguous();
      REQUIRE(a.shape() == b.shape());
      if (i < exact)
        CHECK(std::equal(a.data<float>(), a.data<float>() + a.numel(), b.data<float>()));
      else
        expect_close(b.to(kFloat64), a.to(kFloat64), 1e-4, 1e-4);
    }
  };
  auto normal = [&](const Dims& shape) { return randn(shape, kFloat32, &gen); };
  check_op("rnn", 3, {normal({T2, B2, H2}), normal({B2, H2}), normal({H2, H2}), normal({H2})},
           {T2 + 1, B2, H2}, [&](const Vars& v) {
             return stacked(
                 F::rnn_sequence(v[0], v[1], v[2], v[3], ragged, false, F::RnnActivation::Tanh));
           });
  check_op("lstm", 4,
           {normal({T2, B2, 4 * H2}), normal({B2, H2}), normal({B2, H2}), normal({4 * H2, H2}),
            normal({4 * H2})},
           {T2 + 2, B2, H2}, [&](const Vars& v) {
             return stacked(F::lstm_sequence(v[0], v[1], v[2], v[3], v[4], ragged));
           });
  for (const auto reset : {F::GruReset::After, F::GruReset::Before})
    check_op(reset == F::GruReset::After ? "gru after" : "gru before", 3,
             {normal({T2, B2, 3 * H2}), normal({B2, H2}), normal({3 * H2, H2}), normal({3 * H2})},
             {T2 + 1, B2, H2}, [&](const Vars& v) {
               return stacked(F::gru_sequence(v[0], v[1], v[2], v[3], ragged, true, reset));
             });
}

// The node's outputs are separate: a loss on the final state alone (the output unused, whose
// gradient then arrives as zeros) or on the output alone gets the gradients of each path.
TEST_CASE("gradcheck: recurrent kernels through one of their outputs") {
  Generator gen(79);
  for (const int which : {0, 1, 2}) {  // the output, h_n, c_n (the LSTM's)
    CAPTURE(which);
    const auto pick = [which](const F::SequenceResult& r) {
      return which == 0 ? r.output : r.state[static_cast<std::size_t>(which - 1)];
    };
    CHECK_GRADCHECK(
        [&](const Vars& v) {
          return pick(F::lstm_sequence(v[0], v[1], v[2], v[3], v[4], kRagged));
        },
        {normal64({T, B, 4 * H}, gen), normal64({B, H}, gen), normal64({B, H}, gen),
         normal64({4 * H, H}, gen), normal64({4 * H}, gen)});
    if (which == 2) continue;
    CHECK_GRADCHECK(
        [&](const Vars& v) {
          return pick(F::gru_sequence(v[0], v[1], v[2], v[3], kRagged, true, F::GruReset::Before));
        },
        {normal64({T, B, 3 * H}, gen), normal64({B, H}, gen), normal64({3 * H, H}, gen),
         normal64({3 * H}, gen)});
    CHECK_GRADCHECK(
        [&](const Vars& v) { return pick(F::rnn_sequence(v[0], v[1], v[2], v[3], kRagged)); },
        {normal64({T, B, H}, gen), normal64({B, H}, gen), normal64({H, H}, gen),
         normal64({H}, gen)});
  }
}
