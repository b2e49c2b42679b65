// Forward values and gradients checked against numbers worked out by hand (written literally, never
// computed with the code under test), so that a rule that is wrong in the same way as its finite
// differences (or a wrong forward) still shows.
#include <vector>

#include "autograd_test_util.h"

using namespace seqgrad;
using namespace seqgrad::testing;

namespace {
Variable leaf(const std::vector<double>& values, const Dims& shape) {
  return Variable(f64(values, shape), /*requires_grad=*/true);
}
Variable scalar_leaf(double value) {
  return Variable(scalar_tensor(value, kFloat64), /*requires_grad=*/true);
}
}  // namespace

TEST_CASE("hand: d/dx sum(x * x) = 2x") {
  const Variable x = leaf({1.0, -2.0, 3.0}, {3});
  const Variable y = sum(x * x);
  CHECK(y.item() == doctest::Approx(14.0));
  y.backward();
  expect_values(x.grad(), {3}, {2.0, -4.0, 6.0});
}

TEST_CASE("hand: product of two scalars, and the first_graph example") {
  const Variable a = scalar_leaf(2.0);
  const Variable b = scalar_leaf(-3.0);
  SUBCASE("a * b") {
    const Variable c = a * b;
    CHECK(c.item() == doctest::Approx(-6.0));
    CHECK(c.shape() == Dims{});
    c.backward();
    expect_values(a.grad(), {}, {-3.0});  // d(ab)/da = b
    expect_values(b.grad(), {}, {2.0});   // d(ab)/db = a
  }
  SUBCASE("e = tanh(a * b + b * b)") {
    const Variable e = tanh(a * b + b * b);  // tanh(3)
    CHECK(e.item() == doctest::Approx(0.9950547536867305));
    e.backward();
    // de/da = (1 - tanh(3)^2) * b,  de/db = (1 - tanh(3)^2) * (a + 2b)
    expect_values(a.grad(), {}, {-0.029598111496320634});
    expect_values(b.grad(), {}, {-0.039464148661760845});
  }
}

TEST_CASE("hand: unary ops at simple points") {
  SUBCASE("exp(0) = 1, slope 1") {
    const Variable x = scalar_leaf(0.0);
    const Variable y = exp(x);
    CHECK(y.item() == doctest::Approx(1.0));
    y.backward();
    CHECK(x.grad().item() == doctest::Approx(1.0));
  }
  SUBCASE("log(2), slope 1/2") {
    const Variable x = scalar_leaf(2.0);
    const Variable y = log(x);
    CHECK(y.item() == doctest::Approx(0.6931471805599453));
    y.backward();
    CHECK(x.grad().item() == doctest::Approx(0.5));
  }
  SUBCASE("sqrt(4) = 2, slope 1/4") {
    const Variable x = scalar_leaf(4.0);
    const Variable y = sqrt(x);
    CHECK(y.item() == doctest::Approx(2.0));
    y.backward();
    CHECK(x.grad().item() == doctest::Approx(0.25));
  }
  SUBCASE("sigmoid(0) = 1/2, slope 1/4; sigmoid(1)") {
    const Variable x = leaf({0.0, 1.0}, {2});
    const Variable y = sigmoid(x);
    expect_values(y.value(), {2}, {0.5, 0.7310585786300049});
    sum(y).backward();
    expect_values(x.grad(), {2}, {0.25, 0.19661193324148185});
  }
  SUBCASE("tanh(0) = 0, slope 1") {
    const Variable x = scalar_leaf(0.0);
    tanh(x).backward();
    CHECK(x.grad().item() == doctest::Approx(1.0));
  }
  SUBCASE("pow(3, 2) = 9 slope 6; pow(3, 3) = 27 slope 27; pow(4, 0.5) = 2 slope 1/4") {
    const Variable x = scalar_leaf(3.0);
    const Variable y2 = pow(x, 2.0);
    CHECK(y2.item() == doctest::Approx(9.0));
    y2.backward();
    CHECK(x.grad().item() == doctest::Approx(6.0));
    x.zero_grad();
    const Variable y3 = pow(x, 3.0);
    CHECK(y3.item() == doctest::Approx(27.0));
    y3.backward();
    CHECK(x.grad().item() == doctest::Approx(27.0));
    const Variable z = scalar_leaf(4.0);
    pow(z, 0.5).backward();
    CHECK(z.grad().item() == doctest::Approx(0.25));
  }
  SUBCASE("neg") {
    const Variable x = leaf({1.5, -2.0}, {2});
    const Variable y = -x;
    expect_values(y.value(), {2}, {-1.5, 2.0});
    sum(y).backward();
    expect_values(x.grad(), {2}, {-1.0, -1.0});
  }
}

