// gradcheck for the matrix products (matmul in all its rank combinations, mm, bmm, transposed
// operands) and for joining and indexing (cat, stack, split, chunk, index_select, gather).
#include <string>
#include <vector>

#include "autograd_test_util.h"

using namespace seqgrad;
using namespace seqgrad::testing;

TEST_CASE("gradcheck: matmul for every rank combination") {
  Generator gen(51);
  const std::vector<std::pair<Dims, Dims>> shapes = {
      {{4}, {4}},                 // 1-D . 1-D: a dot product, 0-d result
      {{2, 3}, {3, 4}},           // 2-D x 2-D
      {{3}, {3, 4}},              // 1-D x 2-D: a row vector
      {{2, 3}, {3}},              // 2-D x 1-D: a column vector
      {{2, 2, 3}, {2, 3, 4}},     // batched 3-D
      {{2, 2, 3}, {3, 4}},        // 3-D x 2-D: the matrix broadcasts over the batch
      {{2, 3}, {2, 3, 4}},        // 2-D x 3-D
      {{2, 1, 2, 3}, {3, 3, 2}},  // batch dims broadcast both ways
      {{3}, {2, 3, 4}},           // 1-D x 3-D
      {{2, 2, 3}, {3}},           // 3-D x 1-D
      {{1, 1}, {1, 1}},
  };
  for (const auto& [sa, sb] : shapes) {
    INFO(fmt::format("{} @ {}", sa, sb));
    const auto r = run_gradchecks([](const std::vector<Variable>& v) { return matmul(v[0], v[1]); },
                                  {normal64(sa, gen), normal64(sb, gen)});
    CHECK_MESSAGE(r.ok, r.report);
  }
}

TEST_CASE("gradcheck: matmul with transposed (non-contiguous) operands") {
  Generator gen(52);
  SUBCASE("a^T @ b") {
    const auto r =
        run_gradchecks([](const std::vector<Variable>& v) { return matmul(v[0].t(), v[1]); },
                       {normal64({3, 2}, gen), normal64({3, 4}, gen)});
    CHECK_MESSAGE(r.ok, r.report);
  }
  SUBCASE("a @ b^T") {
    const auto r =
        run_gradchecks([](const std::vector<Variable>& v) { return matmul(v[0], v[1].t()); },
                       {normal64({2, 3}, gen), normal64({4, 3}, gen)});
    CHECK_MESSAGE(r.ok, r.report);
  }
  SUBCASE("a^T @ b^T") {
    const auto r =
        run_gradchecks([](const std::vector<Variable>& v) { return matmul(v[0].t(), v[1].t()); },
                       {normal64({3, 2}, gen), normal64({4, 3}, gen)});
    CHECK_MESSAGE(r.ok, r.report);
  }
  SUBCASE("batched, transposed last two dims") {
    const auto r = run_gradchecks(
        [](const std::vector<Variable>& v) {
          return matmul(v[0].transpose(1, 2), v[1].transpose(-1, -2));
        },
        {normal64({2, 3, 2}, gen), normal64({2, 4, 3}, gen)});
    CHECK_MESSAGE(r.ok, r.report);
  }
  SUBCASE("a strided slice as operand") {
    const auto r = run_gradchecks(
        [](const std::vector<Variable>& v) { return matmul(v[0].slice(1, 0, 6, 2), v[1]); },
        {normal64({2, 6}, gen), normal64({3, 2}, gen)});
    CHECK_MESSAGE(r.ok, r.report);
  }
  SUBCASE("the same variable on both sides: x^T x") {
    const auto r =
        run_gradchecks([](const std::vector<Variable>& v) { return matmul(v[0].t(), v[0]); },
                       {normal64({3, 2}, gen)});
    CHECK_MESSAGE(r.ok, r.report);
  }
}

TEST_CASE("gradcheck: mm and bmm") {
  Generator gen(53);
  SUBCASE("mm") {
    const auto r = run_gradchecks([](const std::vector<Variable>& v) { return mm(v[0], v[1]); },
                                  {normal64({2, 3}, gen), normal64({3, 4}, gen)});
    CHECK_MESSAGE(r.ok, r.report);
  }
  SUBCASE("mm with a transposed operand") {
    const auto r = run_gradchecks([](const std::vector<Variable>& v) { return mm(v[0], v[1].t()); },
                                  {normal64({2, 3}, gen), normal64({4, 3}, gen)});
    CHECK_MESSAGE(r.ok, r.report);
  }
  SUBCASE("bmm") {
    const auto r = run_gradchecks([](const std::vector<Variable>& v) { return bmm(v[0], v[1]); },
                                  {normal64({3, 2, 4}, gen), normal64({3, 4, 2}, gen)});
    CHECK_MESSAGE(r.ok, r.report);
  }
  SUBCASE("bmm with transposed operands") {
    const auto r = run_gradchecks(
        [](const std::vector<Variable>& v) { return bmm(v[0].transpose(1, 2), v[1]); },
        {normal64({2, 4, 3}, gen), normal64({2, 4, 2}, gen)});
    CHECK_MESSAGE(r.ok, r.report);
  }
}

