// The baseline build of the gate rows (nn/gate_rows.h) and the choice between it and the AVX-512
// build.
#include "nn/gate_rows.h"

#include <type_traits>

#include "tensor/cpu.h"

namespace seqgrad::nn::detail {

namespace {
template <class T>
constexpr GateRows<T> kBaseline{
    &gru_after_row<T>,    &gru_after_backward_row<T>,     &gru_before_rz_row<T>,
    &gru_before_n_row<T>, &gru_before_zn_backward_row<T>, &gru_before_r_backward_row<T>,
    &lstm_row<T>,         &lstm_backward_row<T>,          &rnn_row<T>,
    &rnn_backward_row<T>};
}  // namespace

template <class T>
const GateRows<T>& gate_rows() {
  if constexpr (std::is_same_v<T, float>)
    if (cpu_path() == CpuPath::kAvx512) return gate_rows_avx512();
  return kBaseline<T>;
}
template const GateRows<float>& gate_rows<float>();
template const GateRows<double>& gate_rows<double>();

}  // namespace seqgrad::nn::detail
