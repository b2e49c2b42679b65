// IDX files (the MNIST / Fashion-MNIST format): a 4-byte magic number (two zero bytes, a type
// code, the number of dims), the dims as big-endian 32-bit sizes, then the data. Gzipped files
// (as Debian's dataset-fashion-mnist ships them) are read through the system's gzip.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tensor/all.h"

namespace seqgrad::data {

struct IdxArray {
  Dims shape;
  std::vector<std::uint8_t> values;  // only unsigned-byte IDX files (type code 0x08) are read
};

// Parses an in-memory IDX file; `name` is used in error messages. Validates the magic number,
// the type code, the rank, that the data length matches the dims exactly, and that the product of
// the nonzero dims stays below 2^60 (so that an empty array's strides cannot overflow either).
IdxArray parse_idx(const std::vector<std::uint8_t>& bytes, const std::string& name);

// Reads a file (decompressing it when the name ends in .gz) and parses it.
IdxArray read_idx(const std::string& path);

// All bytes of a file; a .gz file is decompressed with `gzip -dc`.
std::vector<std::uint8_t> read_file_bytes(const std::string& path);

struct ImageDataset {
  Tensor images;  // [N, 1, H, W] float32, scaled to [0, 1] then standardised
  Tensor labels;  // [N] int64
};

// Images and labels from two IDX files; checks the counts agree and labels are < num_classes.
// Pixels v become (v / 255 - mean) / std (std must be positive).
ImageDataset load_image_dataset(const std::string& images_path, const std::string& labels_path,
                                std::int64_t num_classes, double mean, double std);

}  // namespace seqgrad::data
