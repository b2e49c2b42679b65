#include "models/cnn.h"

namespace seqgrad::models {

std::shared_ptr<nn::Sequential> make_fashion_cnn(Generator* gen) {
  using namespace nn;
  const DType f = kFloat32;
  return std::make_shared<Sequential>(std::vector<std::shared_ptr<Layer>>{
      // Pooling before the ReLU: max and ReLU commute (both are monotone), so the output and the
      // gradients are those of conv + ReLU + pool, but the ReLU and its backward pass touch a
      // quarter of the values.
      std::make_shared<Conv2d>(1, 32, 3, 1, 1, 1, true, f, gen),
      std::make_shared<MaxPool2d>(2),
      std::make_shared<ReLU>(),
      std::make_shared<Conv2d>(32, 64, 3, 1, 1, 1, true, f, gen),
      std::make_shared<MaxPool2d>(2),
      std::make_shared<ReLU>(),
      std::make_shared<Flatten>(),
      std::make_shared<Linear>(64 * 7 * 7, 128, true, f, gen),
      std::make_shared<ReLU>(),
      std::make_shared<Linear>(128, 10, true, f, gen),
  });
}

}  // namespace seqgrad::models
