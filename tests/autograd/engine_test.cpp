// The backward engine and Variable's autograd state: deep graphs, accumulation, shared inputs,
// retain_graph, seeds, detach, NoGradGuard, zero_grad, requires_grad_, the ownership of leaf
// gradients, in-place updates, and custom ops recorded with seqgrad::record.
#include <string>
#include <thread>
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

// --- deep graphs ---------------------------------------------------------------------------------

TEST_CASE("engine: a 10,000-step chain runs backward without recursion and is exact") {
  const Variable x = scalar_leaf(1.0);
  Variable y = x;
  for (int i = 0; i < 10000; ++i) y = y * 1.0001 + 0.0;  // 20,000 nodes
  // y = 1.0001^10000 = exp(10000 * log1p(1e-4)) = 2.718145926825225 (and so is dy/dx)
  CHECK(y.item() == doctest::Approx(2.718145926825225).epsilon(1e-9));
  y.backward();
  CHECK(x.grad().item() == doctest::Approx(2.718145926825225).epsilon(1e-9));
}

TEST_CASE("engine: a 10,000-step tanh chain of alternating scales has gradient tanh' product") {
  // Every step is tanh(z) with z = 0 exactly (x = 0), so each factor is tanh'(0) = 1.
  const Variable x = scalar_leaf(0.0);
  Variable y = x;
  for (int i = 0; i < 10000; ++i) y = tanh(y * (i % 2 == 0 ? 2.0 : 0.5));
  y.backward();
  CHECK(x.grad().item() == doctest::Approx(1.0));  // (2 * 0.5)^5000 * 1^10000
}

TEST_CASE("engine: destroying a 100,000-node graph does not overflow the stack") {
  const Variable x = scalar_leaf(1.0);
  SUBCASE("never run backward") {
    Variable y = x;
    for (int i = 0; i < 100000; ++i) y = y + 1.0;
    CHECK(y.item() == doctest::Approx(100001.0));
    y = Variable();  // the whole chain goes here
    CHECK_FALSE(y.defined());
  }
  SUBCASE("after backward, with the leaf used at every step") {
    Variable y = x;
    for (int i = 0; i < 100000; ++i) y = y * 1.0 + x;
    y.backward();
    CHECK(x.grad().item() == doctest::Approx(100001.0));
  }
  SUBCASE("after backward with retain_graph") {
    Variable y = x;
    for (int i = 0; i < 100000; ++i) y = exp(y * 0.0);  // every step: exp(0) = 1, slope 0
    y.backward({}, /*retain_graph=*/true);
    CHECK(y.item() == doctest::Approx(1.0));
    CHECK(x.grad().item() == doctest::Approx(0.0));
  }
  CHECK(x.is_leaf());  // and the leaf is untouched by the teardown
}

// --- accumulation and shared inputs -------------------------------------------------------------

TEST_CASE("engine: gradients accumulate into leaves across backward() calls") {
  const Variable x = leaf({1, -2, 3}, {3});
  sum(x * x).backward();
  expect_values(x.grad(), {3}, {2, -4, 6});
  sum(x * x).backward();
  expect_values(x.grad(), {3}, {4, -8, 12});
}

TEST_CASE("engine: a variable used several times gets the sum of its contributions") {
  const Variable x = leaf({1, -2, 3}, {3});
  SUBCASE("x * x") {
    sum(x * x).backward();
    expect_values(x.grad(), {3}, {2, -4, 6});
  }
  SUBCASE("x + x") {
    sum(x + x).backward();
    expect_values(x.grad(), {3}, {2, 2, 2});
  }
  SUBCASE("x - x has gradient 0") {
    sum(x - x).backward();
    expect_values(x.grad(), {3}, {0, 0, 0});
  }
  SUBCASE("a diamond: y = exp(x), z = y * y + y at x = log 2 gives (2y + 1) y = 10") {
    const Variable s = scalar_leaf(0.6931471805599453);
    const Variable y = exp(s);
    (y * y + y).backward();
    CHECK(s.grad().item() == doctest::Approx(10.0));
  }
  SUBCASE("x used in two branches of different depth") {
    const Variable a = x * 2.0;
    const Variable b = (a * 3.0) * 4.0 + x;  // d/dx = 24 + 1
    sum(a + b).backward();                   // + 2
    expect_values(x.grad(), {3}, {27, 27, 27});
  }
}

