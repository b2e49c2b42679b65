// Temporary input files for tests of the file readers. Each test process writes into its own
// folder (named by its process id) because ctest runs test cases of one binary in parallel.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <fstream>
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

}  // namespace seqgrad::testing
