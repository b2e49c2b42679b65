// Data for the encoder-decoders: tokenisation, vocabularies, batches (hand-built expectations),
// the built-in tasks (targets recomputed independently), TSV errors, and the edit distance.
#include <doctest/doctest.h>

#include <algorithm>
#include <regex>

#include "data/edit_distance.h"
#include "data/tasks.h"
#include "data/tsv.h"
#include "temp_file.h"

using namespace seqgrad;
using namespace seqgrad::data;
using seqgrad::testing::write_temp;

TEST_CASE("seq2seq data: tokens, vocabulary and a batch laid out as the reference does") {
  CHECK(tokenize("héllo", Tokens::Char) == std::vector<std::string>{"h", "é", "l", "l", "o"});
  CHECK(tokenize(" HH  AH0 L ", Tokens::Space) == std::vector<std::string>{"HH", "AH0", "L"});
  const Vocab v = Vocab::build({"ba", "c"}, Tokens::Char);
  CHECK(v.tokens() == std::vector<std::string>{"<pad>", "<s>", "</s>", "<unk>", "a", "b", "c"});
  CHECK(v.id("z") == kUnk);
  const Batch b = make_batch({{"ab", "c"}, {"c", "ab"}}, v, v);
  // src: ids + EOS, PAD after; prev: BOS + target; gold: target + EOS.
  CHECK(b.src.to_vector<std::int64_t>() == std::vector<std::int64_t>{4, 5, 2, 6, 2, 0});
  CHECK(b.src_len == std::vector<std::int64_t>{3, 2});
  CHECK(b.prev.to_vector<std::int64_t>() == std::vector<std::int64_t>{1, 6, 0, 1, 4, 5});
  CHECK(b.gold.to_vector<std::int64_t>() == std::vector<std::int64_t>{6, 2, 0, 4, 5, 2});
  CHECK(b.target_tokens == 5);
  CHECK_THROWS_AS(Vocab(std::vector<std::string>{"a", "b"}), Error);
}

TEST_CASE("seq2seq data: the built-in tasks give what their definitions say") {
  Generator gen(3);
  for (const auto& p : generate_task({"reverse", 3, 6}, 200, gen)) {
    CHECK(std::string(p.source.rbegin(), p.source.rend()) == p.target);
    CHECK(p.source.size() >= 3);
    CHECK(p.source.size() <= 6);
  }
  for (const auto& p : generate_task({"sort", 3, 6}, 100, gen)) {
    std::string s = p.source;
    std::sort(s.begin(), s.end());
    CHECK(s == p.target);
  }
  for (const auto& p : generate_task({"add", 1, 8}, 200, gen)) {
    const auto plus = p.source.find('+');
    REQUIRE(plus != std::string::npos);
    CHECK(std::stoll(p.source.substr(0, plus)) + std::stoll(p.source.substr(plus + 1)) ==
          std::stoll(p.target));
  }
  const std::regex iso(R"(\d{4}-\d{2}-\d{2})");
  for (const auto& p : generate_task({"dates", 5, 20}, 200, gen))
    CHECK(std::regex_match(p.target, iso));
  CHECK(held_out_set({"reverse", 5, 20}, 50)[7].source ==
        held_out_set({"reverse", 5, 20}, 50)[7].source);
  CHECK_THROWS_WITH_AS(generate_task({"revers", 5, 20}, 1, gen), doctest::Contains("unknown task"),
                       Error);
  CHECK_THROWS_WITH_AS(generate_task({"copy", 5, 2}, 1, gen), doctest::Contains("--min-len"),
                       Error);
}

