#include "helpers.h"
#include "nn/all.h"

using namespace seqgrad;

TEST_CASE("module: Sequential registers PyTorch-style dotted names") {
  nn::Sequential net({std::make_shared<nn::Linear>(3, 4), std::make_shared<nn::ReLU>(),
                      std::make_shared<nn::Linear>(4, 2)});
  const auto named = net.named_parameters();
  REQUIRE(named.size() == 4);
  CHECK(named[0].first == "0.weight");
  CHECK(named[1].first == "0.bias");
  CHECK(named[2].first == "2.weight");
  CHECK(named[3].first == "2.bias");
  CHECK(net.num_parameters() == 3 * 4 + 4 + 4 * 2 + 2);
}
