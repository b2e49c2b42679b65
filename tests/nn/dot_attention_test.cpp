// The fused scaled dot-product attention (nn::functional::scaled_dot_product_attention):
// gradcheck in float64 under every mask, agreement with the same equations composed from generic,
// separately tested ops (reshape, transpose, matmul, softmax with a -1e9 mask), padding keys that
// change nothing, dropout, float32 against float64, thread counts, and its errors.
#include <cmath>
#include <vector>

#include "nn/nn_test_util.h"
#include "tensor/parallel.h"

using namespace seqgrad;
using namespace seqgrad::testing;
namespace F = seqgrad::nn::functional;

using Vars = std::vector<Variable>;

// Named, not anonymous: the unity build puts several test files in one translation unit.
namespace sdpa {

constexpr std::int64_t B = 3, Tq = 4, Tk = 5, H = 2, dk = 3, dv = 2;

std::vector<F::AttentionMask> masks() {
  return {{}, {{2, 5, 1}, false}, {{}, true}, {{3, 5, 1}, true}};
}

// softmax(q_bh k_bh^T / sqrt(dk) + mask) v_bh with the heads split by reshape and transpose.
Variable composed(const Vars& x, std::int64_t heads, const F::AttentionMask& mask) {
  const std::int64_t b = x[0].size(0), tq = x[0].size(1), tk = x[1].size(1);
  const std::int64_t d = x[0].size(2) / heads, e = x[2].size(2) / heads;
  auto split = [&](const Variable& t, std::int64_t width) {  // [B, T, H*w] -> [B, H, T, w]
    return t.reshape({b, t.size(1), heads, width}).transpose(1, 2);
  };
  std::vector<double> bias(static_cast<std::size_t>(b * tq * tk), 0.0);
  for (std::int64_t r = 0; r < b; ++r)
    for (std::int64_t i = 0; i < tq; ++i)
      for (std::int64_t j = 0; j < tk; ++j) {
        const bool padding =
            !mask.key_lengths.empty() && j >= mask.key_lengths[static_cast<std::size_t>(r)];
        if (padding || (mask.causal && j > i))
          bias[static_cast<std::size_t>((r * tq + i) * tk + j)] = -1e9;
      }
  const Variable scores =
      matmul(split(x[0], d), split(x[1], d).transpose(2, 3)) * (1.0 / std::sqrt(double(d))) +
      Variable(from_vector(bias, {b, 1, tq, tk}).to(x[0].dtype()));
  const Variable out = matmul(softmax(scores, 3), split(x[2], e));  // [B, H, Tq, e]
  return out.transpose(1, 2).reshape({b, tq, heads * e});
}

std::vector<Tensor> inputs(DType dtype, Generator& gen) {
  return {randn({B, Tq, H * dk}, dtype, &gen), randn({B, Tk, H * dk}, dtype, &gen),
          randn({B, Tk, H * dv}, dtype, &gen)};
}

}  // namespace sdpa

TEST_CASE("gradcheck: scaled_dot_product_attention under every mask") {
  Generator gen(91);
  for (const auto& mask : sdpa::masks()) {
    CAPTURE(mask.key_lengths.size());
    CAPTURE(mask.causal);
    CHECK_GRADCHECK(
        [&](const Vars& v) {
          return F::scaled_dot_product_attention(v[0], v[1], v[2], sdpa::H, mask);
        },
        sdpa::inputs(kFloat64, gen));
  }
}

TEST_CASE("gradcheck: scaled_dot_product_attention with dropout (one fixed mask)") {
  Generator gen(92);
  const F::AttentionMask mask{{3, 5, 2}, true};
  CHECK_GRADCHECK(
      [&](const Vars& v) {
        Generator drop(7);  // the same keep mask at every evaluation
        return F::scaled_dot_product_attention(v[0], v[1], v[2], sdpa::H, mask, 0.3, true, &drop);
      },
      sdpa::inputs(kFloat64, gen));
}