TEST_CASE("hand: kinks get the subgradient PyTorch uses") {
  SUBCASE("abs: sign(x), 0 at 0") {
    const Variable x = leaf({-2.0, 0.0, 3.0}, {3});
    const Variable y = abs(x);
    expect_values(y.value(), {3}, {2.0, 0.0, 3.0});
    sum(y).backward();
    expect_values(x.grad(), {3}, {-1.0, 0.0, 1.0});
  }
  SUBCASE("relu: 1 for positive, 0 for zero and negative") {
    const Variable x = leaf({-2.0, 0.0, 3.0}, {3});
    const Variable y = relu(x);
    expect_values(y.value(), {3}, {0.0, 0.0, 3.0});
    sum(y).backward();
    expect_values(x.grad(), {3}, {0.0, 0.0, 1.0});
  }
  SUBCASE("clamp: 1 inside [low, high] (bounds included), 0 outside") {
    const Variable x = leaf({-2.0, -1.0, 0.5, 1.0, 3.0}, {5});
    const Variable y = clamp(x, -1.0, 1.0);
    expect_values(y.value(), {5}, {-1.0, -1.0, 0.5, 1.0, 1.0});
    sum(y).backward();
    expect_values(x.grad(), {5}, {0.0, 1.0, 1.0, 1.0, 0.0});
  }
  SUBCASE("maximum and minimum split ties evenly") {
    const Variable a = leaf({1.0, 2.0, 5.0}, {3});
    const Variable b = leaf({4.0, 2.0, 0.0}, {3});
    const Variable y = maximum(a, b);
    expect_values(y.value(), {3}, {4.0, 2.0, 5.0});
    sum(y).backward();
    expect_values(a.grad(), {3}, {0.0, 0.5, 1.0});
    expect_values(b.grad(), {3}, {1.0, 0.5, 0.0});
    a.zero_grad();
    b.zero_grad();
    const Variable z = minimum(a, b);
    expect_values(z.value(), {3}, {1.0, 2.0, 0.0});
    sum(z).backward();
    expect_values(a.grad(), {3}, {1.0, 0.5, 0.0});
    expect_values(b.grad(), {3}, {0.0, 0.5, 1.0});
  }
  SUBCASE("amax shares the gradient among tied maxima") {
    const Variable x = leaf({1.0, 3.0, 3.0, 2.0}, {4});
    const Variable y = amax(x);
    CHECK(y.item() == doctest::Approx(3.0));
    y.backward();
    expect_values(x.grad(), {4}, {0.0, 0.5, 0.5, 0.0});
  }
  SUBCASE("max along a dim sends the gradient to the first maximum only") {
    const Variable x = leaf({1.0, 5.0, 5.0, 7.0, 2.0, 6.0}, {2, 3});
    const auto [values, indices] = max(x, 1);
    expect_values(values.value(), {2}, {5.0, 7.0});
    CHECK(indices.to_vector<std::int64_t>() == std::vector<std::int64_t>{1, 0});
    values.backward(f64({10.0, 20.0}, {2}));
    expect_values(x.grad(), {2, 3}, {0.0, 10.0, 0.0, 20.0, 0.0, 0.0});
  }
  SUBCASE("min along dim 0, keepdim") {
    const Variable x = leaf({1.0, 5.0, 3.0, 7.0, 2.0, 6.0}, {2, 3});
    const auto [values, indices] = min(x, 0, /*keepdim=*/true);
    expect_values(values.value(), {1, 3}, {1.0, 2.0, 3.0});
    CHECK(indices.to_vector<std::int64_t>() == std::vector<std::int64_t>{0, 1, 0});
    sum(values).backward();
    expect_values(x.grad(), {2, 3}, {1.0, 0.0, 1.0, 0.0, 1.0, 0.0});
  }
}

