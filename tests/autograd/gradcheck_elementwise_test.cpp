// gradcheck for every elementwise op in autograd/functions.h: unary ops, binary ops (same shapes
// and broadcast), scalar variants, the operators, where and masked_fill.
#include <string>
#include <vector>

#include "autograd_test_util.h"

using namespace seqgrad;
using namespace seqgrad::testing;

namespace {

using Unary = Variable (*)(const Variable&);
using Binary = Variable (*)(const Variable&, const Variable&);

struct NamedUnary {
  const char* name;
  Unary fn;
};
struct NamedBinary {
  const char* name;
  Binary fn;
};

// The broadcast cases every binary op is checked on (first operand, second operand).
const std::vector<std::pair<Dims, Dims>> kShapePairs = {
    {{2, 3}, {2, 3}},  // same shape
    {{2, 3}, {3}},     // trailing vector
    {{3}, {2, 3}},     // the same, the other way round
    {{3, 1}, {1, 4}},  // both operands broadcast
    {{}, {2, 3}},      // 0-d with a matrix
    {{2, 3}, {}},      // matrix with a 0-d
    {{2, 1, 3}, {4, 1}},
};

}  // namespace

TEST_CASE("gradcheck: unary ops on generic inputs") {
  Generator gen(11);
  const std::vector<NamedUnary> ops = {
      {"neg", [](const Variable& x) { return neg(x); }},
      {"exp", [](const Variable& x) { return exp(x); }},
      {"tanh", [](const Variable& x) { return tanh(x); }},
      {"sigmoid", [](const Variable& x) { return sigmoid(x); }},
      {"pow 2", [](const Variable& x) { return pow(x, 2.0); }},
      {"pow 3", [](const Variable& x) { return pow(x, 3.0); }},
      {"operator-", [](const Variable& x) { return -x; }},
  };
  for (const Dims& shape : {Dims{2, 3}, Dims{}, Dims{5}}) {
    for (const NamedUnary& op : ops) {
      INFO(std::string(op.name), " on shape ", fmt::format("{}", shape));
      const auto r = run_gradchecks([&](const std::vector<Variable>& v) { return op.fn(v[0]); },
                                    {normal64(shape, gen)});
      CHECK_MESSAGE(r.ok, r.report);
    }
  }
}

TEST_CASE("gradcheck: abs and relu away from their kink at 0") {
  Generator gen(12);
  const Tensor x = away_from_zero64({3, 4}, gen);
  // The inputs do have both signs, so both branches of each rule are exercised.
  REQUIRE(sum(gt(x, 0.0).to(kFloat64)).item() > 0.0);
  REQUIRE(sum(lt(x, 0.0).to(kFloat64)).item() > 0.0);
  SUBCASE("abs") {
    const auto r = run_gradchecks([](const std::vector<Variable>& v) { return abs(v[0]); }, {x});
    CHECK_MESSAGE(r.ok, r.report);
  }
  SUBCASE("relu") {
    const auto r = run_gradchecks([](const std::vector<Variable>& v) { return relu(v[0]); }, {x});
    CHECK_MESSAGE(r.ok, r.report);
  }
}

TEST_CASE("gradcheck: log, sqrt and fractional pow on positive inputs") {
  Generator gen(13);
  const Tensor x = uniform64({2, 3}, 0.5, 2.0, gen);
  SUBCASE("log") {
    const auto r = run_gradchecks([](const std::vector<Variable>& v) { return log(v[0]); }, {x});
    CHECK_MESSAGE(r.ok, r.report);
  }
  SUBCASE("sqrt") {
    const auto r = run_gradchecks([](const std::vector<Variable>& v) { return sqrt(v[0]); }, {x});
    CHECK_MESSAGE(r.ok, r.report);
  }
  SUBCASE("pow 0.5") {
    const auto r =
        run_gradchecks([](const std::vector<Variable>& v) { return pow(v[0], 0.5); }, {x});
    CHECK_MESSAGE(r.ok, r.report);
  }
  SUBCASE("pow -1.5") {
    const auto r =
        run_gradchecks([](const std::vector<Variable>& v) { return pow(v[0], -1.5); }, {x});
    CHECK_MESSAGE(r.ok, r.report);
  }
}