TEST_CASE("engine: only inputs that require grad receive one") {
  const Variable x = leaf({1, 2}, {2});
  const Variable c(f64({3, 4}, {2}));  // a constant
  const Variable unused = leaf({5, 6}, {2});
  const Variable y = x * c;
  CHECK(y.requires_grad());
  CHECK_FALSE(y.is_leaf());
  sum(y).backward();
  expect_values(x.grad(), {2}, {3, 4});
  CHECK_FALSE(c.grad().defined());
  CHECK_FALSE(unused.grad().defined());
  // An op whose inputs need no grad records nothing.
  const Variable k = c * c;
  CHECK_FALSE(k.requires_grad());
  CHECK(k.is_leaf());
  CHECK(k.grad_fn() == nullptr);
}

TEST_CASE("engine: gradients keep the dtype of float32 graphs") {
  const Variable x(tensor({1, 2, 3}, {3}), true);  // float32
  const Variable y = sum(tanh(x) * x);
  CHECK(y.dtype() == kFloat32);
  y.backward();
  REQUIRE(x.grad().defined());
  CHECK(x.grad().dtype() == kFloat32);
}

// --- retain_graph and freeing --------------------------------------------------------------------

TEST_CASE("engine: retain_graph allows a second backward, which accumulates") {
  const Variable x = leaf({1, -2, 3}, {3});
  const Variable z = sum(x * x);
  z.backward({}, /*retain_graph=*/true);
  expect_values(x.grad(), {3}, {2, -4, 6});
  z.backward();  // frees the graph this time
  expect_values(x.grad(), {3}, {4, -8, 12});
  CHECK_THROWS_WITH_AS(z.backward(), doctest::Contains("second time"), Error);
}

TEST_CASE("engine: without retain_graph a second backward throws") {
  const Variable x = leaf({1, 2}, {2});
  const Variable z = sum(exp(x));
  z.backward();
  CHECK_THROWS_WITH_AS(z.backward(), doctest::Contains("second time"), Error);
  CHECK_THROWS_WITH_AS(z.backward(), doctest::Contains("retain_graph"), Error);
  SUBCASE("also through a freed intermediate node shared by a new graph") {
    const Variable x2 = leaf({1, 2}, {2});
    const Variable shared = x2 * 3.0;
    sum(shared).backward();
    CHECK_THROWS_WITH_AS(sum(shared * 2.0).backward(), doctest::Contains("second time"), Error);
  }
}

TEST_CASE("engine: two roots sharing a subgraph (the first retains it)") {
  const Variable x = leaf({1, 2}, {2});
  const Variable y = x * x;
  const Variable a = sum(y);
  const Variable b = sum(y * 3.0);
  a.backward({}, /*retain_graph=*/true);
  b.backward();
  expect_values(x.grad(), {2}, {8, 16});  // 2x + 6x
}

// --- seeds ---------------------------------------------------------------------------------------

TEST_CASE("engine: non-scalar backward with an explicit gradient") {
  const Variable x = leaf({1, 2, 3, 4, 5, 6}, {2, 3});
  const Variable y = x * 2.0;
  y.backward(f64({1, 0, -1, 0.5, 2, 3}, {2, 3}));
  expect_values(x.grad(), {2, 3}, {2, 0, -2, 1, 4, 6});
}

TEST_CASE("engine: a one-element non-0-d output needs no explicit gradient") {
  const Variable x = leaf({3}, {1, 1});
  (x * x).backward();
  expect_values(x.grad(), {1, 1}, {6});
}

