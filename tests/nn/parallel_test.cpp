// Intra-op threads change nothing but speed: conv2d (batch split over threads, per-thread partial
// dW/db), max_pool2d (planes split over threads) and elementwise maps over one long contiguous row
// (split into pieces) give the same outputs and gradients with 1, 2 and 3 threads; and
// parallel_for_chunks covers [0, n) with disjoint chunks numbered 0 .. parallel_chunks(n)-1.
#include <algorithm>
#include <cstring>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "nn/nn_test_util.h"
#include "tensor/parallel.h"

using namespace seqgrad;
using namespace seqgrad::testing;
namespace F = seqgrad::nn::functional;

namespace {

// Output and gradients of one run (copies, so that later runs cannot change them).
struct Results {
  std::vector<std::string> names;
  std::vector<Tensor> tensors;
};

// Runs `op` on fresh leaves holding `inputs` (those with needs_grad[i]) with `threads` threads,
// backpropagates sum(output * weights) with weights drawn from a fixed seed, and returns the
// output followed by the gradients of the leaves that require grad.
Results run_with_threads(int threads, const std::vector<Tensor>& inputs,
                         const std::vector<bool>& needs_grad,
                         const std::function<Variable(const std::vector<Variable>&)>& op) {
  set_num_threads(threads);
  REQUIRE(intra_op_threads() == threads);
  std::vector<Variable> leaves;
  for (std::size_t i = 0; i < inputs.size(); ++i)
    leaves.emplace_back(inputs[i].clone(), static_cast<bool>(needs_grad[i]));
  const Variable y = op(leaves);
  Generator gen(4242);
  const Tensor weights = randn(y.shape(), y.dtype(), &gen);
  weighted_sum(y, weights).backward();
  Results r;
  r.names.push_back("output");
  r.tensors.push_back(y.value().clone());
  for (std::size_t i = 0; i < leaves.size(); ++i) {
    if (!needs_grad[i]) continue;
    REQUIRE(leaves[i].grad().defined());
    r.names.push_back("gradient of input " + std::to_string(i));
    r.tensors.push_back(leaves[i].grad().clone());
  }
  set_num_threads(1);
  return r;
}

// Every element within rtol relative (plus atol absolute) of the single-threaded result.
void expect_all_close(const Results& got, const Results& expected, double rtol, double atol) {
  REQUIRE(got.tensors.size() == expected.tensors.size());
  for (std::size_t i = 0; i < got.tensors.size(); ++i) {
    INFO(expected.names[i]);
    CHECK(got.tensors[i].dtype() == expected.tensors[i].dtype());
    expect_close(got.tensors[i], expected.tensors[i], rtol, atol);
  }
}

// Same shape, same dtype and the same bytes (so +0 and -0 differ, and NaNs must match too).
void expect_bitwise_equal(const Tensor& got, const Tensor& expected) {
  REQUIRE(got.shape() == expected.shape());
  REQUIRE(got.dtype() == expected.dtype());
  const Tensor g = got.contiguous(), e = expected.contiguous();
  const auto bytes = static_cast<std::size_t>(g.numel()) * itemsize(g.dtype());
  const bool same = std::memcmp(g.raw_data(), e.raw_data(), bytes) == 0;
  if (!same) {
    const auto gv = g.to(kFloat64).to_vector<double>(), ev = e.to(kFloat64).to_vector<double>();
    std::size_t first = 0;
    while (first < gv.size() && std::memcmp(&gv[first], &ev[first], sizeof(double)) == 0) ++first;
    FAIL_CHECK(
        fmt::format("not bitwise equal: first difference at element {} of {}: {:.17g} vs "
                    "{:.17g}",
                    first, gv.size(), first < gv.size() ? gv[first] : 0.0,
                    first < ev.size() ? ev[first] : 0.0));
  }
}

void expect_all_bitwise_equal(const Results& got, const Results& expected) {
  REQUIRE(got.tensors.size() == expected.tensors.size());
  for (std::size_t i = 0; i < got.tensors.size(); ++i) {
    INFO(expected.names[i]);
    expect_bitwise_equal(got.tensors[i], expected.tensors[i]);
  }
}

F::Conv2dOptions conv_options(std::int64_t stride, std::int64_t pad, std::int64_t dilation = 1) {
  F::Conv2dOptions o;
  o.stride_h = o.stride_w = stride;
  o.pad_h = o.pad_w = pad;
  o.dilation_h = o.dilation_w = dilation;
  return o;
}

}  // namespace