TEST_CASE("gradcheck: clamp with elements below, inside and above the range") {
  Generator gen(14);
  const Tensor x = normal64({4, 5}, gen);
  REQUIRE(sum(lt(x, -0.5).to(kFloat64)).item() > 0.0);
  REQUIRE(sum(gt(x, 0.5).to(kFloat64)).item() > 0.0);
  REQUIRE(sum(logical_and(ge(x, -0.5), le(x, 0.5)).to(kFloat64)).item() > 0.0);
  const auto r =
      run_gradchecks([](const std::vector<Variable>& v) { return clamp(v[0], -0.5, 0.5); }, {x});
  CHECK_MESSAGE(r.ok, r.report);
}

TEST_CASE("gradcheck: binary ops, same shapes and broadcast") {
  Generator gen(15);
  const std::vector<NamedBinary> ops = {
      {"add", [](const Variable& a, const Variable& b) { return add(a, b); }},
      {"sub", [](const Variable& a, const Variable& b) { return sub(a, b); }},
      {"mul", [](const Variable& a, const Variable& b) { return mul(a, b); }},
      {"maximum", [](const Variable& a, const Variable& b) { return maximum(a, b); }},
      {"minimum", [](const Variable& a, const Variable& b) { return minimum(a, b); }},
      {"operator+", [](const Variable& a, const Variable& b) { return a + b; }},
      {"operator-", [](const Variable& a, const Variable& b) { return a - b; }},
      {"operator*", [](const Variable& a, const Variable& b) { return a * b; }},
  };
  for (const auto& [sa, sb] : kShapePairs) {
    for (const NamedBinary& op : ops) {
      INFO(std::string(op.name), " of ", fmt::format("{} and {}", sa, sb));
      // Continuous random draws: maximum/minimum never see a tie.
      const auto r =
          run_gradchecks([&](const std::vector<Variable>& v) { return op.fn(v[0], v[1]); },
                         {normal64(sa, gen), normal64(sb, gen)});
      CHECK_MESSAGE(r.ok, r.report);
    }
  }
}

TEST_CASE("gradcheck: division, same shapes and broadcast, denominator away from 0") {
  Generator gen(16);
  const std::vector<NamedBinary> ops = {
      {"div", [](const Variable& a, const Variable& b) { return div(a, b); }},
      {"operator/", [](const Variable& a, const Variable& b) { return a / b; }},
  };
  for (const auto& [sa, sb] : kShapePairs) {
    for (const NamedBinary& op : ops) {
      INFO(std::string(op.name), " of ", fmt::format("{} and {}", sa, sb));
      const auto r = run_gradchecks(
          [&](const std::vector<Variable>& v) { return op.fn(v[0], v[1]); },
          {normal64(sa, gen), uniform64(sb, 0.5, 1.5, gen) * sign(normal64(sb, gen))});
      CHECK_MESSAGE(r.ok, r.report);
    }
  }
}

TEST_CASE("gradcheck: binary ops where only one operand requires grad") {
  // The other operand is a constant Variable: the backward rules skip its slot.
  Generator gen(17);
  const Variable c(uniform64({3}, 0.5, 1.5, gen));
  const std::vector<NamedBinary> ops = {
      {"add", [](const Variable& a, const Variable& b) { return add(a, b); }},
      {"sub", [](const Variable& a, const Variable& b) { return sub(a, b); }},
      {"mul", [](const Variable& a, const Variable& b) { return mul(a, b); }},
      {"div", [](const Variable& a, const Variable& b) { return div(a, b); }},
      {"maximum", [](const Variable& a, const Variable& b) { return maximum(a, b); }},
      {"minimum", [](const Variable& a, const Variable& b) { return minimum(a, b); }},
  };
  const Tensor x = uniform64({2, 3}, 0.5, 1.5, gen) * sign(normal64({2, 3}, gen));
  for (const NamedBinary& op : ops) {
    INFO(std::string(op.name));
    const auto left =
        run_gradchecks([&](const std::vector<Variable>& v) { return op.fn(v[0], c); }, {x});
    CHECK_MESSAGE(left.ok, left.report);
    const auto right =
        run_gradchecks([&](const std::vector<Variable>& v) { return op.fn(c, v[0]); }, {x});
    CHECK_MESSAGE(right.ok, right.report);
  }
}

