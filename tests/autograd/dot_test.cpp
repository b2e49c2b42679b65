// to_dot: the recorded graph as Graphviz DOT, with op names, shapes, and leaf names.
#include <string>

#include "autograd_test_util.h"

using namespace seqgrad;
using namespace seqgrad::testing;

namespace {
std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1))
    ++n;
  return n;
}
}  // namespace

TEST_CASE("dot: a small graph shows its ops, leaf names, shapes and edges") {
  Variable a(zeros({2, 3}, kFloat64), true);
  Variable b(ones({3}, kFloat64), true);
  a.set_name("weights");
  b.set_name("bias");
  Variable e = tanh(a * b + a);
  e.set_name("out");
  const std::string dot = to_dot(e);
  INFO(dot);
  CHECK(dot.rfind("digraph", 0) == 0);
  CHECK(dot.find("tanh") != std::string::npos);
  CHECK(dot.find("mul") != std::string::npos);
  CHECK(dot.find("add") != std::string::npos);
  CHECK(dot.find("weights") != std::string::npos);
  CHECK(dot.find("bias") != std::string::npos);
  CHECK(dot.find("out = tanh") != std::string::npos);  // the root carries its name
  CHECK(dot.find("[2, 3]") != std::string::npos);
  CHECK(dot.find("[3]") != std::string::npos);
  CHECK(dot.find("float64") != std::string::npos);
  // Three op nodes and two leaves; a is used twice but drawn once.
  CHECK(count(dot, "shape=ellipse") == 3);
  CHECK(count(dot, "shape=box") == 2);
  CHECK(count(dot, "weights") == 1);
  // Edges: a -> mul, b -> mul, mul -> add, a -> add, add -> tanh.
  CHECK(count(dot, "->") == 5);
  CHECK(dot.substr(dot.size() - 2) == "}\n");
}

TEST_CASE("dot: unnamed leaves are labelled 'leaf', constants are not drawn") {
  Variable x(ones({4}, kFloat64), true);
  const Variable c(ones({4}, kFloat64));
  const std::string dot = to_dot(sum(x * c));
  INFO(dot);
  CHECK(dot.find("leaf") != std::string::npos);
  CHECK(dot.find("sum") != std::string::npos);
  CHECK(count(dot, "shape=box") == 1);
  CHECK(count(dot, "->") == 2);
}

TEST_CASE("dot: a leaf on its own") {
  Variable x(ones({2, 2}, kFloat64), true);
  x.set_name("lonely");
  const std::string dot = to_dot(x);
  CHECK(dot.find("digraph") != std::string::npos);
  CHECK(dot.find("lonely") != std::string::npos);
  CHECK(dot.find("[2, 2]") != std::string::npos);
  CHECK(count(dot, "->") == 0);
}

TEST_CASE("dot: a shared subexpression is one node with two out-edges") {
  Variable x(ones({2}, kFloat64), true);
  const Variable y = exp(x);
  const std::string dot = to_dot(y * y + y);
  INFO(dot);
  CHECK(count(dot, "exp") == 1);
  // x -> exp, exp -> mul (twice: both operands), exp -> add, mul -> add.
  CHECK(count(dot, "->") == 5);
}

TEST_CASE("dot: a deep graph is walked without recursion") {
  Variable x(ones({1}, kFloat64), true);
  Variable y = x;
  for (int i = 0; i < 20000; ++i) y = y * 1.0;
  const std::string dot = to_dot(y);
  CHECK(count(dot, "shape=ellipse") == 20000);
}
