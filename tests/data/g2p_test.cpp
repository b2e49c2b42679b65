// g2p data: the FNV-1a hash (published and hand-computed values), parsing a small CMUdict-format
// file (variants, stress, rejected words, malformed lines), WER/PER on a hand-computed example,
// and the split counts of the real dictionary when pocketsphinx-en-us is installed.
#include <doctest/doctest.h>

#include <filesystem>

#include "data/g2p.h"
#include "temp_file.h"

using namespace seqgrad;
using namespace seqgrad::data;
using seqgrad::testing::write_temp;
namespace fs = std::filesystem;

namespace {
// doctest::Contains takes a doctest::String, which copies the characters.
doctest::Contains line3(const std::string& path) {
  return doctest::Contains((path + ":3:").c_str());
}

const G2PEntry* find(const std::vector<G2PEntry>& entries, const std::string& word) {
  for (const auto& e : entries)
    if (e.word == word) return &e;
  return nullptr;
}
}  // namespace

TEST_CASE("g2p: FNV-1a 64 and the split buckets") {
  CHECK(fnv1a64("") == 0xcbf29ce484222325ULL);  // the offset basis
  CHECK(fnv1a64("hello") == 0xa430d84680aabd0bULL);
  CHECK(fnv1a64("hello") % 100 == 91);
  // "a" by hand: h = 0xcbf29ce484222325 ^ 0x61 = 0xcbf29ce484222344, then h * 0x100000001b3 mod
  // 2^64 = (h << 40) + h * 0x1b3 = 0x2223440000000000 + 0x8d40984c8601ec8c (= h * 0x1b3 mod 2^64)
  // = 0xaf63dc4c8601ec8c, which is 12638187200555641996, so bucket 96 (test).
  CHECK(fnv1a64("a") == 0xaf63dc4c8601ec8cULL);
  CHECK(fnv1a64("a") == 12638187200555641996ULL);
  CHECK(fnv1a64("a") % 100 == 96);
}

TEST_CASE("g2p: a small dictionary with variants, stress and rejected words") {
  // Buckets: cat 31 (train), hello 91 and dog 93 (dev), a 96 (test).
  const std::string path = write_temp("small.dict",
                                      "hello HH AH0 L OW1\n"
                                      "a AH0\n"
                                      "a(2) EY1\n"
                                      "a.'s EY1 Z\n"             // punctuation: rejected
                                      "don't D OW1 N T\n"        // apostrophe: rejected
                                      "b2b B IY1 T UW1 B IY1\n"  // digit: rejected
                                      "Cat K AE1 T\n"            // uppercase: rejected
                                      ";;; a comment line\n"
                                      "\n"
                                      "cat  K AE1 T\r\n"  // two spaces, CRLF
                                      "cat(2) K AE2 T\n"  // the same phones once stress is gone
                                      "cat(3) K AA1 T\n"
                                      "dog D AO1 G\n"
                                      "hello(2) HH EH0 L OW1\n");  // a variant after another word
  const G2PData d = load_cmudict(path);
  REQUIRE(d.train.size() == 1);
  REQUIRE(d.dev.size() == 2);
  REQUIRE(d.test.size() == 1);
  CHECK(d.train[0].word == "cat");
  CHECK(d.train[0].pronunciations == std::vector<std::string>{"K AE T", "K AA T"});
  CHECK(d.dev[0].word == "hello");  // order of first appearance
  CHECK(d.dev[0].pronunciations == std::vector<std::string>{"HH AH L OW", "HH EH L OW"});
  CHECK(d.dev[1].word == "dog");
  CHECK(d.dev[1].pronunciations == std::vector<std::string>{"D AO G"});
  CHECK(d.test[0].word == "a");
  CHECK(d.test[0].pronunciations == std::vector<std::string>{"AH", "EY"});

  const auto pairs = g2p_pairs(d.dev);
  REQUIRE(pairs.size() == 3);
  CHECK(pairs[1].source == "hello");
  CHECK(pairs[1].target == "HH EH L OW");
  CHECK(pairs[2].source == "dog");
  CHECK(pairs[2].target == "D AO G");
}

