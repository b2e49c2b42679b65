// Temporary input files for tests of the file readers. Each test process writes into its own
// folder (named by its process id) because ctest runs test cases of one binary in parallel.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace seqgrad::testing {

inline std::filesystem::path temp_folder() {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("seqgrad_test_" + std::to_string(static_cast<long>(::getpid())));
  std::filesystem::create_directories(dir);
  return dir;
}

// Writes `text` byte for byte to a file called `name` in this process's folder; returns its path.
inline std::string write_temp(const std::string& name, const std::string& text) {
  const std::filesystem::path p = temp_folder() / name;
  std::ofstream(p, std::ios::binary | std::ios::trunc) << text;
  return p.string();
}

// An empty (removed if present) subfolder `name` of this process's folder, not yet created.
inline std::filesystem::path fresh_folder(const std::string& name) {
  const auto dir = temp_folder() / name;
  std::filesystem::remove_all(dir);
  return dir;
}

// A file's bytes, for comparing two checkpoints byte for byte.
inline std::string file_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace seqgrad::testing