TEST_CASE("engine: bad seeds and roots throw") {
  const Variable x = leaf({1, 2, 3}, {3});
  SUBCASE("non-scalar backward without a gradient") {
    CHECK_THROWS_WITH_AS((x * 2.0).backward(), doctest::Contains("one-element"), Error);
    CHECK_THROWS_WITH_AS((x * 2.0).backward(), doctest::Contains("[3]"), Error);
  }
  SUBCASE("a gradient of the wrong shape") {
    CHECK_THROWS_WITH_AS((x * 2.0).backward(f64({1, 2}, {2})), doctest::Contains("[2]"), Error);
  }
  SUBCASE("a gradient of the wrong dtype") {
    CHECK_THROWS_WITH_AS((x * 2.0).backward(tensor({1, 2, 3}, {3})), doctest::Contains("float32"),
                         Error);
  }
  SUBCASE("a root that does not require grad") {
    const Variable c(f64({1, 2}, {2}));
    CHECK_THROWS_WITH_AS(sum(c).backward(), doctest::Contains("does not require grad"), Error);
    CHECK_THROWS_WITH_AS(c.backward(f64({1, 1}, {2})), doctest::Contains("does not require grad"),
                         Error);
  }
  SUBCASE("an undefined variable") { CHECK_THROWS_AS(Variable().backward(), Error); }
  CHECK_FALSE(x.grad().defined());  // none of these touched the leaf
}

TEST_CASE("engine: backward on a leaf accumulates the seed into its grad") {
  const Variable x = leaf({1, 2}, {2});
  const Tensor seed = f64({3, 4}, {2});
  x.backward(seed);
  expect_values(x.grad(), {2}, {3, 4});
  seed.fill_(0.0);  // the leaf's grad is its own copy, not the caller's tensor
  expect_values(x.grad(), {2}, {3, 4});
  scalar_leaf(5.0).backward();  // a 0-d leaf needs no seed
}

// --- detach, NoGradGuard, requires_grad_ ---------------------------------------------------------

TEST_CASE("engine: detach() cuts the graph but shares the value") {
  const Variable x = leaf({1, 2}, {2});
  const Variable y = x * 2.0;
  const Variable d = y.detach();
  CHECK_FALSE(d.requires_grad());
  CHECK(d.is_leaf());
  CHECK(d.value().storage() == y.value().storage());
  sum(d * 3.0 + x).backward();
  expect_values(x.grad(), {2}, {1, 1});  // nothing flows through d
}

TEST_CASE("engine: NoGradGuard stops recording and nested guards restore the state") {
  const Variable x = leaf({1, 2}, {2});
  REQUIRE(GradMode::is_enabled());
  {
    NoGradGuard outer;
    CHECK_FALSE(GradMode::is_enabled());
    const Variable y = x * 2.0;
    CHECK_FALSE(y.requires_grad());
    CHECK(y.is_leaf());
    expect_values(y.value(), {2}, {2, 4});
    {
      NoGradGuard inner;
      CHECK_FALSE(GradMode::is_enabled());
    }
    CHECK_FALSE(GradMode::is_enabled());  // the inner guard restores "off", not "on"
  }
  CHECK(GradMode::is_enabled());
  CHECK((x * 2.0).requires_grad());
}

TEST_CASE("engine: NoGradGuard restores grad mode when an exception unwinds it") {
  try {
    NoGradGuard guard;
    fail("boom");
  } catch (const Error&) {
  }
  CHECK(GradMode::is_enabled());
}

TEST_CASE("engine: backward inside a NoGradGuard still runs the recorded graph") {
  const Variable x = leaf({1, 2}, {2});
  const Variable y = sum(x * x);
  NoGradGuard no_grad;
  y.backward();
  expect_values(x.grad(), {2}, {2, 4});
}

TEST_CASE("engine: grad mode is per thread, and graphs can cross threads") {
  bool other_thread_enabled = false;
  bool other_thread_recorded = true;
  Variable built_elsewhere;
  const Variable x = leaf({1, 2}, {2});
  {
    NoGradGuard no_grad;  // on this thread only
    std::thread worker([&] {
      other_thread_enabled = GradMode::is_enabled();
      built_elsewhere = sum(x * x);  // recorded: grad mode is on in the worker
      {
        NoGradGuard inner;
        other_thread_recorded = (x * 2.0).requires_grad();
      }
    });
    worker.join();
    CHECK_FALSE(GradMode::is_enabled());
  }
  CHECK(other_thread_enabled);
  CHECK_FALSE(other_thread_recorded);
  REQUIRE(built_elsewhere.requires_grad());
  built_elsewhere.backward();  // run, and later freed, on the main thread
  expect_values(x.grad(), {2}, {2, 4});
}

TEST_CASE("engine: zero_grad clears the gradient, so the next backward starts afresh") {
  const Variable x = leaf({1, 2}, {2});
  sum(x * 5.0).backward();
  expect_values(x.grad(), {2}, {5, 5});
  x.zero_grad();
  CHECK_FALSE(x.grad().defined());
  sum(x * 2.0).backward();
  expect_values(x.grad(), {2}, {2, 2});
}

