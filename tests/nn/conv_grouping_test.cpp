// Convolutions with short outputs run several samples per GEMM (nn/functional_conv.cpp,
// samples_per_gemm): the grouped path must give each sample what it gives alone, where a single
// sample takes the per-sample path, in value and in every gradient.
#include <vector>

#include "nn/nn_test_util.h"

using namespace seqgrad;
using namespace seqgrad::testing;
namespace F = seqgrad::nn::functional;

TEST_CASE("conv1d and conv2d: samples grouped into one GEMM give what each gives alone") {
  RestoreOneThread restore;
  Generator gen(66);
  for (const int threads : {1, 2}) {
    set_num_threads(threads);
    for (const bool two_d : {false, true}) {
      CAPTURE(threads);
      CAPTURE(two_d);
      const std::int64_t N = 7;  // groups of unequal sizes
      const Tensor x =
          two_d ? randn({N, 3, 4, 5}, kFloat32, &gen) : randn({N, 6, 9}, kFloat32, &gen);
      const Tensor w =
          two_d ? randn({4, 3, 3, 3}, kFloat32, &gen) : randn({8, 6, 3}, kFloat32, &gen);
      const Tensor b = randn({w.size(0)}, kFloat32, &gen);
      const auto conv = [&](const std::vector<Variable>& v) {
        if (two_d) return F::conv2d(v[0], v[1], v[2], {.pad_h = 1, .pad_w = 1});
        return F::conv1d(v[0], v[1], v[2], 1, 1);
      };
      const Tensor weights =
          randn(conv({Variable(x), Variable(w), Variable(b)}).shape(), kFloat32, &gen);
      const auto batched = output_and_grads({x, w, b}, weights, conv);
      Tensor gw = zeros(w.shape()), gb = zeros(b.shape());
      for (std::int64_t n = 0; n < N; ++n) {
        CAPTURE(n);
        const auto alone = output_and_grads({x.narrow(0, n, 1).contiguous(), w, b},
                                            weights.narrow(0, n, 1).contiguous(), conv);
        expect_close(alone[0], batched[0].narrow(0, n, 1), 1e-5, 1e-5);
        expect_close(alone[1], batched[1].narrow(0, n, 1), 1e-5, 1e-5);
        gw.add_(alone[2]);
        gb.add_(alone[3]);
      }
      expect_close(gw, batched[2], 1e-4, 1e-4);
      expect_close(gb, batched[3], 1e-4, 1e-4);
    }
  }
}