TEST_CASE("hand: binary ops and scalar variants") {
  SUBCASE("div: d(a/b)/da = 1/b, d(a/b)/db = -a/b^2") {
    const Variable a = scalar_leaf(6.0);
    const Variable b = scalar_leaf(3.0);
    const Variable y = a / b;
    CHECK(y.item() == doctest::Approx(2.0));
    y.backward();
    CHECK(a.grad().item() == doctest::Approx(1.0 / 3.0));
    CHECK(b.grad().item() == doctest::Approx(-2.0 / 3.0));
  }
  SUBCASE("sub") {
    const Variable a = scalar_leaf(6.0);
    const Variable b = scalar_leaf(3.0);
    (a - b).backward();
    CHECK(a.grad().item() == doctest::Approx(1.0));
    CHECK(b.grad().item() == doctest::Approx(-1.0));
  }
  SUBCASE("scalars on either side") {
    const Variable x = scalar_leaf(4.0);
    struct Expect {
      Variable y;
      double value, slope;
    };
    const std::vector<Expect> cases = {
        {x + 1.5, 5.5, 1.0},        {1.5 + x, 5.5, 1.0},       {x - 1.5, 2.5, 1.0},
        {1.5 - x, -2.5, -1.0},      {x * 1.5, 6.0, 1.5},       {1.5 * x, 6.0, 1.5},
        {x / 2.0, 2.0, 0.5},        {2.0 / x, 0.5, -0.125},  // d(2/x)/dx = -2/x^2
        {rsub(x, 1.0), -3.0, -1.0}, {rdiv(x, 8.0), 2.0, -0.5},
    };
    for (std::size_t i = 0; i < cases.size(); ++i) {
      INFO("case ", i);
      CHECK(cases[i].y.item() == doctest::Approx(cases[i].value));
      x.zero_grad();
      cases[i].y.backward();
      CHECK(x.grad().item() == doctest::Approx(cases[i].slope));
    }
  }
}

TEST_CASE("hand: broadcast gradients are summed back to each operand's shape") {
  SUBCASE("[2, 3] + [3]: the [3] operand gets the column sums of gy") {
    const Variable a = leaf({0, 0, 0, 0, 0, 0}, {2, 3});
    const Variable b = leaf({1, 2, 3}, {3});
    const Variable y = a + b;
    expect_values(y.value(), {2, 3}, {1, 2, 3, 1, 2, 3});
    y.backward(f64({1, 2, 3, 4, 5, 6}, {2, 3}));
    expect_values(a.grad(), {2, 3}, {1, 2, 3, 4, 5, 6});
    expect_values(b.grad(), {3}, {5, 7, 9});
  }
  SUBCASE("[3, 1] * [1, 4]: row sums and column sums, weighted by the other operand") {
    const Variable a = leaf({1, 2, 3}, {3, 1});
    const Variable b = leaf({1, 10, 100, 1000}, {1, 4});
    const Variable y = a * b;
    expect_values(y.value(), {3, 4}, {1, 10, 100, 1000, 2, 20, 200, 2000, 3, 30, 300, 3000});
    sum(y).backward();
    expect_values(a.grad(), {3, 1}, {1111, 1111, 1111});  // sum of b
    expect_values(b.grad(), {1, 4}, {6, 6, 6, 6});        // sum of a
  }
  SUBCASE("[] + [2, 3]: the 0-d operand gets the sum of gy") {
    const Variable s = scalar_leaf(0.5);
    const Variable m = leaf({1, 2, 3, 4, 5, 6}, {2, 3});
    const Variable y = s * m;
    y.backward(f64({1, 1, 1, 2, 2, 2}, {2, 3}));
    expect_values(s.grad(), {}, {1 + 2 + 3 + 8 + 10 + 12});
    expect_values(m.grad(), {2, 3}, {0.5, 0.5, 0.5, 1, 1, 1});
  }
  SUBCASE("expand [3, 1] -> [2, 3, 4] sums over the new and the widened dims") {
    const Variable x = leaf({1, 2, 3}, {3, 1});
    const Variable y = x.expand({2, 3, 4});
    CHECK(y.shape() == Dims{2, 3, 4});
    sum(y).backward();
    expect_values(x.grad(), {3, 1}, {8, 8, 8});
  }
}