TEST_CASE("gradcheck: cat along each dim, with pieces of different sizes") {
  Generator gen(54);
  SUBCASE("dim 0") {
    const auto r = run_gradchecks(
        [](const std::vector<Variable>& v) {
          return cat({v[0], v[1], v[2]}, 0);
        },
        {normal64({1, 3}, gen), normal64({2, 3}, gen), normal64({3, 3}, gen)});
    CHECK_MESSAGE(r.ok, r.report);
  }
  SUBCASE("dim 1") {
    const auto r = run_gradchecks(
        [](const std::vector<Variable>& v) {
          return cat({v[0], v[1]}, 1);
        },
        {normal64({2, 1}, gen), normal64({2, 3}, gen)});
    CHECK_MESSAGE(r.ok, r.report);
  }
  SUBCASE("dim -1 of 3-D") {
    const auto r = run_gradchecks(
        [](const std::vector<Variable>& v) {
          return cat({v[0], v[1]}, -1);
        },
        {normal64({2, 2, 1}, gen), normal64({2, 2, 2}, gen)});
    CHECK_MESSAGE(r.ok, r.report);
  }
  SUBCASE("the same variable twice, and a constant") {
    const Variable c(normal64({2, 2}, gen));
    const auto r = run_gradchecks(
        [&](const std::vector<Variable>& v) {
          return cat({v[0], c, v[0] * 2.0}, 1);
        },
        {normal64({2, 3}, gen)});
    CHECK_MESSAGE(r.ok, r.report);
  }
}

TEST_CASE("gradcheck: stack along each dim") {
  Generator gen(55);
  for (const std::int64_t dim : {0, 1, 2, -1, -3}) {
    INFO("dim ", dim);
    const auto r = run_gradchecks(
        [&](const std::vector<Variable>& v) {
          return stack({v[0], v[1], v[2]}, dim);
        },
        {normal64({2, 3}, gen), normal64({2, 3}, gen), normal64({2, 3}, gen)});
    CHECK_MESSAGE(r.ok, r.report);
  }
}

TEST_CASE("gradcheck: split and chunk, even and uneven") {
  Generator gen(56);
  // The pieces are weighted differently so a gradient routed to the wrong piece shows.
  auto weighted = [](const std::vector<Variable>& pieces, std::int64_t dim) {
    std::vector<Variable> scaled;
    for (std::size_t i = 0; i < pieces.size(); ++i)
      scaled.push_back(pieces[i] * static_cast<double>(i + 1));
    return cat(scaled, dim);
  };
  SUBCASE("split even") {
    const auto r = run_gradchecks(
        [&](const std::vector<Variable>& v) {
          const auto pieces = split(v[0], 2, 0);
          REQUIRE(pieces.size() == 3);
          return weighted(pieces, 0);
        },
        {normal64({6, 2}, gen)});
    CHECK_MESSAGE(r.ok, r.report);
  }
  SUBCASE("split uneven along the last dim") {
    const auto r = run_gradchecks(
        [&](const std::vector<Variable>& v) {
          const auto pieces = split(v[0], 2, -1);
          REQUIRE(pieces.size() == 3);  // 2, 2, 1
          return weighted(pieces, -1);
        },
        {normal64({2, 5}, gen)});
    CHECK_MESSAGE(r.ok, r.report);
  }
  SUBCASE("chunk") {
    const auto r = run_gradchecks(
        [&](const std::vector<Variable>& v) {
          const auto pieces = chunk(v[0], 3, 1);
          REQUIRE(pieces.size() == 3);  // 3, 3, 1
          return weighted(pieces, 1);
        },
        {normal64({2, 7}, gen)});
    CHECK_MESSAGE(r.ok, r.report);
  }
  SUBCASE("only some pieces used") {
    const auto r = run_gradchecks(
        [&](const std::vector<Variable>& v) {
          const auto pieces = chunk(v[0], 2, 0);
          return pieces[1] * pieces[1];
        },
        {normal64({4, 3}, gen)});
    CHECK_MESSAGE(r.ok, r.report);
  }
}