TEST_CASE("scaled_dot_product_attention: output and gradients equal the composed equations") {
  Generator gen(93);
  const std::vector<Tensor> in = sdpa::inputs(kFloat64, gen);
  const Tensor weights = randn({sdpa::B, sdpa::Tq, sdpa::H * sdpa::dv}, kFloat64, &gen);
  for (const auto& mask : sdpa::masks()) {
    CAPTURE(mask.key_lengths.size());
    CAPTURE(mask.causal);
    const auto fused = output_and_grads(in, weights, [&](const Vars& v) {
      return F::scaled_dot_product_attention(v[0], v[1], v[2], sdpa::H, mask);
    });
    const auto reference = output_and_grads(
        in, weights, [&](const Vars& v) { return sdpa::composed(v, sdpa::H, mask); });
    for (std::size_t i = 0; i < fused.size(); ++i) {
      CAPTURE(i);
      expect_close(fused[i], reference[i], 1e-10, 1e-12);
    }
  }
}

TEST_CASE("scaled_dot_product_attention: one head, and the weights it reads") {
  // One query, two keys, dk = 1: scores q k_j / 1 = {2, 0}, softmax {e^2, 1} / (e^2 + 1).
  const Tensor q = from_vector(std::vector<double>{1.0}, {1, 1, 1});
  const Tensor k = from_vector(std::vector<double>{2.0, 0.0}, {1, 2, 1});
  const Tensor v = from_vector(std::vector<double>{10.0, -4.0}, {1, 2, 1});
  const double p0 = std::exp(2.0) / (std::exp(2.0) + 1.0);
  const Variable out = F::scaled_dot_product_attention(Variable(q), Variable(k), Variable(v), 1);
  CHECK(out.value().item() == doctest::Approx(p0 * 10.0 - (1 - p0) * 4.0).epsilon(1e-14));
  const Tensor w = F::attention_weights(q, k, 1);
  CHECK(w.shape() == Dims{1, 1, 1, 2});
  CHECK(w.contiguous().to_vector<double>()[0] == doctest::Approx(p0).epsilon(1e-14));
  // Masked to the first key only: it reads v_0 whole.
  const Variable first =
      F::scaled_dot_product_attention(Variable(q), Variable(k), Variable(v), 1, {{1}, false});
  CHECK(first.value().item() == 10.0);
}

TEST_CASE("scaled_dot_product_attention: padding keys change nothing and get no gradient") {
  Generator gen(94);
  std::vector<Tensor> in = sdpa::inputs(kFloat64, gen);
  const Tensor weights = randn({sdpa::B, sdpa::Tq, sdpa::H * sdpa::dv}, kFloat64, &gen);
  const F::AttentionMask mask{{2, 5, 1}, true};
  auto op = [&](const Vars& v) {
    return F::scaled_dot_product_attention(v[0], v[1], v[2], sdpa::H, mask);
  };
  const auto before = output_and_grads(in, weights, op);
  for (std::int64_t b = 0; b < sdpa::B; ++b)
    for (std::int64_t j = mask.key_lengths[static_cast<std::size_t>(b)]; j < sdpa::Tk; ++j) {
      in[1].select(0, b).select(0, j).fill_(1e6);
      in[2].select(0, b).select(0, j).fill_(-1e6);
    }
  const auto after = output_and_grads(in, weights, op);
  for (std::size_t i = 0; i < before.size(); ++i) {
    CAPTURE(i);
    expect_close(after[i], before[i], 0.0, 0.0);
  }
  for (std::int64_t b = 0; b < sdpa::B; ++b)
    for (std::int64_t j = mask.key_lengths[static_cast<std::size_t>(b)]; j < sdpa::Tk; ++j) {
      CHECK(amax(abs(after[2].select(0, b).select(0, j))).item() == 0.0);  // dk
      CHECK(amax(abs(after[3].select(0, b).select(0, j))).item() == 0.0);  // dv
    }
}

TEST_CASE("scaled_dot_product_attention: dropout keeps each weight with probability 1 - p") {
  Generator gen(95);
  // Uniform attention over 1000 keys whose values are all 1: without dropout each output is 1;
  // with dropout it is (kept weights) / (1 - p) / 1000, whose mean over many queries is 1.
  constexpr std::int64_t keys = 1000, queries = 64;
  const Variable q(zeros({1, queries, 1}, kFloat64)), k(zeros({1, keys, 1}, kFloat64));
  const Variable v(ones({1, keys, 1}, kFloat64));
  const Tensor plain = F::scaled_dot_product_attention(q, k, v, 1, {}, 0.5, false).value();
  CHECK(amax(abs(plain - 1.0)).item() < 1e-12);  // eval: no dropout
  const Tensor dropped = F::scaled_dot_product_attention(q, k, v, 1, {}, 0.5, true, &gen).value();
  const double m = mean(dropped).item();
  CHECK(m == doctest::Approx(1.0).epsilon(0.02));  // 64000 draws: sd of the mean ~0.004
  CHECK(amax(abs(dropped - 1.0)).item() > 0.01);   // and it did drop
}