TEST_CASE("hand: reductions") {
  const Variable x = leaf({1, 2, 3, 4, 5, 6}, {2, 3});
  SUBCASE("sum over dim 1 with a non-uniform gy") {
    const Variable y = sum(x, {1});
    expect_values(y.value(), {2}, {6, 15});
    y.backward(f64({1, -1}, {2}));
    expect_values(x.grad(), {2, 3}, {1, 1, 1, -1, -1, -1});
  }
  SUBCASE("mean over all: 1/n each") {
    const Variable y = mean(x);
    CHECK(y.item() == doctest::Approx(3.5));
    y.backward();
    expect_values(x.grad(), {2, 3}, {1.0 / 6, 1.0 / 6, 1.0 / 6, 1.0 / 6, 1.0 / 6, 1.0 / 6});
  }
  SUBCASE("mean over dim 0, keepdim") {
    const Variable y = mean(x, {0}, /*keepdim=*/true);
    expect_values(y.value(), {1, 3}, {2.5, 3.5, 4.5});
    y.backward(f64({2, 4, 6}, {1, 3}));
    expect_values(x.grad(), {2, 3}, {1, 2, 3, 1, 2, 3});
  }
  SUBCASE("logsumexp of [0, 0] is log 2, gradient 1/2 each") {
    const Variable z = leaf({0, 0}, {2});
    const Variable y = logsumexp(z, {0});
    CHECK(y.item() == doctest::Approx(0.6931471805599453));
    y.backward();
    expect_values(z.grad(), {2}, {0.5, 0.5});
  }
}

TEST_CASE("hand: softmax and log_softmax on a tiny input") {
  // x = [0, log 2]: softmax = [1/3, 2/3].
  const Variable x = leaf({0.0, 0.6931471805599453}, {2});
  SUBCASE("softmax, gradient of its first output") {
    const Variable y = softmax(x, 0);
    expect_values(y.value(), {2}, {1.0 / 3, 2.0 / 3});
    // dy0/dx = y0 * (e0 - y) = [1/3 * 2/3, -1/3 * 2/3]
    y.backward(f64({1, 0}, {2}));
    expect_values(x.grad(), {2}, {2.0 / 9, -2.0 / 9});
  }
  SUBCASE("softmax: a uniform gy gives zero gradient (outputs sum to 1)") {
    softmax(x, -1).backward(f64({5, 5}, {2}));
    expect_values(x.grad(), {2}, {0.0, 0.0});  // compared within a relative tolerance of 0
  }
  SUBCASE("log_softmax, gradient of its first output is e0 - softmax") {
    const Variable y = log_softmax(x, 0);
    expect_values(y.value(), {2}, {-1.0986122886681098, -0.4054651081081644});  // log 1/3, 2/3
    y.backward(f64({1, 0}, {2}));
    expect_values(x.grad(), {2}, {2.0 / 3, -2.0 / 3});
  }
  SUBCASE("softmax along rows of a matrix") {
    const Variable m = leaf({0, 0, 0, 0.6931471805599453}, {2, 2});
    const Variable y = softmax(m, 1);
    expect_values(y.value(), {2, 2}, {0.5, 0.5, 1.0 / 3, 2.0 / 3});
    y.backward(f64({1, 0, 1, 0}, {2, 2}));
    expect_values(m.grad(), {2, 2}, {0.25, -0.25, 2.0 / 9, -2.0 / 9});
  }
}

TEST_CASE("hand: matrix products") {
  SUBCASE("2x2 @ 2x2 with gy = ones: da = ones @ b^T, db = a^T @ ones") {
    const Variable a = leaf({1, 2, 3, 4}, {2, 2});
    const Variable b = leaf({5, 6, 7, 8}, {2, 2});
    const Variable c = matmul(a, b);
    expect_values(c.value(), {2, 2}, {19, 22, 43, 50});
    sum(c).backward();
    expect_values(a.grad(), {2, 2}, {11, 15, 11, 15});
    expect_values(b.grad(), {2, 2}, {4, 4, 6, 6});
  }
  SUBCASE("dot product of two vectors") {
    const Variable u = leaf({1, 2, 3}, {3});
    const Variable v = leaf({4, 5, 6}, {3});
    const Variable d = matmul(u, v);
    CHECK(d.shape() == Dims{});
    CHECK(d.item() == doctest::Approx(32.0));
    d.backward();
    expect_values(u.grad(), {3}, {4, 5, 6});
    expect_values(v.grad(), {3}, {1, 2, 3});
  }
  SUBCASE("matrix times vector") {
    const Variable m = leaf({1, 2, 3, 4, 5, 6}, {2, 3});
    const Variable v = leaf({1, 0, -1}, {3});
    const Variable y = matmul(m, v);
    expect_values(y.value(), {2}, {-2, -2});
    y.backward(f64({1, 2}, {2}));
    expect_values(m.grad(), {2, 3}, {1, 0, -1, 2, 0, -2});  // gy outer v
    expect_values(v.grad(), {3}, {9, 12, 15});              // m^T gy
  }
  SUBCASE("batched 3-D @ 2-D: the shared matrix sums its gradient over the batch") {
    const Variable a = leaf({1, 0, 0, 1, 2, 0, 0, 2}, {2, 2, 2});  // I and 2I
    const Variable w = leaf({1, 2, 3, 4}, {2, 2});
    const Variable y = matmul(a, w);
    expect_values(y.value(), {2, 2, 2}, {1, 2, 3, 4, 2, 4, 6, 8});
    sum(y).backward();
    expect_values(w.grad(), {2, 2}, {3, 3, 3, 3});                 // (I + 2I)^T @ ones
    expect_values(a.grad(), {2, 2, 2}, {3, 7, 3, 7, 3, 7, 3, 7});  // ones @ w^T
  }
}

