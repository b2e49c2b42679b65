// Checkpoints as safetensors files, the format PyTorch, JAX and the Hugging Face tools all read:
//
//   8 bytes     N, the header length, unsigned little-endian
//   N bytes     JSON: {"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]},
//                      ..., "__metadata__": {"key": "value", ...}}, padded with spaces so that
//                      the data starts at a multiple of 8
//   the rest    raw little-endian tensor data; offsets are relative to the end of the header
//
// Saving writes a temporary file and renames it over the target, so a crash or a full disk never
// leaves a half-written checkpoint where a good one was. Loading validates every length, offset,
// dtype and shape before it returns anything, and loading into a module changes no parameter
// unless the whole file is good.
#pragma once

#include <map>
#include <string>

#include "nn/module.h"

namespace seqgrad::nn {

// Writes `tensors` (F32, F64, I64 or BOOL; in name order) and `metadata` to `path`, atomically:
// the bytes go to `path + ".tmp"`, are flushed to disk, and the temp file is renamed over `path`.
// Throws Error naming the path and the OS error (and removes the temp file) when anything fails.
void save_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

struct SafetensorsFile {
  std::map<std::string, Tensor> tensors;
  std::map<std::string, std::string> metadata;
};

// Reads and validates a whole safetensors file. Any problem (truncation, a bad header, an unknown
// dtype, offsets that overlap, leave gaps or run past the end, trailing bytes, ...) throws Error
// naming the file and the problem. Tensors are allocated only after the header has been checked
// against the file size, so a malicious header cannot make it allocate more than the file holds.
SafetensorsFile load_safetensors(const std::string& path);

// Saves the module's parameters under their dotted names ("0.weight", "encoder.bias_ih"), plus
// `extra` tensors such as optimiser state under names of the caller's choosing (say
// "optim.0.exp_avg"); an extra name that is also a parameter name is an error.
void save(const Module& m, const std::string& path,
          const std::map<std::string, std::string>& metadata = {},
          const std::map<std::string, Tensor>& extra = {});

// Loads a checkpoint written by save() into `m` and returns its metadata. Every parameter must be
// present with its exact shape and dtype. Tensors that are not parameters of `m` are returned in
// `*extra` (replacing its contents) or, when `extra` is null, are an error. When anything is
// wrong, Error is thrown and neither `m` nor `*extra` is changed.
std::map<std::string, std::string> load(Module& m, const std::string& path,
                                        std::map<std::string, Tensor>* extra = nullptr);

}  // namespace seqgrad::nn