TEST_CASE("engine: requires_grad_ works on leaves only") {
  Variable x(f64({1, 2}, {2}));
  CHECK_FALSE(x.requires_grad());
  x.requires_grad_();
  CHECK(x.requires_grad());
  Variable y = x * 2.0;
  CHECK_THROWS_WITH_AS(y.requires_grad_(false), doctest::Contains("only leaves"), Error);
  CHECK_THROWS_WITH_AS(y.requires_grad_(false), doctest::Contains("mul"), Error);
  x.requires_grad_(false);
  CHECK_FALSE((x * 2.0).requires_grad());
}

// --- leaf gradients are owned, contiguous and unaliased ------------------------------------------

TEST_CASE("engine: leaf gradients are contiguous and never aliased") {
  SUBCASE("z = a + b: the two leaves get separate copies of gy") {
    const Variable a = leaf({1, 2, 3}, {3});
    const Variable b = leaf({4, 5, 6}, {3});
    const Tensor gy = f64({1, 1, 1}, {3});
    (a + b).backward(gy);
    a.grad().add_(1.0);
    expect_values(a.grad(), {3}, {2, 2, 2});
    expect_values(b.grad(), {3}, {1, 1, 1});
    expect_values(gy, {3}, {1, 1, 1});
    CHECK(a.grad().storage() != b.grad().storage());
  }
  SUBCASE("a gradient that arrives transposed is stored contiguous") {
    const Variable a = leaf({1, 2, 3, 4, 5, 6}, {2, 3});
    a.t().backward(f64({1, 2, 3, 4, 5, 6}, {3, 2}));
    CHECK(a.grad().is_contiguous());
    expect_values(a.grad(), {2, 3}, {1, 3, 5, 2, 4, 6});
  }
  SUBCASE("a gradient that arrives expanded is stored contiguous") {
    const Variable a = leaf({1, 2}, {2, 1});
    sum(a.expand({2, 3}) * 2.0).backward();
    CHECK(a.grad().is_contiguous());
    expect_values(a.grad(), {2, 1}, {6, 6});
  }
  SUBCASE("a gradient that is a slice of a larger tensor is stored on its own") {
    const Variable a = leaf({1, 2}, {2});
    const Variable b = leaf({3, 4, 5}, {3});
    cat({a, b}).backward(f64({1, 2, 3, 4, 5}, {5}));
    CHECK(a.grad().is_contiguous());
    CHECK(a.grad().storage()->nbytes() == 2 * sizeof(double));
    b.grad().fill_(0.0);
    expect_values(a.grad(), {2}, {1, 2});
  }
  SUBCASE("the same leaf twice in add: the accumulated grad is not the node's gy") {
    const Variable a = leaf({1, 2}, {2});
    const Variable y = a + a;
    y.backward(f64({1, 1}, {2}), /*retain_graph=*/true);
    expect_values(a.grad(), {2}, {2, 2});
    y.backward(f64({1, 1}, {2}));
    expect_values(a.grad(), {2}, {4, 4});
  }
}

// --- in-place updates of Variables ---------------------------------------------------------------

TEST_CASE("engine: in-place Variable ops throw under grad mode for variables requiring grad") {
  const Variable x = leaf({1, 2}, {2});
  CHECK_THROWS_WITH_AS(x.fill_(0.0), doctest::Contains("fill_"), Error);
  CHECK_THROWS_WITH_AS(x.zero_(), doctest::Contains("NoGradGuard"), Error);
  CHECK_THROWS_WITH_AS(x.copy_(f64({3, 4}, {2})), doctest::Contains("copy_"), Error);
  CHECK_THROWS_WITH_AS(x.add_(f64({3, 4}, {2})), doctest::Contains("add_"), Error);
  CHECK_THROWS_WITH_AS(x.mul_(2.0), doctest::Contains("mul_"), Error);
  expect_values(x.value(), {2}, {1, 2});  // untouched
}