TEST_CASE("hand: joining and indexing route the gradient back") {
  SUBCASE("index_select with repeated indices accumulates") {
    const Variable x = leaf({10, 20, 30}, {3});
    const Variable y = index_select(x, 0, i64({0, 2, 0, 0}, {4}));
    expect_values(y.value(), {4}, {10, 30, 10, 10});
    y.backward(f64({1, 2, 3, 4}, {4}));
    expect_values(x.grad(), {3}, {8, 0, 2});
  }
  SUBCASE("gather along dim 1") {
    const Variable x = leaf({1, 2, 3, 4, 5, 6}, {2, 3});
    const Variable y = gather(x, 1, i64({2, 2, 0, 1}, {2, 2}));
    expect_values(y.value(), {2, 2}, {3, 3, 4, 5});
    sum(y).backward();
    expect_values(x.grad(), {2, 3}, {0, 0, 2, 1, 1, 0});
  }
  SUBCASE("cat splits gy back into the pieces") {
    const Variable a = leaf({1, 2}, {2});
    const Variable b = leaf({3, 4, 5}, {3});
    const Variable y = cat({a, b});
    expect_values(y.value(), {5}, {1, 2, 3, 4, 5});
    y.backward(f64({10, 20, 30, 40, 50}, {5}));
    expect_values(a.grad(), {2}, {10, 20});
    expect_values(b.grad(), {3}, {30, 40, 50});
  }
  SUBCASE("stack along dim 1") {
    const Variable a = leaf({1, 2}, {2});
    const Variable b = leaf({3, 4}, {2});
    const Variable y = stack({a, b}, 1);
    expect_values(y.value(), {2, 2}, {1, 3, 2, 4});
    y.backward(f64({10, 20, 30, 40}, {2, 2}));
    expect_values(a.grad(), {2}, {10, 30});
    expect_values(b.grad(), {2}, {20, 40});
  }
  SUBCASE("split: an unused piece gets zero gradient") {
    const Variable x = leaf({1, 2, 3, 4, 5}, {5});
    const auto pieces = split(x, 2);
    REQUIRE(pieces.size() == 3);
    expect_values(pieces[2].value(), {1}, {5});
    (sum(pieces[0]) + sum(pieces[2]) * 3.0).backward();
    expect_values(x.grad(), {5}, {1, 1, 0, 0, 3});
  }
  SUBCASE("where and masked_fill") {
    const Variable a = leaf({1, 2, 3}, {3});
    const Variable b = leaf({4, 5, 6}, {3});
    const Tensor cond = gt(f64({1, 0, 1}, {3}), 0.5);
    const Variable y = where(cond, a, b);
    expect_values(y.value(), {3}, {1, 5, 3});
    const Variable z = masked_fill(y, cond, -1.0);
    expect_values(z.value(), {3}, {-1, 5, -1});
    sum(y + z * 10.0).backward();
    expect_values(a.grad(), {3}, {1, 0, 1});
    expect_values(b.grad(), {3}, {0, 11, 0});
  }
  SUBCASE("slice with step 2 and select") {
    const Variable x = leaf({1, 2, 3, 4, 5, 6}, {6});
    const Variable s = x.slice(0, 1, 6, 2);
    expect_values(s.value(), {3}, {2, 4, 6});
    (sum(s) + x.select(0, -1) * 5.0).backward();
    expect_values(x.grad(), {6}, {0, 1, 0, 1, 0, 6});
  }
  SUBCASE("transpose routes each gradient element to its source") {
    const Variable x = leaf({1, 2, 3, 4, 5, 6}, {2, 3});
    x.t().backward(f64({10, 40, 20, 50, 30, 60}, {3, 2}));
    expect_values(x.grad(), {2, 3}, {10, 20, 30, 40, 50, 60});
  }
}