// --- conv2d
// ----------------------------------------------------------------------------------------

TEST_CASE("parallel: conv2d output and gradients agree with 1, 2 and 3 threads") {
  RestoreOneThread restore;
  struct Case {
    const char* name;
    F::Conv2dOptions options;
  };
  const std::vector<Case> cases = {{"stride 1, no padding", conv_options(1, 0)},
                                   {"stride 1, padding 1", conv_options(1, 1)},
                                   {"stride 2, padding 1", conv_options(2, 1)},
                                   {"stride 2, padding 2, dilation 2", conv_options(2, 2, 2)}};
  for (DType dtype : {kFloat32, kFloat64}) {
    // float32: partial dW/db are summed in another order, so allow rounding differences.
    const double rtol = dtype == kFloat32 ? 1e-5 : 1e-12, atol = dtype == kFloat32 ? 1e-5 : 1e-12;
    Generator gen(dtype == kFloat32 ? 11 : 12);
    // Batch 7: two threads split it 3 + 4, three threads 2 + 2 + 3.
    const Tensor x = randn({7, 3, 9, 9}, dtype, &gen);
    const Tensor w = randn({5, 3, 3, 3}, dtype, &gen);
    const Tensor b = randn({5}, dtype, &gen);
    for (const Case& c : cases) {
      INFO(fmt::format("{} {}", c.name, dtype));
      auto op = [&](const std::vector<Variable>& v) {
        return F::conv2d(v[0], v[1], v[2], c.options);
      };
      const Results one = run_with_threads(1, {x, w, b}, {true, true, true}, op);
      REQUIRE(one.tensors.size() == 4);
      CHECK(one.tensors[0].size(0) == 7);
      CHECK(one.tensors[0].size(1) == 5);
      for (int threads : {2, 3}) {
        INFO(threads, " threads");
        expect_all_close(run_with_threads(threads, {x, w, b}, {true, true, true}, op), one, rtol,
                         atol);
      }
    }
  }
  CHECK(intra_op_threads() == 1);
}

TEST_CASE("parallel: conv2d gradients agree when only some inputs need them") {
  RestoreOneThread restore;
  Generator gen(13);
  const Tensor x = randn({7, 3, 9, 9}, kFloat32, &gen);
  const Tensor w = randn({5, 3, 3, 3}, kFloat32, &gen);
  const Tensor b = randn({5}, kFloat32, &gen);
  const auto o = conv_options(2, 1);
  SUBCASE("weight and bias only (input is data)") {
    auto op = [&](const std::vector<Variable>& v) { return F::conv2d(v[0], v[1], v[2], o); };
    const std::vector<bool> req = {false, true, true};
    expect_all_close(run_with_threads(2, {x, w, b}, req, op),
                     run_with_threads(1, {x, w, b}, req, op), 1e-5, 1e-5);
  }
  SUBCASE("input only (frozen weight and bias)") {
    auto op = [&](const std::vector<Variable>& v) { return F::conv2d(v[0], v[1], v[2], o); };
    const std::vector<bool> req = {true, false, false};
    expect_all_close(run_with_threads(2, {x, w, b}, req, op),
                     run_with_threads(1, {x, w, b}, req, op), 1e-5, 1e-5);
  }
  SUBCASE("no bias") {
    auto op = [&](const std::vector<Variable>& v) { return F::conv2d(v[0], v[1], Variable(), o); };
    const std::vector<bool> req = {true, true};
    expect_all_close(run_with_threads(2, {x, w}, req, op), run_with_threads(1, {x, w}, req, op),
                     1e-5, 1e-5);
  }
  SUBCASE("batch of 1: fewer samples than threads") {
    const Tensor x1 = x.narrow(0, 0, 1).contiguous();
    auto op = [&](const std::vector<Variable>& v) { return F::conv2d(v[0], v[1], v[2], o); };
    const std::vector<bool> req = {true, true, true};
    expect_all_close(run_with_threads(2, {x1, w, b}, req, op),
                     run_with_threads(1, {x1, w, b}, req, op), 1e-5, 1e-5);
  }
  CHECK(intra_op_threads() == 1);
}