TEST_CASE("engine: in-place Variable ops work under NoGradGuard and on constants") {
  const Variable x = leaf({1, 2}, {2});
  {
    NoGradGuard no_grad;
    x.add_(f64({1, 1}, {2}), 2.0);  // [3, 4]
    expect_values(x.value(), {2}, {3, 4});
    x.mul_(2.0);  // [6, 8]
    expect_values(x.value(), {2}, {6, 8});
    x.copy_(f64({-1, 1}, {2}));
    expect_values(x.value(), {2}, {-1, 1});
    x.zero_();
    expect_values(x.value(), {2}, {0, 0});
    x.fill_(7.0);
  }
  expect_values(x.value(), {2}, {7, 7});
  CHECK(x.requires_grad());
  const Variable c(f64({1, 2}, {2}));  // needs no grad: allowed with grad mode on
  c.mul_(3.0);
  expect_values(c.value(), {2}, {3, 6});
}

TEST_CASE("engine: an SGD-style loop (backward, update under NoGradGuard, zero_grad)") {
  // Minimises (w - 3)^2 from w = 0 with step 0.25: w_{k+1} = w_k - 0.5 (w_k - 3), so the distance
  // to 3 halves every step: 3, 1.5, 0.75, ...
  const Variable w = scalar_leaf(0.0);
  const std::vector<double> expected = {1.5, 2.25, 2.625, 2.8125};
  for (double want : expected) {
    const Variable d = w - 3.0;
    (d * d).backward();
    {
      NoGradGuard no_grad;
      w.add_(w.grad(), -0.25);
    }
    w.zero_grad();
    CHECK(w.item() == doctest::Approx(want));
  }
}

// --- custom ops ----------------------------------------------------------------------------------

TEST_CASE("engine: custom ops recorded with record and record_many") {
  const Variable x = leaf({1, 2, 3}, {3});
  SUBCASE("record: y = 3x") {
    const Variable y = record("triple", x.value() * 3.0, {x},
                              [](const Tensor& gy, GradSlots& dx) { dx[0] += gy * 3.0; });
    CHECK(y.grad_fn() != nullptr);
    CHECK(std::string(y.grad_fn()->op) == "triple");
    sum(y).backward();
    expect_values(x.grad(), {3}, {3, 3, 3});
  }
  SUBCASE("record_many: y = x0 + 2 x1 + 3 x2") {
    const Variable b = leaf({1, 1, 1}, {3});
    const Variable c(f64({0, 0, 0}, {3}));  // a constant: its slot is not needed
    const Variable y = record_many("weighted", x.value() + b.value() * 2.0, {x, b, c},
                                   [](const Tensor& gy, GradSlots& dx) {
                                     CHECK(dx.needed(0));
                                     CHECK(dx.needed(1));
                                     CHECK_FALSE(dx.needed(2));
                                     for (int i = 0; i < 3; ++i)
                                       dx[i] += gy * static_cast<double>(i + 1);
                                   });
    sum(y).backward();
    expect_values(x.grad(), {3}, {1, 1, 1});
    expect_values(b.grad(), {3}, {2, 2, 2});
    CHECK_FALSE(c.grad().defined());
  }
  SUBCASE("under NoGradGuard record makes no node and never calls backward") {
    NoGradGuard no_grad;
    const Variable y = record("never", x.value() * 3.0, {x},
                              [](const Tensor&, GradSlots&) { FAIL("backward was called"); });
    CHECK_FALSE(y.requires_grad());
    CHECK(y.grad_fn() == nullptr);
  }
}

TEST_CASE("engine: a custom op whose gradient has the wrong shape throws naming it") {
  // [2, 3] and [3, 2] have the same number of elements: the engine must not silently reshape.
  const Variable x(f64({1, 2, 3, 4, 5, 6}, {2, 3}), true);
  const Variable y = record("bad_transpose_grad", x.value() * 1.0, {x},
                            [](const Tensor& gy, GradSlots& dx) { dx[0] += gy.t(); });
  CHECK_THROWS_WITH_AS(sum(y).backward(), doctest::Contains("bad_transpose_grad"), Error);
}

TEST_CASE("engine: a custom op whose gradient has the wrong dtype throws naming it") {
  const Variable x(f64({1, 2}, {2}), true);
  const Variable y = record("bad_dtype_grad", x.value() * 1.0, {x},
                            [](const Tensor& gy, GradSlots& dx) { dx[0] += gy.to(kFloat32); });
  CHECK_THROWS_WITH_AS(sum(y).backward(), doctest::Contains("bad_dtype_grad"), Error);
}