TEST_CASE("gradcheck: ops with a scalar, functions and operators") {
  Generator gen(18);
  const std::vector<NamedUnary> ops = {
      {"add(x, s)", [](const Variable& x) { return add(x, 2.5); }},
      {"mul(x, s)", [](const Variable& x) { return mul(x, -1.5); }},
      {"rsub", [](const Variable& x) { return rsub(x, 2.5); }},
      {"rdiv", [](const Variable& x) { return rdiv(x, 2.5); }},
      {"x + s", [](const Variable& x) { return x + 2.5; }},
      {"x - s", [](const Variable& x) { return x - 2.5; }},
      {"x * s", [](const Variable& x) { return x * -1.5; }},
      {"x / s", [](const Variable& x) { return x / -1.5; }},
      {"s + x", [](const Variable& x) { return 2.5 + x; }},
      {"s - x", [](const Variable& x) { return 2.5 - x; }},
      {"s * x", [](const Variable& x) { return -1.5 * x; }},
      {"s / x", [](const Variable& x) { return 2.5 / x; }},
  };
  const Tensor x = away_from_zero64({2, 3}, gen);  // s / x needs x away from 0
  for (const NamedUnary& op : ops) {
    INFO(std::string(op.name));
    const auto r = run_gradchecks([&](const std::vector<Variable>& v) { return op.fn(v[0]); }, {x});
    CHECK_MESSAGE(r.ok, r.report);
  }
}

TEST_CASE("gradcheck: where, same shapes and broadcast") {
  Generator gen(19);
  SUBCASE("same shapes") {
    const Tensor cond = gt(normal64({3, 4}, gen), 0.0);
    const auto r =
        run_gradchecks([&](const std::vector<Variable>& v) { return where(cond, v[0], v[1]); },
                       {normal64({3, 4}, gen), normal64({3, 4}, gen)});
    CHECK_MESSAGE(r.ok, r.report);
  }
  SUBCASE("operands broadcast to the condition") {
    const Tensor cond = gt(normal64({3, 4}, gen), 0.0);
    const auto r =
        run_gradchecks([&](const std::vector<Variable>& v) { return where(cond, v[0], v[1]); },
                       {normal64({4}, gen), normal64({}, gen)});
    CHECK_MESSAGE(r.ok, r.report);
  }
  SUBCASE("condition broadcast to the operands") {
    const Tensor cond = gt(normal64({4}, gen), 0.0);
    const auto r =
        run_gradchecks([&](const std::vector<Variable>& v) { return where(cond, v[0], v[1]); },
                       {normal64({3, 4}, gen), normal64({3, 1}, gen)});
    CHECK_MESSAGE(r.ok, r.report);
  }
}

TEST_CASE("gradcheck: masked_fill with a full and a broadcast mask") {
  Generator gen(20);
  SUBCASE("full mask") {
    const Tensor mask = gt(normal64({3, 4}, gen), 0.0);
    const auto r = run_gradchecks(
        [&](const std::vector<Variable>& v) { return masked_fill(v[0], mask, -7.0); },
        {normal64({3, 4}, gen)});
    CHECK_MESSAGE(r.ok, r.report);
  }
  SUBCASE("broadcast mask") {
    const Tensor mask = gt(f64({1, 0, 0, 1}, {4}), 0.5);
    const auto r =
        run_gradchecks([&](const std::vector<Variable>& v) { return masked_fill(v[0], mask, 3.0); },
                       {normal64({3, 4}, gen)});
    CHECK_MESSAGE(r.ok, r.report);
  }
}

TEST_CASE("gradcheck: composite expressions that reuse their inputs") {
  Generator gen(21);
  SUBCASE("x * x, x + x, x / x") {
    const auto r = run_gradchecks(
        [](const std::vector<Variable>& v) {
          const Variable& x = v[0];
          return x * x + (x + x) * 3.0 + x / x;
        },
        {away_from_zero64({2, 3}, gen)});
    CHECK_MESSAGE(r.ok, r.report);
  }
  SUBCASE("a small network-like expression with broadcasting") {
    const auto r = run_gradchecks(
        [](const std::vector<Variable>& v) {
          const Variable h = tanh(v[0] * v[1] + exp(v[2]));
          return sigmoid(h) / (1.0 + h * h) - relu(v[0]);
        },
        {away_from_zero64({2, 3}, gen), normal64({3}, gen), normal64({2, 1}, gen)});
    CHECK_MESSAGE(r.ok, r.report);
  }
}