TEST_CASE("scaled_dot_product_attention: float32 agrees with float64") {
  Generator gen(96);
  const std::vector<Tensor> in64 = sdpa::inputs(kFloat64, gen);
  std::vector<Tensor> in32;
  for (const Tensor& t : in64) in32.push_back(t.to(kFloat32));
  const Tensor weights = randn({sdpa::B, sdpa::Tq, sdpa::H * sdpa::dv}, kFloat64, &gen);
  const F::AttentionMask mask{{3, 5, 2}, true};
  auto op = [&](const Vars& v) {
    return F::scaled_dot_product_attention(v[0], v[1], v[2], sdpa::H, mask);
  };
  const auto r64 = output_and_grads(in64, weights, op);
  const auto r32 = output_and_grads(in32, weights.to(kFloat32), op);
  for (std::size_t i = 0; i < r64.size(); ++i) {
    CAPTURE(i);
    expect_close(r32[i], r64[i], 1e-4, 1e-5);
  }
}

TEST_CASE("scaled_dot_product_attention: 1, 2 and 3 threads give the same output and gradients") {
  RestoreOneThread restore;
  Generator gen(97);
  constexpr std::int64_t batch = 5, tq = 12, tk = 17, heads = 3, d = 16;  // 15 blocks, uneven
  const std::vector<Tensor> in = {randn({batch, tq, heads * d}, kFloat64, &gen),
                                  randn({batch, tk, heads * d}, kFloat64, &gen),
                                  randn({batch, tk, heads * d}, kFloat64, &gen)};
  const F::AttentionMask mask{{17, 3, 9, 1, 12}, false};
  const Tensor weights = randn({batch, tq, heads * d}, kFloat64, &gen);
  auto op = [&](const Vars& v) {
    return F::scaled_dot_product_attention(v[0], v[1], v[2], heads, mask);
  };
  set_num_threads(1);
  const auto one = output_and_grads(in, weights, op);
  for (int threads : {2, 3}) {
    CAPTURE(threads);
    set_num_threads(threads);
    const auto many = output_and_grads(in, weights, op);
    for (std::size_t i = 0; i < one.size(); ++i) {
      CAPTURE(i);
      expect_close(many[i], one[i], 0.0, 0.0);
    }
  }
}

TEST_CASE("scaled_dot_product_attention: errors name the op and the shapes") {
  Generator gen(98);
  const auto in = sdpa::inputs(kFloat32, gen);
  const Variable q(in[0]), k(in[1]), v(in[2]);
  CHECK_THROWS_WITH(F::scaled_dot_product_attention(q, k, v, 4),
                    doctest::Contains("4 heads do not divide"));
  CHECK_THROWS_WITH(F::scaled_dot_product_attention(q, k, Variable(in[2].narrow(1, 0, 2)), sdpa::H),
                    doctest::Contains("shapes do not agree"));
  CHECK_THROWS_WITH(F::scaled_dot_product_attention(q, k, v, sdpa::H, {{1, 0, 2}, false}),
                    doctest::Contains("key length 0 of row 1 is outside [1, 5]"));
  CHECK_THROWS_WITH(F::scaled_dot_product_attention(q, k, v, sdpa::H, {{1, 2}, false}),
                    doctest::Contains("2 key lengths for a batch of 3"));
  CHECK_THROWS_WITH(F::scaled_dot_product_attention(q, k, v, sdpa::H, {}, 1.0, true),
                    doctest::Contains("dropout must be in [0, 1)"));
  CHECK_THROWS_WITH(F::scaled_dot_product_attention(q, Variable(in[1].to(kFloat64)), v, sdpa::H),
                    doctest::Contains("one floating dtype"));
}

// Packed rows: each sequence's rows one after another, no padding. Checked per sequence against
// the composed equations on that sequence alone (no mask but the causal one).
namespace sdpa_packed {

const std::vector<std::int64_t> kQueryLengths{3, 1, 4}, kKeyLengths{2, 5, 1};

std::vector<Tensor> inputs(const std::vector<std::int64_t>& q_len,
                           const std::vector<std::int64_t>& k_len, Generator& gen) {
  std::int64_t nq = 0, nk = 0;
  for (const std::int64_t n : q_len) nq += n;
  for (const std::int64_t n : k_len) nk += n;
  return {randn({nq, sdpa::H * sdpa::dk}, kFloat64, &gen),
          randn({nk, sdpa::H * sdpa::dk}, kFloat64, &gen),
          randn({nk, sdpa::H * sdpa::dv}, kFloat64, &gen)};
}

}  // namespace sdpa_packed

