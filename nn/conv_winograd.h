// 3x3 "same" convolutions (stride 1, padding 1) by Winograd's minimal filtering F(2x2, 3x3)
// (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2016).
//
// Each 2x2 block of outputs ("tile") is read from a 4x4 block of the input d, and
//   Y = A^T [ sum over input channels of (G g G^T) . (B^T d B) ] A
// where . multiplies element by element. For each of the 16 elements xi of the 4x4 transforms
// the sum over channels is one matrix product, M_xi [OC, tiles] = U_xi [OC, C] @ V_xi [C, tiles],
// so a tile takes 16 * OC * C multiply-adds where im2col + GEMM takes 4 * 9 * OC * C: 2.25x
// fewer. The transforms themselves are additions only (and halves in G).
//
// Used by conv2d (nn/functional_conv.cpp) for the forward pass and for the input gradient, which
// is itself a same convolution of the output gradient (channels swapped, each 3x3 kernel turned
// by 180 degrees). Float32 on the packed kernel only; the results differ from im2col's by float32
// rounding (the transforms add and subtract up to 16 values before the product).
#pragma once

#include <array>
#include <cstdint>

#include "nn/functional.h"
#include "tensor/packed_gemm.h"
#include "tensor/tensor.h"

namespace seqgrad::nn::functional {

// Whether winograd_conv3x3 can compute a convolution of `channels` input channels over a
// height x width image with this kernel and options: float32 with the packed kernel available,
// 3x3, stride 1, padding 1, dilation 1, enough input channels that the 16 products pay (a
// one-channel image, the CNN's first layer, stays on im2col), and an image of at most 64 x 64 (a
// sample's transforms are held whole: 16 x channels x its tiles, 4 MB at 64 channels). The
// environment variable SEQGRAD_WINOGRAD=0 turns it off (read once; for comparisons).
bool winograd_applies(std::int64_t channels, std::int64_t height, std::int64_t width,
                      std::int64_t kh, std::int64_t kw, const Conv2dOptions& options, DType dtype);

// The 16 transformed filters U_xi = G g G^T as the kernel's left operands [OC, C].
class WinogradFilters {
 public:
  // weight [OC, C, 3, 3] float32. With `adjoint`, the filters of the input gradient instead:
  // g'[c][o] = weight[o][c] turned by 180 degrees, so out channels C and in channels OC.
  WinogradFilters(const Tensor& weight, bool adjoint);
  std::int64_t out_channels() const { return out_channels_; }
  std::int64_t in_channels() const { return in_channels_; }
  const PackedRows& u(int xi) const { return u_[static_cast<std::size_t>(xi)]; }

 private:
  std::array<PackedRows, 16> u_;  // arrays, not vectors: no system allocation per step
  std::int64_t out_channels_ = 0, in_channels_ = 0;
};

// y [N, OC, H, W] = the same convolution of x [N, C, H, W] (both float32, contiguous) by the
// filters, plus `bias` [OC] when defined. Samples are split over seqgrad's threads.
void winograd_conv3x3(const Tensor& x, const WinogradFilters& filters, const Tensor& bias,
                      const Tensor& y);

// The weight gradient dW [OC, C, 3, 3] of y = winograd_conv3x3(x, W) for the output gradient
// gy [N, OC, H, W]: by the adjoint of each step, dW = sum over samples and tiles of
// G^T [(A dY A^T) . (B^T d B)] G, the sum over tiles being 16 products
// dU_xi^T [C, OC] += V_xi [C, tiles] @ dM_xi^T [tiles, OC]. x and gy float32, contiguous.
Tensor winograd_weight_grad(const Tensor& x, const Tensor& gy);

}  // namespace seqgrad::nn::functional
