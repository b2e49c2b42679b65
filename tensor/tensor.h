// Tensor: an N-d array with shared storage, shape, strides (in elements), offset and dtype.
// Copying a Tensor is cheap and shares the data (like NumPy and PyTorch); clone() copies it.
// Views (reshape, transpose, narrow, expand, ...) never copy. This layer knows nothing of
// gradients: autograd/ builds on it.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <vector>

#include "tensor/dims.h"
#include "tensor/dtype.h"
#include "tensor/storage.h"

namespace seqgrad {

class Tensor {
 public:
  Tensor() = default;  // undefined: no storage; defined() is false
  Tensor(std::shared_ptr<Storage> storage, Dims shape, Dims strides, std::int64_t offset,
         DType dtype);

  // A new, uninitialised, contiguous tensor.
  static Tensor empty(const Dims& shape, DType dtype = kFloat32);

  // --- metadata ---------------------------------------------------------------------------
  bool defined() const { return storage_ != nullptr; }
  const Dims& shape() const { return shape_; }
  const Dims& strides() const { return strides_; }
  int dim() const { return shape_.size(); }
  std::int64_t size(std::int64_t d) const;
  std::int64_t stride(std::int64_t d) const;
  std::int64_t numel() const { return shape_.numel(); }
  std::int64_t offset() const { return offset_; }
  DType dtype() const { return dtype_; }
  bool is_contiguous() const;
  const std::shared_ptr<Storage>& storage() const { return storage_; }
  std::uint64_t version() const { return storage_ ? storage_->version() : 0; }

  // Typed pointer to element [0, 0, ...]. Checks that T matches the dtype.
  template <class T>
  T* data() const {
    check(defined(), "data: the tensor is undefined (default-constructed)");
    check(dtype_of<T>() == dtype_, "data: tensor has dtype {}, asked for {}", dtype_,
          dtype_of<T>());
    return static_cast<T*>(storage_->data()) + offset_;
  }
  void* raw_data() const {
    return static_cast<char*>(storage_->data()) +
           offset_ * static_cast<std::int64_t>(itemsize(dtype_));
  }

  // The value of a one-element tensor, converted to double.
  double item() const;
  // All elements in row-major order, converted to T (handy in tests and printing).
  template <class T>
  std::vector<T> to_vector() const;

  // --- views (no copy) ----------------------------------------------------------------------
  Tensor view(const Dims& shape) const;     // requires compatible strides; one dim may be -1
  Tensor reshape(const Dims& shape) const;  // a view when possible, otherwise a copy
  Tensor flatten() const { return reshape({-1}); }
  Tensor transpose(std::int64_t d0, std::int64_t d1) const;
  Tensor t() const;  // transpose of a 2-D tensor
  Tensor permute(const Dims& order) const;
  Tensor narrow(std::int64_t dim, std::int64_t start, std::int64_t length) const;
  Tensor slice(std::int64_t dim, std::int64_t start, std::int64_t end, std::int64_t step = 1) const;
  Tensor select(std::int64_t dim, std::int64_t index) const;
  Tensor unsqueeze(std::int64_t dim) const;
  Tensor squeeze() const;
  Tensor squeeze(std::int64_t dim) const;
  Tensor expand(const Dims& shape) const;  // -1 keeps a size; size-1 dims get stride 0
  Tensor as_strided(const Dims& shape, const Dims& strides, std::int64_t offset) const;

  // --- copies ---------------------------------------------------------------------------------
  Tensor contiguous() const;  // itself when already contiguous
  Tensor clone() const;       // always a fresh contiguous copy
  Tensor to(DType dtype) const;

  // --- in-place (each bumps the storage's version counter) --------------------------------------
  const Tensor& fill_(double value) const;
  const Tensor& zero_() const { return fill_(0.0); }
  const Tensor& copy_(const Tensor& src) const;  // src broadcasts to this shape; dtype converts
  const Tensor& add_(const Tensor& other, double alpha = 1.0) const;  // this += alpha * other
  const Tensor& sub_(const Tensor& other) const { return add_(other, -1.0); }
  const Tensor& mul_(const Tensor& other) const;
  const Tensor& div_(const Tensor& other) const;
  const Tensor& add_(double value) const;
  const Tensor& mul_(double value) const;
  void bump_version() const { storage_->bump_version(); }

 private:
  std::shared_ptr<Storage> storage_;
  Dims shape_;
  Dims strides_;
  std::int64_t offset_ = 0;
  DType dtype_ = kFloat32;
};

// Checks that a tensor is defined before use; names `op` otherwise.
void check_defined(const Tensor& t, const char* op);

}  // namespace seqgrad
