// Second derivatives of the layers' functional ops: linear and embedding have generic backward
// formulas, glu and cross_entropy fall back to composed formulas under create_graph, and all
// pass gradgradcheck; the fused recurrent kernels are first-order only and say so, naming the
// op, when differentiated through (docs/autograd.md, "Which ops are twice differentiable").
#include <string>
#include <vector>

#include "nn/nn_test_util.h"

using namespace seqgrad;
using namespace seqgrad::testing;
namespace F = seqgrad::nn::functional;

namespace {

using Vars = std::vector<Variable>;

void check_second_order(const GradcheckFn& fn, const std::vector<Tensor>& inputs) {
  const auto r = gradgradcheck(fn, inputs);
  CHECK_MESSAGE(r.ok, r.report);
}

}  // namespace

TEST_CASE("gradgradcheck: linear, with and without bias, 1-D to 3-D and non-contiguous inputs") {
  Generator gen(131);
  check_second_order([](const Vars& v) { return tanh(F::linear(v[0], v[1], v[2])); },
                     {normal64({3, 4}, gen), normal64({5, 4}, gen), normal64({5}, gen)});
  check_second_order([](const Vars& v) { return F::linear(v[0], v[1]); },
                     {normal64({2, 2, 3}, gen), normal64({4, 3}, gen)});
  check_second_order([](const Vars& v) { return F::linear(v[0], v[1], v[2]); },
                     {normal64({4}, gen), normal64({2, 4}, gen), normal64({2}, gen)});
  check_second_order([](const Vars& v) { return F::linear(v[0].t(), v[1], v[2]); },
                     {normal64({4, 3}, gen), normal64({2, 4}, gen), normal64({2}, gen)});
}

TEST_CASE("gradgradcheck: embedding, with repeated ids and a padding row") {
  Generator gen(132);
  const Tensor ids = i64({1, 3, 1, 0, 3, 3}, {2, 3});
  check_second_order([&](const Vars& v) { return sigmoid(F::embedding(ids, v[0])); },
                     {normal64({5, 3}, gen)});
  check_second_order([&](const Vars& v) { return F::embedding(ids, v[0], /*padding_idx=*/2); },
                     {normal64({5, 3}, gen)});
}

TEST_CASE("gradgradcheck: glu along the channel dim and the last dim") {
  Generator gen(134);
  check_second_order([](const Vars& v) { return F::glu(v[0], 1); }, {normal64({2, 4, 3}, gen)});
  check_second_order([](const Vars& v) { return F::glu(v[0], -1); }, {normal64({3, 6}, gen)});
}

TEST_CASE("gradgradcheck: cross_entropy, with label smoothing, ignore_index and a spatial dim") {
  Generator gen(135);
  const Tensor t = i64({2, 0, 3, 1}, {4});
  check_second_order([&](const Vars& v) { return F::cross_entropy(v[0], t); },
                     {normal64({4, 5}, gen)});
  check_second_order(
      [&](const Vars& v) {
        return F::cross_entropy(v[0], t, F::Reduction::Sum, /*ignore_index=*/3,
                                /*label_smoothing=*/0.2);
      },
      {normal64({4, 5}, gen)});
  const Tensor t3 = i64({0, 2, 1, 1, 0, 2}, {2, 3});
  check_second_order([&](const Vars& v) { return F::cross_entropy(v[0], t3, F::Reduction::None); },
                     {normal64({2, 3, 3}, gen)});
}

TEST_CASE("create_graph through a fused GRU: the first derivative is right, the second refuses") {
  Generator gen(133);
  const Tensor gx = normal64({3, 2, 6}, gen), h0 = normal64({2, 2}, gen);
  const Tensor w = normal64({6, 2}, gen), b = normal64({6}, gen);
  Variable x(gx, true);
  const auto loss = [&](const Variable& in) {
    const auto r = F::gru_sequence(in, Variable(h0), Variable(w), Variable(b));
    return sum(r.output * r.output);
  };
  const Variable g = grad({loss(x)}, {x}, {}, {.create_graph = true})[0];
  Variable x2(gx, true);
  const Variable plain = grad({loss(x2)}, {x2})[0];
  CHECK(amax(abs(g.value() - plain.value())).item() == 0.0);
  CHECK_THROWS_WITH_AS(grad({sum(g * g)}, {x}),
                       doctest::Contains("'gru_sequence' is first-order only"), Error);
}