TEST_CASE("seq2seq data: dates carry the right weekday") {
  Generator gen(11);
  const std::regex weekday_form(R"((Mon|Tue|Wed|Thu|Fri|Sat|Sun) \d+ \w{3} \d{4})");
  int checked = 0;
  for (const auto& p : generate_task({"dates", 5, 20}, 20000, gen)) {
    if (!std::regex_match(p.source, weekday_form)) continue;
    // Recompute the weekday with Sakamoto's method, independently of the generator.
    const int y0 = std::stoi(p.target.substr(0, 4)), m = std::stoi(p.target.substr(5, 2)),
              d = std::stoi(p.target.substr(8, 2));
    static const int t[] = {0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4};
    const int y = m < 3 ? y0 - 1 : y0;
    const int dow = (y + y / 4 - y / 100 + y / 400 + t[m - 1] + d) % 7;  // 0 = Sunday
    static const char* names[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    CHECK(p.source.substr(0, 3) == names[dow]);
    ++checked;
  }
  CHECK(checked > 1000);
}

TEST_CASE("seq2seq data: TSV errors name the file and line") {
  CHECK(read_tsv(write_temp("ok.tsv", "ab\tba\n\ncd\tdc\r\n")).size() == 2);
  CHECK_THROWS_WITH_AS(read_tsv(write_temp("bad.tsv", "ab\tba\nno tab here\n")),
                       doctest::Contains("bad.tsv:2: expected source<TAB>target"), Error);
  CHECK_THROWS_WITH_AS(read_tsv(write_temp("two.tsv", "a\tb\tc\n")),
                       doctest::Contains("two.tsv:1:"), Error);
  CHECK_THROWS_WITH_AS(read_tsv(write_temp("empty.tsv", "\n\n")), doctest::Contains("no source"),
                       Error);
  CHECK_THROWS_WITH_AS(read_tsv("/nonexistent/x.tsv"), doctest::Contains("cannot open"), Error);
  // The bytes of the issue's example: 0xff can never appear in UTF-8.
  CHECK_THROWS_WITH_AS(read_tsv(write_temp("latin.tsv",
                                           "ok\tfine\na\xff\xfe"
                                           "b\tc\x80"
                                           "d\n")),
                       doctest::Contains("latin.tsv:2: not valid UTF-8 (byte 0xff at column 2)"),
                       Error);
}

TEST_CASE("seq2seq data: UTF-8 validation follows RFC 3629") {
  const auto npos = std::string_view::npos;
  CHECK(invalid_utf8_at("plain ASCII") == npos);
  CHECK(invalid_utf8_at("h\xc3\xa9llo") == npos);      // é, 2 bytes
  CHECK(invalid_utf8_at("\xe2\x82\xac") == npos);      // €, 3 bytes
  CHECK(invalid_utf8_at("\xf0\x9f\x98\x80") == npos);  // U+1F600, 4 bytes
  CHECK(invalid_utf8_at("\xf4\x8f\xbf\xbf") == npos);  // U+10FFFF, the last code point
  CHECK(invalid_utf8_at("a\xff") == 1);                // never in UTF-8
  CHECK(invalid_utf8_at("a\x80") == 1);                // a continuation byte alone
  CHECK(invalid_utf8_at("\xc0\xaf") == 0);             // overlong '/'
  CHECK(invalid_utf8_at("\xe0\x80\xaf") == 0);         // overlong '/', 3 bytes
  CHECK(invalid_utf8_at("\xed\xa0\x80") == 0);         // U+D800, a surrogate
  CHECK(invalid_utf8_at("\xf4\x90\x80\x80") == 0);     // U+110000, too large
  CHECK(invalid_utf8_at("ok\xe2\x82") == 2);           // cut short
  CHECK(invalid_utf8_at("\xe2\x28\xa1") == 0);         // a bad second byte
}

TEST_CASE("seq2seq data: edit distance") {
  using V = std::vector<std::string>;
  CHECK(edit_distance(V{"k", "i", "t", "t", "e", "n"}, V{"s", "i", "t", "t", "i", "n", "g"}) == 3);
  CHECK(edit_distance(V{}, V{"a", "b"}) == 2);
  CHECK(edit_distance(V{"a"}, V{"a"}) == 0);
}