TEST_CASE("scaled_dot_product_attention on packed rows: each sequence as if alone") {
  Generator gen(99);
  // Cross attention (other key lengths), and causal self-attention (the same lengths).
  for (const bool causal : {false, true}) {
    CAPTURE(causal);
    const auto& k_len = causal ? sdpa_packed::kQueryLengths : sdpa_packed::kKeyLengths;
    const auto in = sdpa_packed::inputs(sdpa_packed::kQueryLengths, k_len, gen);
    const Tensor weights = randn({in[0].size(0), sdpa::H * sdpa::dv}, kFloat64, &gen);
    const F::AttentionMask mask(k_len, causal, sdpa_packed::kQueryLengths);
    const auto packed = output_and_grads(in, weights, [&](const Vars& v) {
      return F::scaled_dot_product_attention(v[0], v[1], v[2], sdpa::H, mask);
    });
    std::int64_t q0 = 0, k0 = 0;
    for (std::size_t b = 0; b < k_len.size(); ++b) {
      CAPTURE(b);
      const std::int64_t nq = sdpa_packed::kQueryLengths[b], nk = k_len[b];
      const std::vector<Tensor> alone{in[0].narrow(0, q0, nq).unsqueeze(0),
                                      in[1].narrow(0, k0, nk).unsqueeze(0),
                                      in[2].narrow(0, k0, nk).unsqueeze(0)};
      const auto reference = output_and_grads(
          alone, weights.narrow(0, q0, nq).unsqueeze(0),
          [&](const Vars& v) { return sdpa::composed(v, sdpa::H, F::AttentionMask({}, causal)); });
      expect_close(packed[0].narrow(0, q0, nq), reference[0].squeeze(0), 1e-10, 1e-12);
      expect_close(packed[1].narrow(0, q0, nq), reference[1].squeeze(0), 1e-10, 1e-12);
      expect_close(packed[2].narrow(0, k0, nk), reference[2].squeeze(0), 1e-10, 1e-12);
      expect_close(packed[3].narrow(0, k0, nk), reference[3].squeeze(0), 1e-10, 1e-12);
      q0 += nq;
      k0 += nk;
    }
  }
}

TEST_CASE("gradcheck: scaled_dot_product_attention on packed rows") {
  Generator gen(100);
  for (const bool causal : {false, true}) {
    CAPTURE(causal);
    const auto& k_len = causal ? sdpa_packed::kQueryLengths : sdpa_packed::kKeyLengths;
    const F::AttentionMask mask(k_len, causal, sdpa_packed::kQueryLengths);
    CHECK_GRADCHECK(
        [&](const Vars& v) {
          Generator drop(8);  // with dropout: the same keep mask at every evaluation
          return F::scaled_dot_product_attention(v[0], v[1], v[2], sdpa::H, mask, 0.2, true, &drop);
        },
        sdpa_packed::inputs(sdpa_packed::kQueryLengths, k_len, gen));
  }
}

TEST_CASE("scaled_dot_product_attention on packed rows: errors name the lengths") {
  Generator gen(101);
  const auto in = sdpa_packed::inputs(sdpa_packed::kQueryLengths, sdpa_packed::kKeyLengths, gen);
  const Variable q(in[0]), k(in[1]), v(in[2]);
  CHECK_THROWS_WITH(F::scaled_dot_product_attention(q, k, v, sdpa::H, {{2, 5, 1}, false}),
                    doctest::Contains("need query_lengths and key_lengths"));
  CHECK_THROWS_WITH(
      F::scaled_dot_product_attention(q, k, v, sdpa::H, {{2, 5, 1}, false, {3, 1, 3}}),
      doctest::Contains("the query lengths add up to 7 and the key lengths to 8, but q [8, 6]"));
  CHECK_THROWS_WITH(F::scaled_dot_product_attention(Variable(in[0].unsqueeze(0)), k, v, sdpa::H,
                                                    {{2, 5, 1}, false, {3, 1, 4}}),
                    doctest::Contains("expected q [B, Tq, H*dk]"));
}