TEST_CASE("engine: a backward that fails half-way leaves no stale gradient behind") {
  // z = tanh(x) feeds both the root and a custom op whose backward throws. By the time the bad
  // node runs, tanh's node has already received a gradient from the add; a later, valid backward
  // through tanh must not see that leftover.
  const Variable x = scalar_leaf(0.0);
  const Variable z = tanh(x);
  const Variable bad = record("bad", z.value() * 1.0, {z}, [](const Tensor&, GradSlots&) {
    fail("bad: backward deliberately fails");
  });
  const Variable out = z + bad;
  CHECK_THROWS_WITH_AS(out.backward(), doctest::Contains("deliberately"), Error);
  CHECK_FALSE(x.grad().defined());
  (z * 1.0).backward();
  CHECK(x.grad().item() == doctest::Approx(1.0));  // tanh'(0) = 1, counted once
}

// --- ops with several outputs -------------------------------------------------------------------

// min_and_max(a, b) = (min(a, b), max(a, b)) elementwise for x = [a; b]: two outputs of one node.
// Each output's gradient goes to the input that was smaller or larger; written out by hand below.
namespace {
std::vector<Variable> min_and_max(const Variable& a, const Variable& b) {
  const Tensor lo = minimum(a.value(), b.value()), hi = maximum(a.value(), b.value());
  const Tensor a_low = le(a.value(), b.value()).to(a.dtype());  // 1 where a is the min
  return record_outputs("minmax", {lo, hi}, {a, b},
                        [a_low](std::span<const Tensor> gys, GradSlots& dx) {
                          CHECK(gys.size() == 2);
                          const Tensor b_low = 1.0 - a_low;
                          dx[0] += gys[0] * a_low + gys[1] * b_low;
                          dx[1] += gys[0] * b_low + gys[1] * a_low;
                        });
}
}  // namespace

TEST_CASE("engine: a node with several outputs") {
  const Variable a = leaf({1, 5, 3}, {3}), b = leaf({4, 2, 3}, {3});
  const auto out = min_and_max(a, b);
  REQUIRE(out.size() == 2);
  CHECK(out[0].grad_fn() == out[1].grad_fn());  // one node
  CHECK(out[0].output_nr() == 0);
  CHECK(out[1].output_nr() == 1);
  expect_values(out[0].value(), {3}, {1, 2, 3});
  expect_values(out[1].value(), {3}, {4, 5, 3});
  SUBCASE("both outputs reach the loss: L = sum(lo) + 10 sum(hi)") {
    // Where a < b, a is lo (gradient 1) and b is hi (10); where a > b the other way; on the tie
    // (index 2) a counts as the min.
    (sum(out[0]) + sum(out[1]) * 10.0).backward();
    expect_values(a.grad(), {3}, {1, 10, 1});
    expect_values(b.grad(), {3}, {10, 1, 10});
  }
  SUBCASE("one output unused: its gradient arrives as zeros") {
    sum(out[1]).backward();
    expect_values(a.grad(), {3}, {0, 1, 0});
    expect_values(b.grad(), {3}, {1, 0, 1});
  }
  SUBCASE("the same output used twice, through other ops") {
    (sum(out[0] * out[0]) + sum(exp(out[1]) * 0.0)).backward();  // d(lo^2) = 2 lo
    expect_values(a.grad(), {3}, {2, 0, 6});
    expect_values(b.grad(), {3}, {0, 4, 0});
  }
  SUBCASE("the graph shows one node with two outputs and labelled edges") {
    const std::string dot = to_dot(out[0] + out[1] * 2.0);
    CHECK(dot.find("minmax\\n[3], [3]") != std::string::npos);
    CHECK(dot.find("[label=\"1\"]") != std::string::npos);
  }
  SUBCASE("gradcheck of both outputs") {
    const auto r = run_gradcheck(
        [](const std::vector<Variable>& v) {
          const auto o = min_and_max(v[0], v[1]);
          return cat({o[0], o[1] * 3.0}, 0);
        },
        {f64({1, 5, 3.5}, {3}), f64({4, 2, 3}, {3})});
    CHECK_MESSAGE(r.ok, r.report);
  }
}
