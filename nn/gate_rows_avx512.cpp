// The fused recurrent cells' float gate rows (nn/gate_rows.h) compiled for AVX-512, so that their
// sigmoid, tanh and row updates run 16 lanes wide where the baseline build (x86-64-v3) has 8. Each
// function below inlines the header's template into a target region (why a region and not
// -mavx512f for the file: tensor/packed_gemm_kernels.h).
#include "nn/gate_rows.h"

#include "tensor/avx512_region_begin.h"

namespace seqgrad::nn::detail {

namespace {
using F = float;
using I = std::int64_t;

void gru_after(I H, const F* x, F* g, const F* bias, const F* h, F* a, F* h_next, F* y) {
  gru_after_row<F>(H, x, g, bias, h, a, h_next, y);
}
void gru_after_backward(I H, const F* dh, const F* dy, const F* a, const F* g, const F* h,
                        F* dh_prev, F* dgx, F* dgh) {
  gru_after_backward_row<F>(H, dh, dy, a, g, h, dh_prev, dgx, dgh);
}
void gru_before_rz(I H, const F* x, const F* g, const F* bias, const F* h, F* a, F* rh) {
  gru_before_rz_row<F>(H, x, g, bias, h, a, rh);
}
void gru_before_n(I H, const F* x, const F* g, const F* bias, const F* h, F* a, F* h_next, F* y) {
  gru_before_n_row<F>(H, x, g, bias, h, a, h_next, y);
}
void gru_before_zn_backward(I H, const F* dh, const F* dy, const F* a, const F* h, F* dh_prev,
                            F* dgx, F* dgh) {
  gru_before_zn_backward_row<F>(H, dh, dy, a, h, dh_prev, dgx, dgh);
}
void gru_before_r_backward(I H, const F* d_rh, const F* a, const F* h, F* dh_prev, F* dgx, F* dgh) {
  gru_before_r_backward_row<F>(H, d_rh, a, h, dh_prev, dgx, dgh);
}
void lstm(I H, const F* x, const F* bias, const F* c, F* a, F* c_next, F* h_next, F* y) {
  lstm_row<F>(H, x, bias, c, a, c_next, h_next, y);
}
void lstm_backward(I H, const F* dh, const F* dc, const F* dy, const F* a, const F* c,
                   const F* c_next, F* dh_prev, F* dc_prev, F* dg) {
  lstm_backward_row<F>(H, dh, dc, dy, a, c, c_next, dh_prev, dc_prev, dg);
}
void rnn(I H, bool relu, const F* x, const F* bias, F* h_next, F* y) {
  rnn_row<F>(H, relu, x, bias, h_next, y);
}
void rnn_backward(I H, bool relu, const F* dh, const F* dy, const F* h_next, F* dgx, F* dg,
                  F* dh_prev) {
  rnn_backward_row<F>(H, relu, dh, dy, h_next, dgx, dg, dh_prev);
}
}  // namespace

const GateRows<float>& gate_rows_avx512() {
  static constexpr GateRows<float> rows{
      &gru_after,    &gru_after_backward,     &gru_before_rz,
      &gru_before_n, &gru_before_zn_backward, &gru_before_r_backward,
      &lstm,         &lstm_backward,          &rnn,
      &rnn_backward};
  return rows;
}

}  // namespace seqgrad::nn::detail

#include "tensor/avx512_region_end.h"