TEST_CASE("g2p: malformed lines and a missing file are errors that say where and what") {
  const auto bad = [](const std::string& name, const std::string& line) {
    return write_temp(name, "cat K AE1 T\ndog D AO1 G\n" + line + "\n");
  };
  const std::string no_phones = bad("no_phones.dict", "bird");
  CHECK_THROWS_WITH_AS(load_cmudict(no_phones), line3(no_phones), Error);
  const std::string variant = bad("variant.dict", "bird(x) B ER1 D");
  CHECK_THROWS_WITH_AS(load_cmudict(variant), line3(variant), Error);
  const std::string open = bad("open.dict", "bird(2 B ER1 D");
  CHECK_THROWS_WITH_AS(load_cmudict(open), line3(open), Error);
  const std::string phone = bad("phone.dict", "bird B XX D");
  CHECK_THROWS_WITH_AS(load_cmudict(phone), line3(phone), Error);
  const std::string stress = bad("stress.dict", "bird B ER7 D");
  CHECK_THROWS_WITH_AS(load_cmudict(stress), line3(stress), Error);
  // A malformed line is an error even for a word that would have been rejected.
  const std::string rejected = bad("rejected.dict", "don't");
  CHECK_THROWS_WITH_AS(load_cmudict(rejected), line3(rejected), Error);
  CHECK_THROWS_WITH_AS(load_cmudict(write_temp("none.dict", "don't D OW1 N T\n")),
                       doctest::Contains("no words"), Error);
  CHECK_THROWS_WITH_AS(load_cmudict("/nonexistent/cmudict.dict"),
                       doctest::Contains("pocketsphinx-en-us"), Error);
}

TEST_CASE("g2p: WER and PER on a hand-computed example") {
  const std::vector<G2PEntry> entries = {
      {"cat", {"K AE T"}},
      {"hello", {"HH AH L OW", "HH EH L OW"}},
      {"and", {"AE N D", "AH N"}},
      {"ok", {"OW K EY"}},
  };
  const std::vector<std::string> outputs = {
      " K  AE T ",     // equal to the only reference: distance 0 of 3
      "HH EH L OW W",  // 2 from the first, 1 from the second: 1 of 4, wrong
      "AH N T",        // 2 from "AE N D", 1 from "AH N": 1 of 2 (the closer, shorter one), wrong
      "",              // 3 deletions: 3 of 3, wrong
  };
  const G2PScore s = score_g2p(entries, outputs);
  CHECK(s.words == 4);
  CHECK(s.wer == doctest::Approx(3.0 / 4.0));
  CHECK(s.per == doctest::Approx(5.0 / 12.0));  // (0 + 1 + 1 + 3) / (3 + 4 + 2 + 3)
  // By word length: "ok" (2 letters), "cat" and "and" (3), "hello" (5).
  REQUIRE(s.by_length.size() == 3);
  CHECK(s.by_length.at(2).words == 1);
  CHECK(s.by_length.at(2).wrong == 1);
  CHECK(s.by_length.at(3).words == 2);
  CHECK(s.by_length.at(3).wrong == 1);
  CHECK(s.by_length.at(3).phone_errors == 1);  // 0 + 1
  CHECK(s.by_length.at(3).phones == 5);        // 3 + 2
  CHECK(s.by_length.at(5).phones == 4);

  // Equal to the second pronunciation is correct.
  const G2PScore second = score_g2p({entries[1]}, {"HH EH L OW"});
  CHECK(second.wer == 0.0);
  CHECK(second.per == 0.0);
  CHECK_THROWS_AS(score_g2p(entries, {"K AE T"}), Error);
}

TEST_CASE("g2p: the real dictionary's split") {
  if (!fs::exists(kCmudictPath)) {
    MESSAGE("skipped: " << std::string(kCmudictPath)
                        << " not found (scripts/deps installs pocketsphinx-en-us)");
    return;
  }
  const G2PData d = load_cmudict(kCmudictPath);
  CHECK(d.train.size() == 105619);
  CHECK(d.dev.size() == 5833);
  CHECK(d.test.size() == 5937);
  CHECK(g2p_pairs(d.train).size() == 112862);
  CHECK(g2p_pairs(d.dev).size() == 6240);
  CHECK(g2p_pairs(d.test).size() == 6339);
  const G2PEntry* hello = find(d.dev, "hello");
  REQUIRE(hello != nullptr);
  CHECK(hello->pronunciations == std::vector<std::string>{"HH AH L OW", "HH EH L OW"});
  CHECK(find(d.train, "hello") == nullptr);
}