// --- max_pool2d
// ------------------------------------------------------------------------------------

TEST_CASE("parallel: max_pool2d output and gradient are bitwise equal with 1, 2 and 3 threads") {
  RestoreOneThread restore;
  struct Case {
    const char* name;
    Dims shape;
    std::int64_t kernel, stride, padding;
  };
  // 7 x 5 = 35 planes: split unevenly over 2 and 3 threads.
  const std::vector<Case> cases = {{"2x2 stride 2 (the fast path)", {7, 5, 10, 10}, 2, 2, 0},
                                   {"2x2 stride 2, odd size", {7, 5, 9, 9}, 2, 2, 0},
                                   {"3x3 stride 2 padding 1", {7, 5, 9, 9}, 3, 2, 1},
                                   {"3x3 stride 1 (overlapping windows)", {7, 5, 9, 9}, 3, 1, 0}};
  for (DType dtype : {kFloat32, kFloat64}) {
    Generator gen(21);
    for (const Case& c : cases) {
      INFO(fmt::format("{} {}", c.name, dtype));
      const Tensor x = randn(c.shape, dtype, &gen);
      auto op = [&](const std::vector<Variable>& v) {
        return F::max_pool2d(v[0], c.kernel, c.stride, c.padding);
      };
      const Results one = run_with_threads(1, {x}, {true}, op);
      for (int threads : {2, 3}) {
        INFO(threads, " threads");
        expect_all_bitwise_equal(run_with_threads(threads, {x}, {true}, op), one);
      }
    }
  }
  CHECK(intra_op_threads() == 1);
}

// --- elementwise maps over one long row
// ------------------------------------------------------------

TEST_CASE(
    "parallel: relu, sigmoid and mul over a long row are bitwise equal with 1, 2, 3 threads") {
  RestoreOneThread restore;
  // Longer than twice the grain of 2^15 elements, so the row is split; odd lengths make the
  // pieces uneven and leave vector-loop tails in different places.
  const std::vector<Dims> shapes = {Dims{300007}, Dims{3, 100003}, Dims{2, 3, 50001}};
  for (DType dtype : {kFloat32, kFloat64}) {
    Generator gen(31);
    for (const Dims& shape : shapes) {
      REQUIRE(shape.numel() > 300000);
      INFO(fmt::format("{} {}", shape, dtype));
      const Tensor x = randn(shape, dtype, &gen) * 4.0;  // reaches sigmoid's saturated tails
      const Tensor z = randn(shape, dtype, &gen);
      struct Op {
        const char* name;
        std::vector<Tensor> inputs;
        std::function<Variable(const std::vector<Variable>&)> fn;
      };
      const std::vector<Op> ops = {
          {"relu", {x}, [](const std::vector<Variable>& v) { return relu(v[0]); }},
          {"sigmoid", {x}, [](const std::vector<Variable>& v) { return sigmoid(v[0]); }},
          {"mul", {x, z}, [](const std::vector<Variable>& v) { return v[0] * v[1]; }},
          {"relu(x) * sigmoid(z)", {x, z}, [](const std::vector<Variable>& v) {
             return relu(v[0]) * sigmoid(v[1]);
           }}};
      for (const Op& op : ops) {
        INFO(op.name);
        const std::vector<bool> req(op.inputs.size(), true);
        const Results one = run_with_threads(1, op.inputs, req, op.fn);
        for (int threads : {2, 3}) {
          INFO(threads, " threads");
          expect_all_bitwise_equal(run_with_threads(threads, op.inputs, req, op.fn), one);
        }
      }
    }
  }
  CHECK(intra_op_threads() == 1);
}