TEST_CASE("gradcheck: index_select with repeated indices") {
  Generator gen(57);
  SUBCASE("dim 0") {
    const Tensor index = i64({0, 2, 0, 3, 2}, {5});
    const auto r = run_gradchecks(
        [&](const std::vector<Variable>& v) { return index_select(v[0], 0, index) * v[1]; },
        {normal64({4, 3}, gen), normal64({5, 1}, gen)});
    CHECK_MESSAGE(r.ok, r.report);
  }
  SUBCASE("dim 1 (non-contiguous result)") {
    const Tensor index = i64({1, 1, 0}, {3});
    const auto r = run_gradchecks(
        [&](const std::vector<Variable>& v) { return index_select(v[0], 1, index) * v[1]; },
        {normal64({2, 3}, gen), normal64({3}, gen)});
    CHECK_MESSAGE(r.ok, r.report);
  }
  SUBCASE("negative dim") {
    const Tensor index = i64({2, 0, 2}, {3});
    const auto r = run_gradchecks(
        [&](const std::vector<Variable>& v) { return index_select(v[0], -1, index); },
        {normal64({2, 2, 3}, gen)});
    CHECK_MESSAGE(r.ok, r.report);
  }
}

TEST_CASE("gradcheck: gather along each dim, with repeated indices") {
  Generator gen(58);
  SUBCASE("dim 0") {
    const Tensor index = i64({0, 2, 2, 1, 0, 0}, {2, 3});
    const auto r = run_gradchecks(
        [&](const std::vector<Variable>& v) { return gather(v[0], 0, index) * v[1]; },
        {normal64({3, 3}, gen), normal64({2, 3}, gen)});
    CHECK_MESSAGE(r.ok, r.report);
  }
  SUBCASE("dim 1") {
    const Tensor index = i64({3, 3, 0, 1, 2, 1, 1, 1}, {2, 4});
    const auto r = run_gradchecks(
        [&](const std::vector<Variable>& v) { return gather(v[0], 1, index) * v[1]; },
        {normal64({2, 4}, gen), normal64({2, 4}, gen)});
    CHECK_MESSAGE(r.ok, r.report);
  }
  SUBCASE("dim -1 of 3-D, index smaller than the input") {
    const Tensor index = i64({1, 0, 0, 0, 1, 1}, {1, 3, 2});
    const auto r =
        run_gradchecks([&](const std::vector<Variable>& v) { return gather(v[0], -1, index); },
                       {normal64({2, 3, 2}, gen)});
    CHECK_MESSAGE(r.ok, r.report);
  }
}

TEST_CASE("gradcheck: indexing ops whose incoming gradient is non-contiguous") {
  // The consumer transposes the result, so gy arrives as a transposed (strided) tensor.
  Generator gen(59);
  SUBCASE("gather") {
    const Tensor index = i64({0, 2, 1, 1, 0, 2}, {2, 3});
    const auto r = run_gradchecks(
        [&](const std::vector<Variable>& v) { return gather(v[0], 1, index).t() * v[1]; },
        {normal64({2, 3}, gen), normal64({3, 2}, gen)});
    CHECK_MESSAGE(r.ok, r.report);
  }
  SUBCASE("index_select") {
    const Tensor index = i64({1, 0, 1}, {3});
    const auto r = run_gradchecks(
        [&](const std::vector<Variable>& v) { return index_select(v[0], 0, index).t() * v[1]; },
        {normal64({2, 2}, gen), normal64({2, 3}, gen)});
    CHECK_MESSAGE(r.ok, r.report);
  }
  SUBCASE("max along a dim") {
    const auto r = run_gradchecks(
        [&](const std::vector<Variable>& v) { return max(v[0], 1).first.unsqueeze(1).t() * v[1]; },
        {normal64({3, 4}, gen), normal64({2, 3}, gen)});
    CHECK_MESSAGE(r.ok, r.report);
  }
}

TEST_CASE("gradcheck: stack of 0-d inputs, chunk along a negative dim, select to 0-d") {
  Generator gen(60);
  SUBCASE("stack of 0-d") {
    const auto r = run_gradchecks(
        [](const std::vector<Variable>& v) {
          return stack({v[0], v[1] * 2.0, v[0]});
        },
        {normal64({}, gen), normal64({}, gen)});
    CHECK_MESSAGE(r.ok, r.report);
  }
  SUBCASE("chunk along -1") {
    const auto r = run_gradchecks(
        [](const std::vector<Variable>& v) {
          const auto pieces = chunk(v[0], 2, -1);
          REQUIRE(pieces.size() == 2);
          return pieces[0] - pieces[1] * 3.0;
        },
        {normal64({3, 4}, gen)});
    CHECK_MESSAGE(r.ok, r.report);
  }
  SUBCASE("select down to 0-d") {
    const auto r = run_gradchecks(
        [](const std::vector<Variable>& v) { return v[0].select(0, 1).select(0, 2) * v[0]; },
        {normal64({2, 3}, gen)});
    CHECK_MESSAGE(r.ok, r.report);
  }
}
