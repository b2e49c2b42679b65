// Matrix products. For y = a @ b:  da = gy @ b^T,  db = a^T @ gy.
// The transposes are views, so BLAS reads them through its transpose flags, without copies;
// batch dims that were broadcast are summed back by the slots. Written generically, as in
// ops_elementwise.cpp.
#include "autograd/functions.h"
#include "autograd/node.h"

namespace seqgrad {

Variable matmul(const Variable& a, const Variable& b) {
  check(a.dim() >= 1 && b.dim() >= 1,
        "matmul: operands must have at least one dim, got shapes "
        "{} and {}",
        a.shape(), b.shape());
  // Vectors become a row (left) or a column (right), as in torch.matmul.
  if (a.dim() == 1 && b.dim() == 1) {
    // Checked here: otherwise the mismatch is reported by "mul", an op the caller never called.
    check(a.size(0) == b.size(0), "matmul: vectors of shapes {} and {} differ in size", a.shape(),
          b.shape());
    return sum(a * b);
  }
  if (a.dim() == 1) return squeeze(matmul(unsqueeze(a, 0), b), -2);
  if (b.dim() == 1) return squeeze(matmul(a, unsqueeze(b, 1)), -1);
  return record("matmul", matmul(a.value(), b.value()), {a, b},
                [a, b](const auto& gy, auto& dx) {
                  if (dx.needed(0)) dx[0] += matmul(gy, dx.saved(b).transpose(-1, -2));
                  if (dx.needed(1)) dx[1] += matmul(dx.saved(a).transpose(-1, -2), gy);
                },
                {a.value(), b.value()});
}

Variable mm(const Variable& a, const Variable& b) {
  check(a.dim() == 2 && b.dim() == 2, "mm: expects 2-D operands, got shapes {} and {}", a.shape(),
        b.shape());
  // The inner sizes too, so that a mismatch is reported as mm's, not matmul's.
  check(a.size(1) == b.size(0), "mm: shapes {} and {} cannot be multiplied ({} != {})", a.shape(),
        b.shape(), a.size(1), b.size(0));
  return matmul(a, b);
}

Variable bmm(const Variable& a, const Variable& b) {
  // The inner sizes too, so that a mismatch is reported as bmm's, not matmul's.
  check(a.dim() == 3 && b.dim() == 3 && a.size(0) == b.size(0) && a.size(2) == b.size(1),
        "bmm: expects 3-D operands with equal batch sizes and matching inner sizes, got shapes {} "
        "and {}",
        a.shape(), b.shape());
  return matmul(a, b);
}

}  // namespace seqgrad
