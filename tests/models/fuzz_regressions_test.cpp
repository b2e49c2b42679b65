// Replays the inputs under tests/fuzz/regressions/TARGET/ (hand-made hostile files, and any input
// the fuzzers of tests/fuzz/run.sh ever crashed on) through the same parsers: each must load or be
// rejected with a seqgrad::Error; anything else (another exception, a crash, a sanitizer report
// in the sanitizer build) fails.
#include <doctest/doctest.h>

#include <filesystem>
#include <functional>

#include "data/g2p.h"
#include "data/idx.h"
#include "data/tsv.h"
#include "models/seq2seq_io.h"
#include "nn/checkpoint.h"

using namespace seqgrad;
namespace fs = std::filesystem;

namespace {
void replay(const std::string& target, const std::function<void(const std::string&)>& parse) {
  const fs::path dir = fs::path("fuzz/regressions") / target;
  REQUIRE_MESSAGE(fs::is_directory(dir), dir.string());
  int files = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    ++files;
    const std::string path = entry.path().string();
    bool rejected = false;
    try {
      parse(path);
    } catch (const Error&) {
      rejected = true;
    } catch (const std::exception& e) {
      FAIL_CHECK(path << ": escaped as a non-seqgrad exception: " << e.what());
    }
    MESSAGE(path << (rejected ? ": rejected with an Error" : ": loaded"));
  }
  CHECK(files > 0);
}
}  // namespace

TEST_CASE("fuzz regressions: checkpoints") {
  replay("checkpoint", [](const std::string& p) {
    (void)nn::load_safetensors(p);
    (void)models::load_model(p);
  });
}

TEST_CASE("fuzz regressions: TSV pairs") {
  replay("tsv", [](const std::string& p) {
    for (const data::Pair& pair : data::read_tsv(p)) {
      (void)data::tokenize(pair.source, data::Tokens::Char);
      (void)data::tokenize(pair.target, data::Tokens::Space);
    }
  });
}

TEST_CASE("fuzz regressions: IDX files") {
  replay("idx", [](const std::string& p) { (void)data::parse_idx(data::read_file_bytes(p), p); });
}

TEST_CASE("fuzz regressions: CMU dictionaries") {
  replay("cmudict",
         [](const std::string& p) { (void)data::g2p_pairs(data::load_cmudict(p).train); });
}
