// Printing tensors, shapes and dtypes through fmt.
#include <limits>
#include <string>

#include "helpers.h"

using namespace seqgrad;

namespace {
bool has_text(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}
}  // namespace

TEST_CASE("format: a small float32 matrix shows values, shape and dtype") {
  const std::string s = fmt::format("{}", tensor({1, 2, 3, 4}, {2, 2}));
  CHECK(has_text(s, "1.0000"));
  CHECK(has_text(s, "2.0000"));
  CHECK(has_text(s, "3.0000"));
  CHECK(has_text(s, "4.0000"));
  CHECK(has_text(s, "shape=[2, 2]"));
  CHECK(has_text(s, "dtype=float32"));
  CHECK_FALSE(has_text(s, "..."));
  CHECK(s ==
        "tensor([[1.0000, 2.0000],\n"
        "        [3.0000, 4.0000]], shape=[2, 2], dtype=float32)");
  CHECK(to_string(tensor({1, 2, 3, 4}, {2, 2})) == s);
}

TEST_CASE("format: dtypes, scalars, right alignment") {
  CHECK(fmt::format("{}", tensor({1, -2, 3}, {}, kInt64)) ==
        "tensor([ 1, -2,  3], shape=[3], dtype=int64)");
  CHECK(fmt::format("{}", tensor({1, 0}, {}, kBool)) ==
        "tensor([ True, False], shape=[2], dtype=bool)");
  CHECK(fmt::format("{}", scalar_tensor(2.5)) == "tensor(2.5000, shape=[], dtype=float32)");
  CHECK(fmt::format("{}", tensor({-1.5, 10}, {}, kFloat64)) ==
        "tensor([-1.5000, 10.0000], shape=[2], dtype=float64)");
  CHECK(fmt::format("{}", zeros({0, 3})) == "tensor([], shape=[0, 3], dtype=float32)");
  CHECK(fmt::format("{}", Tensor()) == "tensor(undefined)");
}

TEST_CASE("format: views print their logical elements") {
  Tensor x = tensor({1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK(fmt::format("{}", x.t()) ==
        "tensor([[1.0000, 4.0000],\n"
        "        [2.0000, 5.0000],\n"
        "        [3.0000, 6.0000]], shape=[3, 2], dtype=float32)");
  CHECK(fmt::format("{}", x.select(1, 2)) == "tensor([3.0000, 6.0000], shape=[2], dtype=float32)");
  // 3-D: a blank line between the matrices.
  CHECK(fmt::format("{}", tensor({1, 2, 3, 4}, {2, 1, 2}, kInt64)) ==
        "tensor([[[1, 2]],\n"
        "\n"
        "        [[3, 4]]], shape=[2, 1, 2], dtype=int64)");
}

TEST_CASE("format: special values and exponent notation") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  const std::string s = fmt::format("{}", tensor({nan, inf, -inf, 1}));
  CHECK(has_text(s, "nan"));
  CHECK(has_text(s, "inf"));
  CHECK(has_text(s, "-inf"));
  CHECK(has_text(s, "1.0000"));
  // Tiny next to ordinary values: fixed notation would show 0.0000.
  const std::string e = fmt::format("{}", tensor({1e-5, 1}, {}, kFloat64));
  CHECK(has_text(e, "1.0000e-05"));
  CHECK(has_text(e, "1.0000e+00"));
  CHECK(has_text(fmt::format("{}", tensor({3e9}, {}, kFloat64)), "3.0000e+09"));
}

TEST_CASE("format: large tensors are summarised with ...") {
  const std::string s = fmt::format("{}", arange(0.0, 2000.0, 1.0, kFloat32));
  CHECK(has_text(s, "..."));
  CHECK(has_text(s, "0.0000"));
  CHECK(has_text(s, "2.0000"));
  CHECK(has_text(s, "1997.0000"));
  CHECK(has_text(s, "1999.0000"));
  CHECK_FALSE(has_text(s, "3.0000,"));
  CHECK_FALSE(has_text(s, "1000.0000"));
  CHECK(has_text(s, "shape=[2000]"));
  CHECK(s.size() < 200);

  const std::string m = fmt::format("{}", arange(0.0, 10000.0, 1.0, kInt64).view({100, 100}));
  CHECK(has_text(m, "..."));
  CHECK(has_text(m, "9999"));
  CHECK(has_text(m, "shape=[100, 100]"));
  CHECK(has_text(m, "dtype=int64"));
  CHECK_FALSE(has_text(m, "5050"));
  CHECK(m.size() < 600);

  // Exactly at the limit (1000 elements) nothing is elided.
  CHECK_FALSE(has_text(fmt::format("{}", zeros({1000})), "..."));
}

TEST_CASE("format: Dims and DType") {
  CHECK(fmt::format("{}", Dims{2, 3}) == "[2, 3]");
  CHECK(fmt::format("{}", Dims{}) == "[]");
  CHECK(fmt::format("{}", kFloat64) == "float64");
  CHECK(fmt::format("{}", kBool) == "bool");
  CHECK(std::string(dtype_name(kInt64)) == "int64");
  CHECK(itemsize(kFloat32) == 4);
  CHECK(itemsize(kFloat64) == 8);
  CHECK(itemsize(kInt64) == 8);
  CHECK(itemsize(kBool) == 1);
}