TEST_CASE("parallel: maps over the rows of a matrix (broadcast, strided) equal 1 thread's bits") {
  RestoreOneThread restore;
  // Above the 2^16 elements at which a map is split; not one row after merging dims, so the
  // split goes by rows: a bias broadcast along rows, a transposed operand, a sliced output.
  Generator gen(32);
  const Tensor x = randn({701, 130}, kFloat32, &gen), bias = randn({130}, kFloat32, &gen);
  const Tensor xt = randn({130, 701}, kFloat32, &gen).t();  // [701, 130], column-major
  const auto compute = [&](int threads) {
    set_num_threads(threads);
    std::vector<Tensor> out = {x + bias, x * xt, sigmoid(xt)};
    Tensor wide = zeros({701, 200});
    wide.narrow(1, 10, 130).copy_(x - bias);  // rows of 130 with a stride of 200
    out.push_back(wide);
    set_num_threads(1);
    return out;
  };
  const auto one = compute(1);
  // Independent of the code under test: x + bias element by element.
  const auto xs = x.to_vector<float>(), bs = bias.to_vector<float>(),
             sum = one[0].to_vector<float>();
  for (std::size_t i = 0; i < xs.size(); ++i) REQUIRE(sum[i] == xs[i] + bs[i % 130]);
  for (int threads : {2, 3}) {
    INFO(threads, " threads");
    const auto many = compute(threads);
    for (std::size_t i = 0; i < one.size(); ++i) {
      INFO("result ", i);
      CHECK(many[i].to_vector<float>() == one[i].to_vector<float>());
    }
  }
}

// --- parallel_for_chunks
// -------------------------------------------------------------------------------

TEST_CASE("parallel: parallel_for_chunks covers 0 to n with disjoint, numbered chunks") {
  RestoreOneThread restore;
  for (int threads : {1, 2, 3}) {
    set_num_threads(threads);
    for (std::int64_t n : {0, 1, 2, 5, 1000}) {
      INFO(threads, " threads, n = ", n);
      const int chunks = parallel_chunks(n);
      CHECK(chunks == std::max<std::int64_t>(1, std::min<std::int64_t>(threads, n)));
      std::mutex m;
      std::vector<int> hits(static_cast<std::size_t>(n), 0);
      std::vector<int> calls(static_cast<std::size_t>(chunks), 0);
      std::vector<std::pair<std::int64_t, std::int64_t>> ranges(static_cast<std::size_t>(chunks),
                                                                {-1, -1});
      bool bad_chunk = false;
      parallel_for_chunks(n, [&](int chunk, std::int64_t begin, std::int64_t end) {
        std::lock_guard<std::mutex> lock(m);
        if (chunk < 0 || chunk >= chunks) {
          bad_chunk = true;
          return;
        }
        ++calls[static_cast<std::size_t>(chunk)];
        ranges[static_cast<std::size_t>(chunk)] = {begin, end};
        for (std::int64_t i = begin; i < end; ++i)
          if (i >= 0 && i < n) ++hits[static_cast<std::size_t>(i)];
      });
      CHECK_FALSE(bad_chunk);
      // Every index exactly once.
      CHECK(std::all_of(hits.begin(), hits.end(), [](int h) { return h == 1; }));
      if (n == 0) {
        // Nothing to do: the body is not called at all.
        CHECK(calls[0] == 0);
        continue;
      }
      // Each chunk index is used exactly once, with a non-empty range inside [0, n), and the
      // chunks are consecutive in index order.
      std::int64_t next = 0;
      for (int c = 0; c < chunks; ++c) {
        INFO("chunk ", c);
        CHECK(calls[static_cast<std::size_t>(c)] == 1);
        const auto [begin, end] = ranges[static_cast<std::size_t>(c)];
        CHECK(begin == next);
        CHECK(begin < end);
        CHECK(end <= n);
        next = end;
      }
      CHECK(next == n);
      // parallel_for splits the same way.
      std::int64_t covered = 0;
      parallel_for(n, [&](std::int64_t begin, std::int64_t end) {
        std::lock_guard<std::mutex> lock(m);
        covered += end - begin;
      });
      CHECK(covered == n);
    }
  }
  set_num_threads(1);
  CHECK(parallel_chunks(1000) == 1);
}

TEST_CASE("parallel: set_num_threads rejects zero threads and keeps the old count") {
  RestoreOneThread restore;
  set_num_threads(2);
  CHECK_THROWS_AS(set_num_threads(0), Error);
  CHECK_THROWS_AS(set_num_threads(2, -1), Error);
  CHECK(intra_op_threads() == 2);
}
